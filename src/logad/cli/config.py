"""`--config run.toml`: a command's options from a TOML file (read with the standard library).

The file holds the same options as the command's flags, under the flag's name (`data_dir` or
`data-dir`), at the top level or in tables that only organise them; a few names read better in
their table and are accepted there (`[detector] name`, `[grouping] kind/size/step`,
`[threshold] policy`, `[split] name`). Detector parameters go in `[detector.params]`. A flag given
on the command line wins over the file. An unknown key or table is refused with the nearest valid
name: a typo never silently falls back to a default.

    [data]
    dataset = "hdfs"
    data_dir = "~/data/hdfs"

    [grouping]
    kind = "session"

    [detector]
    name = "knn"
    [detector.params]
    n_neighbors = 3

    [threshold]
    policy = "fixed:0.5"
"""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path

from logad.errors import InputError, InvalidParameterError

TABLES = ("data", "grouping", "detector", "split", "threshold", "output")
# (table, key) -> the flag's destination, where the flag's own name reads badly inside the table
ALIASES = {
    ("detector", "name"): "detector",
    ("grouping", "kind"): "group",
    ("grouping", "size"): "window_size",
    ("grouping", "step"): "window_step",
    ("threshold", "policy"): "threshold_policy",
    ("split", "name"): "split",
}
# options that make no sense in a file (they are the file, or describe this one run)
NOT_IN_FILE = {"config", "help", "func", "quiet", "debug"}


def add_config_arg(parser: argparse.ArgumentParser) -> None:
    """Add `--config` (call it after every other option of the command is added)."""
    parser.add_argument("--config", metavar="TOML",
                        help="options from a TOML file (same names as the flags; a flag given here wins)")
    parser.set_defaults(config_options=_options(parser))


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {a.dest: a for a in parser._actions if a.dest not in NOT_IN_FILE and a.dest != argparse.SUPPRESS
            and a.option_strings}


def read_config(path: str | Path, options: dict[str, argparse.Action]) -> tuple[dict, dict]:
    """(option values by destination, detector parameters) from a TOML file; InputError for a file
    that cannot be read, InvalidParameterError for an unknown key or a value of the wrong kind."""
    import tomllib

    p = Path(path)
    if not p.is_file():
        raise InputError(f"config file {str(p)!r} does not exist")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"config file {str(p)!r} is not valid TOML: {exc}") from exc
    values: dict = {}
    params: dict = {}
    valid = sorted(options) + [f"[{t}]" for t in TABLES]
    for key, value in data.items():
        if isinstance(value, dict):
            if key not in TABLES:
                raise _unknown(p, f"[{key}]", valid)
            for sub, v in value.items():
                if key == "detector" and sub == "params":
                    if not isinstance(v, dict):
                        raise InvalidParameterError(f"{p}: [detector.params] must be a table, got {v!r}")
                    params.update(v)
                    continue
                dest = ALIASES.get((key, sub), sub.replace("-", "_"))
                values[dest] = _value(p, f"{key}.{sub}", dest, v, options, valid)
        else:
            dest = key.replace("-", "_")
            values[dest] = _value(p, key, dest, value, options, valid)
    return values, params


def _unknown(path: Path, key: str, valid: list[str]) -> InvalidParameterError:
    table, _, name = key.rpartition(".")
    candidates = [v.strip("[]") for v in valid] + [k for t, k in ALIASES if t == table]
    close = difflib.get_close_matches(name.strip("[]").replace("-", "_"), candidates, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    where = f" in [{table}]" if table else ""
    return InvalidParameterError(f"{path}: unknown key {name!r}{where}{hint}; valid keys: {', '.join(valid)}")


def _value(path: Path, key: str, dest: str, value, options: dict[str, argparse.Action], valid: list[str]):
    """A file value checked and converted as the flag would be."""
    action = options.get(dest)
    if action is None:
        raise _unknown(path, key, valid)
    flag = action.option_strings[-1]
    if isinstance(action, argparse._StoreTrueAction):
        if not isinstance(value, bool):
            raise InvalidParameterError(f"{path}: {key} must be true or false (like {flag}), got {value!r}")
        return value
    if isinstance(action, argparse._AppendAction):
        items = value if isinstance(value, list) else [value]
        return [str(v) for v in items]
    many = action.nargs in ("+", "*") or isinstance(action.nargs, int)
    items = value if isinstance(value, list) else [value]
    if not many and isinstance(value, list):
        raise InvalidParameterError(f"{path}: {key} takes one value (like {flag}), got a list {value!r}")
    if isinstance(action.nargs, int) and len(items) != action.nargs:
        raise InvalidParameterError(f"{path}: {key} takes {action.nargs} values (like {flag}), got {value!r}")
    out = []
    for v in items:
        if isinstance(v, dict | list | bool):
            raise InvalidParameterError(f"{path}: {key} must be a {'number' if action.type else 'string'}, got {v!r}")
        if action.type is not None:
            try:
                v = action.type(v)
            except (TypeError, ValueError):
                raise InvalidParameterError(f"{path}: {key} must be a number (like {flag}), got {v!r}") from None
        else:
            v = str(v)
        if action.choices is not None and v not in action.choices:
            raise InvalidParameterError(
                f"{path}: {key} must be one of {', '.join(map(repr, action.choices))}, got {v!r}")
        out.append(v)
    return out if many else out[0]


def apply_config(args: argparse.Namespace) -> None:
    """Fill every option not given on the command line from `args.config`; the file's detector
    parameters go to `args.config_params` (flags' --param values override them)."""
    options = getattr(args, "config_options", None)
    args.config_params = {}
    if not getattr(args, "config", None) or options is None:
        return
    values, params = read_config(args.config, options)
    for dest, value in values.items():
        if getattr(args, dest, None) == options[dest].default:  # not given on the command line
            setattr(args, dest, value)
    args.config_params = params
