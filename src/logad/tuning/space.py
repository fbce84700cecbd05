"""Search spaces written on the command line: `NAME=KIND:ARGS`.

Kinds (values are read as JSON when they parse, like `--param`, else kept as text):

    choice:A,B,C        one of the values, sampled uniformly
    grid:A,B,C          every value (a grid; with --num-samples N each grid point runs N times)
    uniform:LO:HI       a float in [LO, HI]
    loguniform:LO:HI    a float in [LO, HI], uniform in log space (0 < LO)
    randint:LO:HI       an integer in LO..HI, both ends included
    lograndint:LO:HI    an integer in LO..HI, both ends included, uniform in log space (1 <= LO)

Nothing here imports Ray: `Dimension.to_ray(tune)` builds the Ray domain when a search runs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from logad.errors import InvalidParameterError

KINDS: dict[str, str] = {
    "choice": "choice:A,B,C (one of the values)",
    "grid": "grid:A,B,C (every value)",
    "uniform": "uniform:LO:HI (float)",
    "loguniform": "loguniform:LO:HI (float, log scale, LO > 0)",
    "randint": "randint:LO:HI (integer, both ends included)",
    "lograndint": "lograndint:LO:HI (integer, both ends included, log scale, LO >= 1)",
}


def _value(text: str) -> Any:
    """A value as `--param` reads it: JSON when it parses (numbers, true, null), else the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


@dataclass(frozen=True)
class Dimension:
    """One searched parameter: `kind` in KINDS, `values` for choice/grid, `low`/`high` for ranges."""

    name: str
    kind: str
    values: tuple = ()
    low: float | None = None
    high: float | None = None

    @property
    def spec(self) -> str:
        """The text form, `NAME=KIND:ARGS` (what the user typed, normalised)."""
        if self.kind in ("choice", "grid"):
            return f"{self.name}={self.kind}:" + ",".join(json.dumps(v) if not isinstance(v, str) else v for v in self.values)
        return f"{self.name}={self.kind}:{_num(self.low)}:{_num(self.high)}"

    def corners(self) -> list:
        """Values to check before a search starts: every choice, or both ends of a range."""
        if self.kind in ("choice", "grid"):
            return list(self.values)
        if self.kind in ("randint", "lograndint"):
            return [int(self.low), int(self.high)]
        return [float(self.low), float(self.high)]

    def to_ray(self, tune):
        """The Ray Tune domain (the `tune` module is passed in so this module stays Ray-free)."""
        if self.kind == "choice":
            return tune.choice(list(self.values))
        if self.kind == "grid":
            return tune.grid_search(list(self.values))
        if self.kind == "uniform":
            return tune.uniform(float(self.low), float(self.high))
        if self.kind == "loguniform":
            return tune.loguniform(float(self.low), float(self.high))
        # Ray's integer domains exclude the upper bound; ours include it (like random.randint)
        if self.kind == "randint":
            return tune.randint(int(self.low), int(self.high) + 1)
        if self.kind == "lograndint":
            return tune.lograndint(int(self.low), int(self.high) + 1)
        raise InvalidParameterError(f"unknown search kind {self.kind!r}")  # pragma: no cover

    def as_dict(self) -> dict:
        out: dict = {"name": self.name, "kind": self.kind, "spec": self.spec}
        if self.kind in ("choice", "grid"):
            out["values"] = list(self.values)
        else:
            out.update(low=self.low, high=self.high)
        return out


def _num(x) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x)) if abs(x) >= 1 or x == 0 else repr(x)
    return repr(x) if isinstance(x, float) else str(x)


def _number(spec: str, text: str, integer: bool) -> float | int:
    try:
        v = float(text)
    except ValueError:
        raise InvalidParameterError(f"--space {spec!r}: {text!r} is not a number") from None
    if not math.isfinite(v):
        raise InvalidParameterError(f"--space {spec!r}: bounds must be finite, got {text!r}")
    if integer:
        if not v.is_integer():
            raise InvalidParameterError(f"--space {spec!r}: integer bounds expected, got {text!r}")
        return int(v)
    return v


