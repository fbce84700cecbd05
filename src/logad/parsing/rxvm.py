"""Masking regexes compiled for the compiled core's matcher (`_core.compile_rules`).

Python's `re` is the reference: the core runs a backtracking matcher with the same priorities
(greedy, lazy and possessive repeats, alternatives in order, leftmost match first, lookarounds of
fixed width), on ASCII lines, where `\\d`, `\\w`, `\\s` and `\\b` mean what `re` means on ASCII
text. It is faster because a rule is compiled to a few fixed-size nodes, a position is skipped by
a 256-bit table of the characters a match can start with, and after a failed attempt at the start
of a run of the first repeat's characters the rest of that run is skipped (a match starting later
in the run would also start at its beginning). A pattern outside the supported subset compiles to
None and that rule runs through `re` (the same output, slower).

Node layout (7 ints): (op, a, b, c, d, next, e). Ops:
  CLASS  a=set index, b=min, c=max (-1 = no limit), d=mode (0 greedy, 1 lazy, 2 possessive)
  BRANCH a=index of the first alternative in `alts`, b=count; each alternative ends in a JUMP
  JUMP   next
  REP    a=body, b=min, c=max, d=mode (0 greedy, 1 lazy); the body ends in REPEND(a=REP node)
  REPEND a=REP node
  AT     a=kind (0 start of text, 1 end of text, 2 word boundary, 3 not a word boundary)
  ASSERT a=body, b=kind (0 lookahead, 1 negative lookahead, 2 lookbehind, 3 negative), c=width;
         the body ends in SUCCEED
  SUCCEED, MATCH
"""

from __future__ import annotations

import functools

try:
    import re._constants as _c  # type: ignore[import-not-found]
    import re._parser as _p  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _p  # type: ignore[no-redef]

CLASS, BRANCH, JUMP, REP, REPEND, AT, ASSERT, SUCCEED, MATCH = range(9)
GREEDY, LAZY, POSSESSIVE = 0, 1, 2

_DIGIT = frozenset(range(48, 58))
_WORD = frozenset(list(range(48, 58)) + list(range(65, 91)) + list(range(97, 123)) + [95])
_SPACE = frozenset([9, 10, 11, 12, 13, 28, 29, 30, 31, 32])
_ALL = frozenset(range(128))


class Unsupported(Exception):
    pass


def _category(cat) -> frozenset:
    table = {
        _c.CATEGORY_DIGIT: _DIGIT, _c.CATEGORY_NOT_DIGIT: _ALL - _DIGIT,
        _c.CATEGORY_WORD: _WORD, _c.CATEGORY_NOT_WORD: _ALL - _WORD,
        _c.CATEGORY_SPACE: _SPACE, _c.CATEGORY_NOT_SPACE: _ALL - _SPACE,
    }
    if cat not in table:
        raise Unsupported(f"category {cat}")
    return table[cat]


def _charset(op, av) -> frozenset | None:
    """The ASCII characters one element matches, or None when it is not a single character."""
    if op is _c.LITERAL:
        return frozenset([av]) if av < 128 else frozenset()
    if op is _c.NOT_LITERAL:
        return _ALL - {av}
    if op is _c.ANY:
        return _ALL - {10}
    if op is _c.CATEGORY:
        return _category(av)
    if op is _c.IN:
        out: set[int] = set()
        negate = False
        for iop, iav in av:
            if iop is _c.NEGATE:
                negate = True
            elif iop is _c.LITERAL:
                if iav < 128:
                    out.add(iav)
            elif iop is _c.RANGE:
                lo, hi = iav
                out.update(range(lo, min(hi, 127) + 1))
            elif iop is _c.CATEGORY:
                out |= _category(iav)
            else:
                raise Unsupported(f"set item {iop}")
        return (_ALL - out) if negate else frozenset(out)
    return None


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[list[int]] = []
        self.sets: list[frozenset] = []
        self.alts: list[int] = []

    def node(self, op: int, a=0, b=0, c=0, d=0, nxt=-1, e=0) -> int:
        self.nodes.append([op, a, b, c, d, nxt, e])
        return len(self.nodes) - 1

    def set_index(self, s: frozenset) -> int:
        if s in self.sets:
            return self.sets.index(s)
        self.sets.append(s)
        return len(self.sets) - 1

    def seq(self, items, cont: int) -> int:
        """Emit `items` so that they continue at `cont`; returns the first node."""
        for op, av in reversed(list(items)):
            cont = self.item(op, av, cont)
        return cont

    def item(self, op, av, cont: int) -> int:
        cs = _charset(op, av)
        if cs is not None:
            return self.node(CLASS, self.set_index(cs), 1, 1, GREEDY, cont)
        if op is _c.SUBPATTERN:
            if av[1] or av[2]:  # inline flags inside the group
                raise Unsupported("group flags")
            return self.seq(av[3], cont)
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT) or (hasattr(_c, "POSSESSIVE_REPEAT") and op is _c.POSSESSIVE_REPEAT):
            lo, hi, body = av
            hi = -1 if hi == _c.MAXREPEAT else hi
            mode = GREEDY if op is _c.MAX_REPEAT else (LAZY if op is _c.MIN_REPEAT else POSSESSIVE)
            body = list(body)
            if len(body) == 1:
                cs = _charset(*body[0])
                if cs is not None:
                    return self.node(CLASS, self.set_index(cs), lo, hi, mode, cont)
            if mode == POSSESSIVE:
                raise Unsupported("possessive repeat of a group")
            if _p.SubPattern(_p.State(), body).getwidth()[0] == 0:
                raise Unsupported("repeat of a body that can be empty")
            rep = self.node(REP, 0, lo, hi, mode, cont)
            end = self.node(REPEND, rep)
            self.nodes[rep][1] = self.seq(body, end)
            return rep
        if op is _c.BRANCH:
            _, alternatives = av
            firsts = [self.seq(alt, self.node(JUMP, nxt=cont)) for alt in alternatives]
            start = len(self.alts)
            self.alts.extend(firsts)
            return self.node(BRANCH, start, len(firsts), nxt=cont)
        if op is _c.AT:
            kinds = {_c.AT_BEGINNING: 0, _c.AT_BEGINNING_STRING: 0, _c.AT_END: 1, _c.AT_END_STRING: 1,
                     _c.AT_BOUNDARY: 2, _c.AT_NON_BOUNDARY: 3}
            if av not in kinds:
                raise Unsupported(f"anchor {av}")
            return self.node(AT, kinds[av], nxt=cont)
        if op in (_c.ASSERT, _c.ASSERT_NOT):
            direction, body = av
            neg = op is _c.ASSERT_NOT
            lo, hi = _p.SubPattern(_p.State(), list(body)).getwidth()
            if direction == 1:
                kind, width = (1 if neg else 0), 0
            else:
                if lo != hi:
                    raise Unsupported("lookbehind of variable width")
                kind, width = (3 if neg else 2), lo
            b = self.seq(body, self.node(SUCCEED))
            return self.node(ASSERT, b, kind, width, nxt=cont)
        raise Unsupported(f"element {op}")


