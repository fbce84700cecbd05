"""Masking: replace variable parts of a line (ids, IPs, numbers) by placeholders before parsing.

Rules are data: a list of ``{"name": ..., "pattern": ...}`` dicts (saved with the parser state).
`Masker` applies them IN ORDER, each one to the output of the previous one, exactly like Drain3's
`LogMasker` and LogPAI's preprocessing. (A single combined alternation would be faster but is not
equivalent: on ``-1.2.3.4`` an IP rule listed before NUM yields ``-<IP>`` in order, while an
alternation picks NUM at the ``-`` first.)

Speed without changing the output:
- each rule gets a *required literal* derived from its pattern (e.g. ``0x`` for HEX, ``:`` for
  ID); when the text does not contain it, the rule cannot match and its regex is skipped (a C-level
  substring test instead of a regex scan);
- `DRAIN3_EXAMPLE_RULES` writes the drain3.ini patterns in an equivalent form that starts with a
  character class (``[0-9a-f](?<![A-Za-z0-9].)`` instead of ``((?<=[^A-Za-z0-9])|^)``), which lets
  the regex engine skip impossible start positions quickly. `DRAIN3_INI_RULES` holds the original
  text; the tests check both give the same output on real and random lines.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from logad.errors import InvalidParameterError
from logad.formats.header import bounded_call
from logad.parsing import _scan, align

try:  # the optional compiled core (see setup.py); the Python reference gives identical results
    from logad import _core  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the build
    _core = None

log = logging.getLogger(__name__)
RULE_SECONDS = 0.05  # a masking rule's time bound on one line (where `re` runs it)

try:  # the regex parser is private API; without it we only lose the literal pre-check
    import re._parser as _sre_parse  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - Python < 3.11
    try:
        import sre_parse as _sre_parse  # type: ignore[no-redef]
    except ImportError:
        _sre_parse = None


@dataclass(frozen=True)
class MaskingRule:
    """One masking rule: matches of `pattern` become the placeholder of `name` (e.g. ``<NUM>``)."""

    name: str
    pattern: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "pattern": self.pattern}


# The masking instructions of the example drain3.ini in IBM Drain3's repository (ID, IP, SEQ,
# HEX, NUM, CMD), as written there. Given to Drain3 itself in the benchmark.
DRAIN3_INI_RULES: tuple[MaskingRule, ...] = (
    MaskingRule("ID", r"((?<=[^A-Za-z0-9])|^)(([0-9a-f]{2,}:){3,}([0-9a-f]{2,}))((?=[^A-Za-z0-9])|$)"),
    MaskingRule("IP", r"((?<=[^A-Za-z0-9])|^)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})((?=[^A-Za-z0-9])|$)"),
    MaskingRule("SEQ", r"((?<=[^A-Za-z0-9])|^)([0-9a-f]{6,} ?){3,}((?=[^A-Za-z0-9])|$)"),
    MaskingRule("SEQ", r"((?<=[^A-Za-z0-9])|^)([0-9A-F]{4} ?){4,}((?=[^A-Za-z0-9])|$)"),
    MaskingRule("HEX", r"((?<=[^A-Za-z0-9])|^)(0x[a-f0-9A-F]+)((?=[^A-Za-z0-9])|$)"),
    MaskingRule("NUM", r"((?<=[^A-Za-z0-9])|^)([\-\+]?\d+)((?=[^A-Za-z0-9])|$)"),
    MaskingRule("CMD", r"(?<=executed cmd )(\".+?\")"),
)

_B = r"(?<![A-Za-z0-9].)"  # after the first char: "the char before the match is not alphanumeric"
_A = r"(?![A-Za-z0-9])"  # "the char after the match is not alphanumeric (or end of text)"

# The same rules in an equivalent, faster form (same matches, same greedy choices; tested).
DRAIN3_EXAMPLE_RULES: tuple[MaskingRule, ...] = (
    MaskingRule("ID", rf"[0-9a-f]{_B}[0-9a-f]+:(?:[0-9a-f]{{2,}}:){{2,}}[0-9a-f]{{2,}}{_A}"),
    MaskingRule("IP", rf"\d{_B}\d{{0,2}}\.\d{{1,3}}\.\d{{1,3}}\.\d{{1,3}}{_A}"),
    MaskingRule("SEQ", rf"[0-9a-f]{_B}[0-9a-f]{{5,}} ?(?:[0-9a-f]{{6,}} ?){{2,}}{_A}"),
    MaskingRule("SEQ", rf"[0-9A-F]{_B}[0-9A-F]{{3}} ?(?:[0-9A-F]{{4}} ?){{3,}}{_A}"),
    MaskingRule("HEX", rf"0{_B}x[a-f0-9A-F]+{_A}"),
    MaskingRule("NUM", rf"(?:[-+]{_B}\d+|\d{_B}\d*){_A}"),
    MaskingRule("CMD", r"(?<=executed cmd )(\".+?\")"),
)


def rules_from_data(data: Iterable | None) -> tuple[MaskingRule, ...]:
    """Rules from JSON-like data: ``[{"name": ..., "pattern": ...}, ...]``, (name, pattern) pairs
    or MaskingRule objects."""
    rules = []
    for i, item in enumerate(data or ()):
        if isinstance(item, MaskingRule):
            rules.append(item)
        elif isinstance(item, dict) and {"name", "pattern"} <= set(item):
            rules.append(MaskingRule(str(item["name"]), str(item["pattern"])))
        elif isinstance(item, list | tuple) and len(item) == 2:
            rules.append(MaskingRule(str(item[0]), str(item[1])))
        else:
            raise InvalidParameterError(f"masking rule {i} must have a name and a pattern, got {item!r}")
    return tuple(rules)


@functools.lru_cache(maxsize=1024)
def required_literal(pattern: str) -> str | None:
    """The longest literal text every match of `pattern` must contain (or be preceded by, for a
    positive lookbehind), or None. Used as a cheap `in` pre-check; None disables it. Cached: a
    pure function of the pattern, and parsing patterns dominated making a parser for a small file."""
    if _sre_parse is None:
        return None
    try:
        parsed = _sre_parse.parse(pattern)
    except Exception:  # noqa: BLE001 - a pre-check is optional
        return None
    consts = _sre_parse  # opcodes live in the parser module's namespace
    found: list[str] = []

    def walk(seq) -> None:
        run: list[str] = []

        def flush() -> None:
            if run:
                found.append("".join(run))
                run.clear()

        for op, av in seq:
            if op is consts.LITERAL:
                run.append(chr(av))
                continue
            if op is consts.ASSERT_NOT or op is consts.AT:  # zero width: the literal run goes on
                continue
            flush()
            if op is consts.SUBPATTERN:
                walk(av[-1])
            elif op in (consts.MAX_REPEAT, consts.MIN_REPEAT) and av[0] >= 1:
                walk(av[2])
            elif op is consts.ASSERT and av[0] == -1:  # positive lookbehind: text is there too
                walk(av[1])
        flush()

    try:
        walk(parsed)
    except Exception:  # noqa: BLE001
        return None
    if parsed.state.flags & re.IGNORECASE:
        return None
    return max(found, key=len) if found else None


class Masker:
    """Applies masking rules in order. Placeholders are ``prefix + name + suffix`` (``<NUM>`` by
    default, ``<:NUM:>`` with Drain3's example prefix/suffix), or one fixed `placeholder` for every
    rule (``"<*>"``: LogPAI style)."""

    def __init__(
        self,
        rules: Iterable = (),
        *,
        prefix: str = "<",
        suffix: str = ">",
        placeholder: str | None = None,
    ) -> None:
        self.rules = rules_from_data(rules)
        self.timed_out = 0  # lines a rule could not mask within RULE_SECONDS (the rule skipped there)
        self.prefix, self.suffix, self.placeholder = prefix, suffix, placeholder
        steps = []
        compiled = []
        for r in self.rules:
            try:
                rx = re.compile(r.pattern)
            except re.error as exc:
                raise InvalidParameterError(f"masking rule {r.name!r} has a bad pattern {r.pattern!r}: {exc}") from exc
            # a replacement *string* (no callback): backslashes must not be read as group refs
            steps.append((rx.sub, self.mask_text(r.name).replace("\\", "\\\\"), required_literal(r.pattern)))
            compiled.append((rx, self.mask_text(r.name), required_literal(r.pattern)))
        self._steps = tuple(steps)
        self._compiled = tuple(compiled)
        # the drain3.ini rule set (either spelling) runs in the linear-time scanner of _scan.py /
        # the compiled core instead of `re`: same output, no exponential backtracking, faster
        pats = [r.pattern for r in self.rules]
        self._drain3: tuple[str, ...] | None = None
        if pats in ([r.pattern for r in DRAIN3_INI_RULES], [r.pattern for r in DRAIN3_EXAMPLE_RULES]):
            self._drain3 = tuple(self.mask_text(r.name) for r in self.rules)
        #: the placeholder strings this masker writes (the parser treats tokens holding one as parameters)
        self.placeholders: tuple[str, ...] = tuple(dict.fromkeys(self.mask_text(r.name) for r in self.rules))

    def mask_text(self, name: str) -> str:
        """The placeholder written for rule `name`."""
        return self.placeholder if self.placeholder is not None else f"{self.prefix}{name}{self.suffix}"

    def __call__(self, text: str) -> str:
        if self._drain3 is not None:
            if _core is not None:
                out = _core.mask_drain3(text, self._drain3)
                if out is not None:  # None: not ASCII, the Python reference handles it
                    return out
            return _scan.mask_drain3(text, self._drain3)
        for sub, repl, lit in self._steps:
            if lit is None or lit in text:  # cheap skip: the rule cannot match without its literal
                # the lines that reach `re` here are those the compiled matcher gave up on (or any
                # line when it is not built): a rule read from a state file must not hang a run
                masked = bounded_call(lambda t, sub=sub, repl=repl: sub(repl, t), text, RULE_SECONDS)
                if masked is None:
                    self.timed_out += 1  # this rule is skipped on this line; the line still parses
                else:
                    text = masked
        return text

    def core_rules(self, remove: tuple[str, ...] = (), delimiters: tuple[str, ...] = ()):
        """These rules, then `remove` patterns (deleted) and `delimiters` (made spaces), compiled for
        the compiled core (`_core.keys_spans`, `_core.tokens_spans`); None when the core is not
        built or a pattern is outside what it runs (then the Python reference does the work).
        Built once per argument set."""
        key = (tuple(remove), tuple(delimiters))
        cache = self.__dict__.setdefault("_core_cache", {})
        if key in cache:
            return cache[key]
        cache[key] = out = self._build_core_rules(*key)
        return out

    def _build_core_rules(self, remove: tuple[str, ...], delimiters: tuple[str, ...]):
        if _core is None or not hasattr(_core, "compile_rules"):
            return None
        from logad.parsing.rxvm import compile_rule

        steps: list[tuple] = []
        if self._drain3 is not None:
            steps += [("drain3", i, repl) for i, repl in enumerate(self._drain3)]
        else:
            for r in self.rules:
                spec = compile_rule(r.pattern)
                if spec is None:
                    return None
                steps.append(("rx", spec, self.mask_text(r.name)))
        for pattern in remove:
            spec = compile_rule(pattern)
            if spec is None:
                return None
            steps.append(("rx", spec, ""))
        steps += [("literal", d, " ") for d in delimiters]
        if not all(str(x[2]).isascii() for x in steps) or not all(str(d).isascii() for d in delimiters):
            return None
        return _core.compile_rules(steps)

    def mask_aligned(self, text: str, origins: align.Origins | None = None) -> tuple[str, align.Origins]:
        """The masked text (as `__call__` gives it) and, per character, the raw span it stands for
        (see align.py): what real parameter values are cut from."""
        if origins is None:
            origins = align.identity(text)
        if self._drain3 is not None:
            for (kind, _), repl in zip(_scan.DRAIN3_ORDER, self._drain3):
                spans = _scan.matches(kind, text)
                if spans:
                    text, origins = align.apply(text, origins, spans, repl)
            return text, origins
        for rx, repl, lit in self._compiled:
            if lit is None or lit in text:
                spans = align.regex_spans(rx, text)
                if spans:
                    text, origins = align.apply(text, origins, spans, repl)
        return text, origins

    def to_dict(self) -> dict:
        return {
            "rules": [r.to_dict() for r in self.rules],
            "prefix": self.prefix,
            "suffix": self.suffix,
            "placeholder": self.placeholder,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Masker:
        return cls(d.get("rules", ()), prefix=d.get("prefix", "<"), suffix=d.get("suffix", ">"),
                   placeholder=d.get("placeholder"))
