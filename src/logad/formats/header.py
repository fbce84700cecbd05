"""Header splitting in linear time, with exactly the result of the format's regex.

A format compiles to one anchored regex (registry.py): header fields are lazy `.*?`, the message
`(?P<Content>.*)`, runs of spaces `\\s+`, the rest literal text and optional groups. Run by Python's
backtracking engine that regex is polynomial on a line it does not match (a 200-word line without
": " read as `hdfs` takes over a minute). Here the same regex becomes a small program of states
(`compile_program`) with two ways to run it, both giving the regex's own answer:

- `forward`: at each step the highest-priority choice that works locally (a lazy field ends at the
  first occurrence of what follows it, `\\s+` takes the whole run, an optional group is entered
  when its first literal is there). When this reaches the end, it is the first full match the
  backtracking engine would find (it is the first branch its depth-first search explores), in one
  pass.
- `exact`: when `forward` fails (a line that does not match, or one that needs backtracking), a
  dynamic programme over (state, position) decides right to left which states can still reach the
  end from which positions, then walks left to right taking at each choice the highest-priority
  option that can: the backtracking engine's answer in O(states x length).

A regex outside this shape (a user's format string with other regex syntax) cannot be compiled:
`HeaderSplitter` then runs the regex itself under a per-line time bound and counts the lines that
exceed it (`timed_out`).

The compiled core (`_core.split_block`) runs the same programs on whole blocks of lines.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from dataclasses import dataclass

try:
    import re._constants as _c  # type: ignore[import-not-found]
    import re._parser as _p  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _p  # type: ignore[no-redef]

# state opcodes (the compiled core uses the same numbers)
MARK, LAZY, GREEDY, WS, LIT, SPLIT, MATCH = range(7)


@dataclass(frozen=True)
class Program:
    """A compiled format: `states[i] = (op, arg, next, alt)`. MARK records the position in slot
    `arg` (field f starts in slot 2f, ends in 2f + 1); LAZY / GREEDY skip any text (a field);
    WS consumes a run of whitespace (>= 1, longest first); LIT consumes the text `arg`; SPLIT tries
    `next` then `alt` (an optional group); MATCH accepts at the end of the line."""

    states: tuple[tuple[int, object, int, int], ...]
    fields: tuple[str, ...]


class NotCompilable(Exception):
    """The regex is not of the shape a Program can run."""


def compile_program(pattern: str) -> Program:
    """The Program of an anchored format regex (``^...$`` of fields, whitespace runs, literals and
    optional groups); NotCompilable otherwise. States are numbered so that every state's
    successors come after it (state 0 is the start)."""
    try:
        tree = _p.parse(pattern)
    except Exception as exc:  # noqa: BLE001
        raise NotCompilable(str(exc)) from exc
    if tree.state.flags & (re.IGNORECASE | re.DOTALL | re.MULTILINE | re.VERBOSE):
        raise NotCompilable("flags")
    items = list(tree)
    if len(items) < 2 or items[0] != (_c.AT, _c.AT_BEGINNING) or items[-1] != (_c.AT, _c.AT_END):
        raise NotCompilable("not anchored")
    names = {v: k for k, v in tree.state.groupdict.items()}
    order: list[str] = []

    def collect(nodes) -> None:
        for op, av in nodes:
            if op is _c.SUBPATTERN:
                if av[0] in names and names[av[0]] not in order:
                    order.append(names[av[0]])
                collect(av[3])
            elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
                collect(av[2])

    collect(items)
    index = {name: i for i, name in enumerate(order)}
    states: list[list] = []

    def new(op, arg, nxt, alt=-1) -> int:
        states.append([op, arg, nxt, alt])
        return len(states) - 1

    def comp(nodes, cont: int) -> int:
        nodes = list(nodes)
        i = len(nodes)
        while i > 0:
            i -= 1
            op, av = nodes[i]
            if op is _c.LITERAL:
                j = i
                while j > 0 and nodes[j - 1][0] is _c.LITERAL:
                    j -= 1
                cont = new(LIT, "".join(chr(nodes[t][1]) for t in range(j, i + 1)), cont)
                i = j
            elif op is _c.SUBPATTERN and av[0] in names:
                kind = _is_any(av[3])
                if kind is None:
                    raise NotCompilable(f"field {names[av[0]]!r} is not .*? or .*")
                f = index[names[av[0]]]
                end = new(MARK, 2 * f + 1, cont)
                gap = new(GREEDY if kind else LAZY, None, end)
                cont = new(MARK, 2 * f, gap)
            elif op is _c.SUBPATTERN:
                cont = comp(av[3], cont)
            elif op is _c.MAX_REPEAT and av[0] == 1 and av[1] == _c.MAXREPEAT and _is_space(av[2]):
                cont = new(WS, None, cont)
            elif op is _c.MAX_REPEAT and av[0] == 0 and av[1] == 1:
                body = comp(av[2], cont)
                if body == cont:
                    raise NotCompilable("empty optional group")
                cont = new(SPLIT, None, body, cont)
            else:
                raise NotCompilable(f"unsupported regex element {op}")
        return cont

    start = comp(items[1:-1], new(MATCH, None, -1))
    if "Content" not in index:
        raise NotCompilable("no Content")
    # renumber: a topological order from the start (every edge points to a higher number)
    seen: set[int] = set()
    post: list[int] = []

    def visit(u: int) -> None:
        seen.add(u)
        op, _, nxt, alt = states[u]
        for v in (nxt, alt if op == SPLIT else -1):
            if v >= 0 and v not in seen:
                visit(v)
        post.append(u)

    visit(start)
    topo = post[::-1]
    num = {u: i for i, u in enumerate(topo)}
    out = []
    for u in topo:
        op, arg, nxt, alt = states[u]
        out.append((op, arg, num.get(nxt, -1), num.get(alt, -1) if op == SPLIT else -1))
    return Program(tuple(out), tuple(order))


def _is_any(nodes) -> bool | None:
    """True for ``.*`` (greedy), False for ``.*?`` (lazy), None for anything else."""
    nodes = list(nodes)
    if len(nodes) != 1:
        return None
    op, av = nodes[0]
    if op not in (_c.MAX_REPEAT, _c.MIN_REPEAT) or av[0] != 0 or av[1] != _c.MAXREPEAT:
        return None
    body = list(av[2])
    if body != [(_c.ANY, None)]:
        return None
    return op is _c.MAX_REPEAT


def _is_space(nodes) -> bool:
    nodes = list(nodes)
    return nodes in ([(_c.IN, [(_c.CATEGORY, _c.CATEGORY_SPACE)])], [(_c.CATEGORY, _c.CATEGORY_SPACE)])


# ---------------------------------------------------------------------------- running a program


def _anchors(prog: Program, st: int, path: tuple = ()) -> list[tuple[int, tuple]]:
    """The states that consume (or accept) reachable from `st` through MARK and SPLIT, in priority
    order, each with the MARK / SPLIT states passed on the way."""
    op, _, nxt, alt = prog.states[st]
    if op == MARK:
        return _anchors(prog, nxt, path + (st,))
    if op == SPLIT:
        return _anchors(prog, nxt, path + ((st, 0),)) + _anchors(prog, alt, path + ((st, 1),))
    return [(st, path)]


_ANCHORS: dict[tuple[int, int], list] = {}


def _anchors_of(prog: Program, st: int) -> list:
    key = (id(prog), st)
    a = _ANCHORS.get(key)
    if a is None:
        a = _ANCHORS[key] = _anchors(prog, st)
    return a


_SPACE = re.compile(r"\s")


def forward(prog: Program, s: str) -> list[int] | None:
    """The marks (start, end of each field) by the one-pass rule, or None where it does not reach
    the end (then `exact` decides)."""
    states = prog.states
    marks = [-1] * (2 * len(prog.fields))
    n = len(s)
    pos = 0
    st = 0
    while True:
        op, arg, nxt, alt = states[st]
        if op == MARK:
            marks[arg] = pos  # type: ignore[index]
            st = nxt
        elif op == LIT:
            if not s.startswith(arg, pos):  # type: ignore[arg-type]
                return None
            pos += len(arg)  # type: ignore[arg-type]
            st = nxt
        elif op == WS:
            r = pos
            while r < n and s[r].isspace():
                r += 1
            if r == pos:
                return None
            pos = r
            st = nxt
        elif op == MATCH:
            return marks if pos == n else None
        elif op == SPLIT:  # entered when its first literal is here
            taken = nxt
            for a_st, _ in _anchors_of(prog, nxt):
                a_op, a_arg = states[a_st][0], states[a_st][1]
                ok = (a_op == LIT and s.startswith(a_arg, pos)) or (a_op == WS and pos < n and s[pos].isspace())
                taken = nxt if ok else alt
                break
            st = taken
        elif op == GREEDY:
            anchors = _anchors_of(prog, nxt)
            if states[anchors[0][0]][0] != MATCH:
                return None  # a greedy field before other text: `exact` decides
            pos = n
            st = nxt
        else:  # LAZY: end at the first place where what follows can start
            best = None
            for a_st, path in _anchors_of(prog, nxt):
                q = _find_anchor(states, a_st, s, pos, n)
                if q >= 0 and (best is None or q < best[0]):
                    best = (q, a_st, path)
            if best is None:
                return None
            pos, st, path = best
            for p in path:
                if isinstance(p, int):
                    marks[states[p][1]] = pos  # type: ignore[index]


def _find_anchor(states, st: int, s: str, pos: int, n: int) -> int:
    """The first position >= pos where state `st` and, when it is a literal or a whitespace run
    followed directly by the other kind, that next one too, match (-1: nowhere)."""
    op, arg, nxt, _ = states[st]
    if op == MATCH:
        return n
    if op not in (LIT, WS):
        return pos
    nop, narg = states[nxt][0], states[nxt][1]
    while True:
        if op == LIT:
            q = s.find(arg, pos)  # type: ignore[arg-type]
            if q < 0:
                return -1
            after = q + len(arg)  # type: ignore[arg-type]
        else:
            m = _SPACE.search(s, pos)
            if m is None:
                return -1
            q = after = m.start()
            while after < n and s[after].isspace():
                after += 1
        if nop == LIT and op == WS and not narg[0].isspace() and not s.startswith(narg, after):  # type: ignore[index, arg-type]
            pos = after
            continue
        if nop == WS and op == LIT and not (after < n and s[after].isspace()):
            pos = q + 1
            continue
        return q


def exact(prog: Program, s: str) -> list[int] | None:
    """The marks the backtracking engine would give, in O(states x length), or None (no match)."""
    states = prog.states
    n = len(s)
    k = len(states)
    # run end of whitespace from each position
    space = [c.isspace() for c in s]
    run_end = [0] * (n + 1)
    run_end[n] = n
    for p in range(n - 1, -1, -1):
        run_end[p] = run_end[p + 1] if space[p] else p
    ok: list[list[bool] | None] = [None] * k
    cnt: list[list[int] | None] = [None] * k  # prefix counts of ok, for WS queries

    def get(st: int) -> list[bool]:
        v = ok[st]
        if v is None:
            v = ok[st] = compute(st)
        return v

    def counts(st: int) -> list[int]:
        c = cnt[st]
        if c is None:
            v = get(st)
            c = [0] * (n + 2)
            for p in range(n + 1):
                c[p + 1] = c[p] + v[p]
            cnt[st] = c
        return c

    def compute(st: int) -> list[bool]:
        op, arg, nxt, alt = states[st]
        if op == MATCH:
            return [p == n for p in range(n + 1)]
        if op == MARK:
            return get(nxt)
        if op == SPLIT:
            a, b = get(nxt), get(alt)
            return [x or y for x, y in zip(a, b)]
        if op == LIT:
            nx = get(nxt)
            L = len(arg)  # type: ignore[arg-type]
            return [p + L <= n and nx[p + L] and s.startswith(arg, p) for p in range(n + 1)]  # type: ignore[arg-type]
        if op == WS:
            c = counts(nxt)
            # some r in (p, run_end[p]] with ok[nxt][r]
            return [p < n and space[p] and c[run_end[p] + 1] - c[p + 1] > 0 for p in range(n + 1)]
        nx = get(nxt)  # LAZY / GREEDY: any later position
        out = [False] * (n + 1)
        acc = False
        for p in range(n, -1, -1):
            acc = acc or nx[p]
            out[p] = acc
        return out

    import sys

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * k + 100))
    try:
        for st in range(k - 1, -1, -1):  # states point forward: fill from the back
            get(st)
        if not get(0)[0]:
            return None
        marks = [-1] * (2 * len(prog.fields))
        st, pos = 0, 0
        while True:
            op, arg, nxt, alt = states[st]
            if op == MATCH:
                return marks
            if op == MARK:
                marks[arg] = pos  # type: ignore[index]
                st = nxt
            elif op == SPLIT:
                st = nxt if get(nxt)[pos] else alt
            elif op == LIT:
                pos += len(arg)  # type: ignore[arg-type]
                st = nxt
            elif op == WS:
                nx = get(nxt)
                r = run_end[pos]
                while not nx[r]:
                    r -= 1
                pos = r
                st = nxt
            elif op == LAZY:
                nx = get(nxt)
                while not nx[pos]:
                    pos += 1
                st = nxt
            else:  # GREEDY
                nx = get(nxt)
                q = n
                while not nx[q]:
                    q -= 1
                pos = q
                st = nxt
    finally:
        sys.setrecursionlimit(limit)


_CORE: dict[int, tuple] = {}


def core_program(prog: Program) -> tuple:
    """The program as `_core.split_block` takes it: (states, anchors, first anchor of each SPLIT's
    branch, slots). Built once per program."""
    got = _CORE.get(id(prog))
    if got is not None and got[0] is prog:
        return got[1]
    states = tuple((op, arg if arg is not None else 0, nxt, alt) for op, arg, nxt, alt in prog.states)
    anchors = []
    firsts = []
    for i, (op, _, nxt, _alt) in enumerate(prog.states):
        if op in (LAZY, GREEDY):
            anchors.append(tuple((a, tuple(p for p in path if isinstance(p, int))) for a, path in _anchors_of(prog, nxt)))
        else:
            anchors.append(())
        firsts.append(_anchors_of(prog, nxt)[0][0] if op == SPLIT else -1)
        del i
    out = (states, tuple(anchors), tuple(firsts), 2 * len(prog.fields))
    _CORE[id(prog)] = (prog, out)
    return out


def split(prog: Program, s: str) -> list[int] | None:
    """The marks of a line: `forward`, else `exact`."""
    m = forward(prog, s)
    return m if m is not None else exact(prog, s)


# ---------------------------------------------------------------------------- the regex fallback


class _Timeout(Exception):
    pass


def _alarm(signum, frame):  # pragma: no cover - timing
    raise _Timeout()


def bounded_call(fn, s: str, timeout: float = 0.05, max_chars_off_main: int = 2000):
    """`fn(s)` (a regex's match or search) within `timeout` seconds; None when it takes longer, so a
    regex read from a file or given by a user cannot hang a run on a hostile line. SIGALRM holds
    only in the main thread; elsewhere lines longer than `max_chars_off_main` get None."""
    if threading.current_thread() is not threading.main_thread():
        return None if len(s) > max_chars_off_main else fn(s)
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, timeout)
        return fn(s)
    except _Timeout:
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class HeaderSplitter:
    """Splits lines of one format: the Program when the regex compiles to one, else the regex under
    a per-line time bound (`timeout` seconds; lines over it are not matched and are counted in
    `timed_out`). The bound uses SIGALRM, so it holds in the main thread; in other threads lines
    longer than `unbounded_max_chars` are refused instead (counted the same way)."""

    def __init__(self, regex: re.Pattern, *, timeout: float = 0.05, unbounded_max_chars: int = 2000) -> None:
        self.regex = regex
        self.timeout = timeout
        self.unbounded_max_chars = unbounded_max_chars
        self.timed_out = 0
        try:
            self.program: Program | None = compile_program(regex.pattern)
        except NotCompilable:
            self.program = None
        self.fields = self.program.fields if self.program else tuple(regex.groupindex)

    def marks(self, s: str) -> list[int] | None:
        """(start, end) of every field, flat, in `fields` order; None when the line does not match."""
        if self.program is not None:
            return split(self.program, s)
        m = self._bounded(s)
        if m is None:
            return None
        out = []
        for f in self.fields:
            a, b = m.span(f)
            out += [max(a, 0), max(b, 0)]
        return out

    def _bounded(self, s: str):
        if threading.current_thread() is not threading.main_thread():
            if len(s) > self.unbounded_max_chars:
                self.timed_out += 1
                return None
            return self.regex.match(s)
        old = signal.signal(signal.SIGALRM, _alarm)
        t0 = time.perf_counter()
        try:
            signal.setitimer(signal.ITIMER_REAL, self.timeout)
            return self.regex.match(s)
        except _Timeout:
            self.timed_out += 1
            return None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
            del t0