def parse_dimension(spec: str) -> Dimension:
    """Parse `NAME=KIND:ARGS` (see the module docstring); InvalidParameterError on bad input."""
    if not isinstance(spec, str) or "=" not in spec:
        raise InvalidParameterError(f"--space must look like NAME=KIND:ARGS (e.g. hidden=choice:32,64), got {spec!r}")
    name, _, rest = spec.partition("=")
    name = name.strip().replace("-", "_")
    if not name.isidentifier():
        raise InvalidParameterError(f"--space {spec!r}: {name!r} is not a parameter name")
    kind, sep, args = rest.partition(":")
    kind = kind.strip().lower()
    if kind not in KINDS:
        import difflib

        close = difflib.get_close_matches(kind, list(KINDS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InvalidParameterError(
            f"--space {spec!r}: unknown kind {kind!r}{hint}; known: {'; '.join(KINDS.values())}"
        )
    if not sep or not args.strip():
        raise InvalidParameterError(f"--space {spec!r}: {kind} needs arguments: {KINDS[kind]}")
    if kind in ("choice", "grid"):
        parts = [p.strip() for p in args.split(",")]
        if any(p == "" for p in parts):
            raise InvalidParameterError(f"--space {spec!r}: empty value in the list {args!r}")
        values = tuple(_value(p) for p in parts)
        if len(set(map(json.dumps, values))) != len(values):
            raise InvalidParameterError(f"--space {spec!r}: repeated value in {args!r}")
        return Dimension(name, kind, values=values)
    bounds = args.split(":")
    if len(bounds) != 2:
        raise InvalidParameterError(f"--space {spec!r}: {kind} takes two bounds LO:HI, got {args!r}")
    integer = kind in ("randint", "lograndint")
    low, high = (_number(spec, b.strip(), integer) for b in bounds)
    if not low < high:
        raise InvalidParameterError(f"--space {spec!r}: LO must be < HI, got {low} and {high}")
    if kind == "loguniform" and low <= 0:
        raise InvalidParameterError(f"--space {spec!r}: loguniform needs LO > 0, got {low}")
    if kind == "lograndint" and low < 1:
        raise InvalidParameterError(f"--space {spec!r}: lograndint needs LO >= 1, got {low}")
    return Dimension(name, kind, low=low, high=high)


def parse_space(specs: Iterable[str]) -> dict[str, Dimension]:
    """Several `--space` options -> {name: Dimension}; a name given twice is refused."""
    space: dict[str, Dimension] = {}
    for spec in specs:
        dim = parse_dimension(spec)
        if dim.name in space:
            raise InvalidParameterError(f"--space names {dim.name!r} twice: {space[dim.name].spec!r} and {spec!r}")
        space[dim.name] = dim
    if not space:
        raise InvalidParameterError("give at least one --space NAME=KIND:ARGS to search")
    return space


def check_space(detector: str, space: dict[str, Dimension], fixed: dict) -> None:
    """Refuse, before any trial runs, what would fail in every trial.

    Unknown parameter names get `get_detector`'s message (with the valid names); a parameter both
    fixed and searched is refused; every choice and both ends of every range are validated by the
    detector's own `_validate_params`, so `hidden=choice:0,64` fails here, not in a trial.
    """
    from logad.detectors.registry import get_detector

    both = sorted(set(space) & set(fixed))
    if both:
        raise InvalidParameterError(f"{', '.join(map(repr, both))} is both fixed (--param) and searched (--space)")
    # the registry's name check, with every searched and fixed name at once
    get_detector(detector, **{**fixed, **{n: d.corners()[0] for n, d in space.items()}})
    try:
        get_detector(detector, **fixed)._validate_params()
    except InvalidParameterError as exc:
        raise InvalidParameterError(f"--param: {exc}") from None
    for name, dim in space.items():
        for value in dim.corners():
            det = get_detector(detector, **{**fixed, name: value})
            try:
                det._validate_params()
            except InvalidParameterError as exc:
                raise InvalidParameterError(f"--space {dim.spec!r}: value {value!r} is refused: {exc}") from None
