"""Linear-time masking with the drain3.ini example rules, and the tokeniser of the default parser.

Pure-Python reference of the compiled core (`_core.c`): both give the same output, tested on real
and random lines. Why not `re`: the drain3.ini SEQ pattern backtracks exponentially on a long run
of hex characters followed by a letter (80 characters take ~28 s, in Drain3 too), so a hostile or
corrupt line could hang a worker. Each rule below is a scanner that finds, at each start position,
the match Python's backtracking engine would pick, without backtracking:

- ID  ``([0-9a-f]{2,}:){3,}[0-9a-f]{2,}``: runs of >= 2 hex digits joined by ':'; greedy, so the
  longest chain whose last run ends at a word boundary (else one group less, if >= 3 remain);
- IP  ``\\d{1,3}(\\.\\d{1,3}){3}``: four digit runs of 1-3 characters;
- SEQ ``([0-9a-f]{6,} ?){3,}``: runs of >= 6 hex digits separated by single spaces; a run of
  length L can be split into up to L // 6 chunks, so the match ends after the deepest run (or its
  trailing space) that is followed by a boundary and holds >= 3 chunks up to there;
- SEQ ``([0-9A-F]{4} ?){4,}``: the same with chunks of exactly 4 (a run must be a multiple of 4);
- HEX ``0x[0-9a-fA-F]+``, NUM ``[-+]?\\d+``, CMD ``(?<=executed cmd )".+?"``.
All but CMD need a non-alphanumeric character (or the text's edge) on both sides, as
``(?<=[^A-Za-z0-9])|^`` and ``(?=[^A-Za-z0-9])|$`` say. Rules apply in order, each to the output of
the previous one, as Drain3 applies them.
"""

from __future__ import annotations

import re

_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
# maximal runs, matched at a position (C speed); \d is Unicode as in the drain3.ini patterns
_RUN_LHEX = re.compile(r"[0-9a-f]*")
_RUN_UHEX = re.compile(r"[0-9A-F]*")
_RUN_HEX = re.compile(r"[0-9a-fA-F]*")
_RUN_DIG = re.compile(r"\d*")
# candidate start positions: the first character(s) and the left boundary only
_CAND = {
    "ID": re.compile(r"(?<![A-Za-z0-9])[0-9a-f]{2}"),
    "IP": re.compile(r"(?<![A-Za-z0-9])\d"),
    "SEQ1": re.compile(r"(?<![A-Za-z0-9])[0-9a-f]{6}"),
    "SEQ2": re.compile(r"(?<![A-Za-z0-9])[0-9A-F]{4}"),
    "HEX": re.compile(r"(?<![A-Za-z0-9])0x[0-9a-fA-F]"),
    "NUM": re.compile(r"(?<![A-Za-z0-9])[-+]?\d"),
    "CMD": re.compile(r'(?<=executed cmd )"'),
}


def _la(s: str, e: int) -> bool:
    """Right boundary: end of text or a character that is not ASCII alphanumeric."""
    return e >= len(s) or s[e] not in _ALNUM


def _run(rx: re.Pattern, s: str, pos: int) -> int:
    return rx.match(s, pos).end() - pos  # type: ignore[union-attr]


def _id(s: str, p: int) -> int:
    pos, c = p, 0
    while True:
        n = _run(_RUN_LHEX, s, pos)
        if n >= 2 and pos + n < len(s) and s[pos + n] == ":":
            c += 1
            pos += n + 1
        else:
            break
    n = _run(_RUN_LHEX, s, pos)
    if c >= 3 and n >= 2 and _la(s, pos + n):
        return pos + n
    if c >= 4:
        return pos - 1  # one group less: the last run before the final ':'
    return -1


def _digits_then_boundary(s: str, pos: int) -> int:
    """\\d+ (or \\d{1,3}) followed by a boundary: the greedy length that works, else 0."""
    n = _run(_RUN_DIG, s, pos)
    for k in range(n, 0, -1):  # only non-ASCII digits can stop earlier (they are not [A-Za-z0-9])
        if _la(s, pos + k):
            return k
    return 0


