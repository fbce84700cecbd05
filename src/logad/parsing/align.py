"""Where each token of a masked line comes from in the raw line: the pure-Python reference of the
compiled core's alignment (both give the same spans; tested).

Masking replaces pieces of a line by placeholders and removal deletes some, so the tokens the
parser groups by are not the raw tokens. To hand out the real values, every character of the
masked text keeps the raw span it stands for: a copied character its own position, a placeholder
the whole raw text its rule matched (`apply`). A token then stands for the raw text from the origin
of its first character to the end of its last one (`tokens`), and a parameter is that raw text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

Origins = tuple[list[int], list[int]]  # per character of a text: raw start, raw end


def identity(text: str) -> Origins:
    """The origins of an unmasked text: each character stands for itself."""
    n = len(text)
    return list(range(n)), list(range(1, n + 1))


def apply(text: str, origins: Origins, spans: Iterable[tuple[int, int]], repl: str) -> tuple[str, Origins]:
    """Replace the (start, end) `spans` of `text` (sorted, disjoint) by `repl`, carrying the origins:
    each character of a replacement stands for the raw text of everything it replaced. A span that
    replaces nothing but is empty stands for an empty raw piece where it is."""
    rs, re_ = origins
    out: list[str] = []
    os_: list[int] = []
    oe: list[int] = []
    last = 0
    n = len(text)
    k = len(repl)
    for s, e in spans:
        out.append(text[last:s])
        os_ += rs[last:s]
        oe += re_[last:s]
        if e > s:
            a, b = rs[s], re_[e - 1]
        else:  # an empty match: where it is in the raw text
            a = b = rs[s] if s < n else (re_[-1] if n else 0)
        out.append(repl)
        os_ += [a] * k
        oe += [b] * k
        last = e
    out.append(text[last:])
    os_ += rs[last:]
    oe += re_[last:]
    return "".join(out), (os_, oe)


# lines on which a masking or removal regex ran out of its time bound (that rule skipped there)
timed_out = 0


def regex_spans(rx: re.Pattern, text: str, seconds: float = 0.05) -> list[tuple[int, int]]:
    """The spans `rx.sub` replaces (the same search: non-overlapping, leftmost, empty matches
    included as `sub` does). The lines that reach `re` are those the compiled matcher gave up on
    (or every line when it is not built), and a rule may come from a state file: it runs under a
    time bound, and a line it cannot finish keeps its text (counted in `timed_out`)."""
    global timed_out
    from logad.formats.header import bounded_call

    found = bounded_call(lambda t: [m.span() for m in rx.finditer(t)], text, seconds)
    if found is None:
        timed_out += 1
        return []
    return found


_TOKEN_RX: dict[str, re.Pattern] = {}


def token_pattern(split_after: str) -> re.Pattern:
    """Tokens as `text.replace(c, c + " ").split()` makes them, for every `c` of `split_after`:
    maximal runs of non-space characters, cut after each split character."""
    rx = _TOKEN_RX.get(split_after)
    if rx is None:
        if split_after:
            cls = "".join(re.escape(c) for c in split_after)
            rx = re.compile(rf"[^\s{cls}]*[{cls}]|[^\s{cls}]+")
        else:
            rx = re.compile(r"\S+")
        _TOKEN_RX[split_after] = rx
    return rx


def tokens(text: str, origins: Origins, split_after: str = "") -> list[tuple[str, int, int, int]]:
    """(token, its start in `text`, raw start, raw end) of each token of a masked text."""
    rs, re_ = origins
    return [(m.group(), m.start(), rs[m.start()], re_[m.end() - 1]) for m in token_pattern(split_after).finditer(text)]


def normalise(text: str, split_after: str = "") -> str:
    """A text as the tokeniser sees its whitespace: a space after each split character, runs of
    whitespace as one space, none at the ends."""
    return " ".join(token_pattern(split_after).findall(text))