def _first(b: _Builder, i: int, seen=None) -> tuple[frozenset, bool]:
    """(characters a match from node i can start with, whether it can be empty from there)."""
    seen = seen or set()
    if i in seen:
        return frozenset(range(128)), True
    seen = seen | {i}
    op, a, lo, hi, mode, nxt, _ = b.nodes[i]
    if op == CLASS:
        s = b.sets[a]
        if lo >= 1:
            return s, False
        rest, empty = _first(b, nxt, seen)
        return s | rest, empty
    if op == JUMP:
        return _first(b, nxt, seen)
    if op == BRANCH:
        out, empty = frozenset(), False
        for k in range(lo):
            s, e = _first(b, b.alts[a + k], seen)
            out |= s
            empty |= e
        return out, empty
    if op == REP:
        s, e = _first(b, a, seen)
        if lo >= 1:
            return s, e
        rest, empty = _first(b, nxt, seen)
        return s | rest, empty
    if op in (AT, ASSERT):  # zero width: what follows decides (conservative)
        return _first(b, nxt, seen)
    return frozenset(range(128)), True  # MATCH, REPEND, SUCCEED: anything


def _auto_possessive(b: _Builder) -> None:
    """Mark (e = 1) a greedy class repeat followed by a class repeat of at least one character
    from a disjoint set: backing off can never let the next one match (it would start on one of
    this repeat's characters), so only the longest take is tried (what `re` finds, faster)."""
    for nd in b.nodes:
        if nd[0] == CLASS and nd[4] == GREEDY and nd[2] != nd[3]:
            nxt = b.nodes[nd[5]] if nd[5] >= 0 else None
            if nxt is not None and nxt[0] == CLASS and nxt[2] >= 1 and not (b.sets[nd[1]] & b.sets[nxt[1]]):
                nd[6] = 1


def _skip_class(b: _Builder, i: int) -> int:
    """Index of the set C when a match from node i must begin with an unbounded repeat C+ of one
    class (then a failed attempt lets the scan skip the rest of a run of C), else -1."""
    op, a, lo, hi, mode, nxt, _ = b.nodes[i]
    if op == CLASS:
        return a if lo >= 1 and hi == -1 else -1
    if op == REP and lo >= 1:
        return _skip_class(b, a)
    return -1


@functools.lru_cache(maxsize=512)
def compile_rule(pattern: str):
    """(nodes, sets, alts, start, first-character table, skip set) for the core, or None when the
    pattern is outside the subset (flags, backreferences, Unicode-only syntax, a match that can be
    empty...)."""
    try:
        tree = _p.parse(pattern)
    except Exception:  # noqa: BLE001
        return None
    if tree.state.flags & ~(_c.SRE_FLAG_UNICODE if hasattr(_c, "SRE_FLAG_UNICODE") else 32):
        return None
    if tree.getwidth()[0] == 0:
        return None  # an empty match: `re.sub` semantics of those are left to `re`
    b = _Builder()
    try:
        start = b.seq(list(tree), b.node(MATCH))
    except (Unsupported, RecursionError):
        return None
    first, empty = _first(b, start)
    if empty:
        return None
    _auto_possessive(b)
    table = bytes(1 if i in first else 0 for i in range(128))
    sets = [bytes(1 if i in s else 0 for i in range(128)) for s in b.sets]
    return (tuple(tuple(n) for n in b.nodes), tuple(sets), tuple(b.alts), start, table, _skip_class(b, start))