def _ip(s: str, p: int) -> int:
    pos = p
    for _ in range(3):
        n = _run(_RUN_DIG, s, pos)
        if not 1 <= n <= 3 or pos + n >= len(s) or s[pos + n] != ".":
            return -1
        pos += n + 1
    n = _run(_RUN_DIG, s, pos)
    for k in range(min(n, 3), 0, -1):
        if _la(s, pos + k):
            return pos + k
    return -1


def _seq(s: str, p: int, rx: re.Pattern, size: int, exact: bool, need: int) -> int:
    ends: list[tuple[int, int]] = []  # (end of run j, chunks available up to run j)
    pos, chunks = p, 0
    while True:
        n = _run(rx, s, pos)
        if n < size or (exact and n % size):
            break
        chunks += n // size
        pos += n
        ends.append((pos, chunks))
        if pos < len(s) and s[pos] == " ":
            pos += 1
        else:
            break
    if not ends:
        return -1
    end, chunks = ends[-1]
    if chunks >= need:
        if end < len(s) and s[end] == " " and _la(s, end + 1):
            return end + 1
        if _la(s, end):
            return end
    for end, chunks in reversed(ends[:-1]):  # followed by a space: always a boundary
        if chunks >= need:
            return end
    return -1


def _hex(s: str, p: int) -> int:
    n = _run(_RUN_HEX, s, p + 2)
    return p + 2 + n if n and _la(s, p + 2 + n) else -1


def _num(s: str, p: int) -> int:
    if s[p] in "-+":
        k = _digits_then_boundary(s, p + 1)
        return p + 1 + k if k else -1
    k = _digits_then_boundary(s, p)
    return p + k if k else -1


def _cmd(s: str, p: int) -> int:
    q = s.find('"', p + 2)
    if q < 0 or "\n" in s[p + 1:q]:
        return -1
    return q + 1


_MATCHERS = {
    "ID": _id,
    "IP": _ip,
    "SEQ1": lambda s, p: _seq(s, p, _RUN_LHEX, 6, False, 3),
    "SEQ2": lambda s, p: _seq(s, p, _RUN_UHEX, 4, True, 4),
    "HEX": _hex,
    "NUM": _num,
    "CMD": _cmd,
}
#: the drain3.ini rules in order: (scanner key, rule name)
DRAIN3_ORDER = (("ID", "ID"), ("IP", "IP"), ("SEQ1", "SEQ"), ("SEQ2", "SEQ"), ("HEX", "HEX"), ("NUM", "NUM"),
                ("CMD", "CMD"))


def matches(kind: str, s: str) -> list[tuple[int, int]]:
    """The (start, end) spans one drain3.ini rule replaces in `s`, left to right."""
    cand, match = _CAND[kind], _MATCHERS[kind]
    out: list[tuple[int, int]] = []
    pos = 0
    while True:
        m = cand.search(s, pos)
        if m is None:
            break
        p = m.start()
        e = match(s, p)
        if e > p:
            out.append((p, e))
            pos = e
        else:
            pos = p + 1
    return out


def _apply(kind: str, s: str, repl: str) -> str:
    spans = matches(kind, s)
    if not spans:
        return s
    out: list[str] = []
    last = 0
    for p, e in spans:
        out.append(s[last:p])
        out.append(repl)
        last = e
    out.append(s[last:])
    return "".join(out)


def mask_drain3(text: str, replacements: tuple[str, ...]) -> str:
    """Apply the seven drain3.ini rules in order; `replacements` holds one text per rule."""
    for (kind, _), repl in zip(DRAIN3_ORDER, replacements):
        text = _apply(kind, text, repl)
    return text


_HAS_DIGIT = re.compile(r"\d")


def skeleton_key(text: str, split_after: str, wildcard: str, placeholders: tuple[str, ...]) -> str:
    """Tokens of a (masked) line joined by single spaces: a space is put after each character of
    `split_after` (``key=value`` -> ``key= value``), then every token holding a digit or a mask
    placeholder becomes `wildcard`."""
    for ch in split_after:
        if ch in text:
            text = text.replace(ch, ch + " ")
    toks = text.split()
    for i, t in enumerate(toks):
        if _HAS_DIGIT.search(t) or any(p in t for p in placeholders):
            toks[i] = wildcard
    return " ".join(toks)
