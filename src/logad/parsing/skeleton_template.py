"""A template of the default parser: its tokens (``<*>`` where the lines vary), how many lines it
holds, and the spacing of its first line, so that its text is spelled as the lines are."""

from __future__ import annotations

from logad.parsing.base import WILDCARD


def gaps_of(spans) -> str:
    """Per token boundary of a line: "1" where whitespace separates the two tokens, "0" where the
    tokeniser broke a token after a `split_after` character."""
    return "".join("0" if spans[i][1] == spans[i + 1][0] else "1" for i in range(len(spans) - 1))


class SkeletonTemplate:
    __slots__ = ("tid", "tokens", "size", "text", "wild", "consts", "spec", "gaps")

    def __init__(self, tid: int, tokens: list[str], size: int, gaps: str | None = None) -> None:
        self.tid = tid
        self.tokens = tokens
        self.size = size
        # between token i and i+1 of the first line seen: "1" = a space, "0" = none (a token break
        # the tokeniser put after a `split_after` character): so the text shows the line's own
        # spelling ("time(s)", not "time( s)"); None until a line of it has been seen whole
        self.gaps = gaps if gaps is not None and len(gaps) == max(len(tokens) - 1, 0) else None
        self.refresh()

    def refresh(self) -> None:
        if self.gaps is None:
            self.text = " ".join(self.tokens)
        else:
            self.text = "".join(t + (" " if g == "1" else "") for t, g in zip(self.tokens, self.gaps)) + \
                (self.tokens[-1] if self.tokens else "")
        self.wild = tuple(i for i, t in enumerate(self.tokens) if t == WILDCARD)
        self.consts = tuple((i, t) for i, t in enumerate(self.tokens) if t != WILDCARD)
        self.spec = (len(self.tokens), *self.wild)  # what `_core.params` reads
