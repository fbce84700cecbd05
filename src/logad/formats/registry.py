"""The format registry: header layouts of the LogHub systems and user format strings.

A format string is LogPAI-style: `<Field>` names a header field and `<Content>` the message; runs
of spaces match any whitespace. In a user's format string the text between fields is literal
text, unless it holds a backslash: then it is a regular-expression fragment as in LogPAI's
formats (`\\[<Time>\\]`). Every format compiles to one anchored regex, which header.py turns into a
linear-time splitting program with the same result (or, for regex syntax outside its shape, runs
under a per-line time bound).

Time: `time_spec` says declaratively how a format's timestamp is read (``("strptime", fields,
pattern)``: the fields joined by a space, read with a strptime pattern, UTC; ``("float", field)``:
epoch seconds), so whole blocks are read at once (times.py); `time` is the same as a per-line
function of the fields.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from logad.errors import InvalidParameterError, unknown_name


def _strptime(keys: tuple[str, ...], pattern: str) -> Callable[[dict[str, str]], float | None]:
    """Timestamp from header fields joined by a space; cached because many lines share a second."""
    cache: dict[str, float | None] = {}

    def parse(fields: dict[str, str]) -> float | None:
        try:
            text = " ".join(fields[k] for k in keys)
        except KeyError:
            return None
        t = cache.get(text, -1.0)
        if t != -1.0:
            return t
        try:
            t = datetime.strptime(text, pattern).replace(tzinfo=UTC).timestamp()
        except ValueError:
            t = None  # a bad date never fails the read; the line simply has no time
        if len(cache) > 100_000:
            cache.clear()
        cache[text] = t
        return t

    return parse


@dataclass(frozen=True)
class LogFormat:
    """A log layout: header fields, the content field, and how to read time, label and entity."""

    name: str
    header: str
    label_field: str | None = None
    entity_field: str | None = None
    time: Callable[[dict[str, str]], float | None] | None = field(default=None, compare=False, repr=False)
    description: str = ""

    literal: bool = False  # user strings: text between fields is literal (see module doc)
    time_spec: tuple | None = None  # ("strptime", (fields...), pattern) or ("float", field)
    # continuation lines (a Java stack trace, "Container killed on request..."): "any" = every line
    # that does not match the header belongs to the record before it; a regex = the lines it matches
    # do; None = each line is a record (lines not matching are counted as unmatched)
    multiline: str | None = None

    def with_multiline(self, rule: str | None) -> LogFormat:
        """This format with another continuation rule ("any", "none" or a regex; see `multiline`)."""
        import dataclasses

        rule = None if rule in (None, "", "none") else rule
        if rule not in (None, "any"):
            try:
                re.compile(rule)
            except re.error as exc:
                raise InvalidParameterError(f"`--multiline` is not a valid regex: {rule!r} ({exc})") from exc
        return dataclasses.replace(self, multiline=rule)

    @property
    def continuation(self):
        """The continuation rule as a test on a line's text (None: no continuation lines)."""
        if self.multiline is None:
            return None
        if self.multiline == "any":
            return lambda text: True
        from logad.formats.header import bounded_call

        search = re.compile(self.multiline).search
        return lambda text: bounded_call(search, text) is not None  # a user's regex, under a time bound

    def __post_init__(self) -> None:
        if self.time is None and self.time_spec is not None:
            kind = self.time_spec[0]
            if kind == "strptime":
                object.__setattr__(self, "time", _strptime(tuple(self.time_spec[1]), self.time_spec[2]))
            elif kind == "float":
                key = self.time_spec[1]
                object.__setattr__(self, "time", lambda f: _float(f.get(key)))
            else:
                raise InvalidParameterError(f"`time_spec` kind must be 'strptime' or 'float', got {kind!r}")

    @property
    def regex(self) -> re.Pattern:
        return _compile(self.header, self.literal)

    @property
    def splitter(self):
        """The linear-time header splitter of this format (header.py), built once."""
        sp = _SPLITTERS.get((self.header, self.literal))
        if sp is None:
            from logad.formats.header import HeaderSplitter

            sp = _SPLITTERS[(self.header, self.literal)] = HeaderSplitter(self.regex)
        return sp

    @property
    def fields(self) -> list[str]:
        return re.findall(r"<([^<>]+)>", self.header)


_COMPILED: dict[tuple[str, bool], re.Pattern] = {}
_SPLITTERS: dict[tuple[str, bool], object] = {}


def _compile(header: str, literal: bool = False) -> re.Pattern:
    rx = _COMPILED.get((header, literal))
    if rx is not None:
        return rx
    parts = re.split(r"(<[^<>]+>)", header)
    pattern = ""
    names: list[str] = []
    for part in parts:
        if part.startswith("<") and part.endswith(">"):
            name = part[1:-1]
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise InvalidParameterError(f"format field {part!r} is not a valid name")
            if name in names:
                raise InvalidParameterError(f"format field {part!r} appears twice in {header!r}")
            names.append(name)
            pattern += f"(?P<{name}>.*)" if name == "Content" else f"(?P<{name}>.*?)"
        else:
            text = re.escape(part).replace("\\ ", " ") if literal else part
            pattern += re.sub(" +", r"\\s+", text)
    if "Content" not in names:
        raise InvalidParameterError(f"a format string needs a <Content> field, got {header!r}")
    try:
        rx = re.compile("^" + pattern + "$")
    except re.error as exc:
        raise InvalidParameterError(f"format string {header!r} is not a valid pattern: {exc}") from exc
    _COMPILED[(header, literal)] = rx
    return rx


_CFDR = "<Label> <Timestamp> <Date> <User> <Month> <Day> <Time> <Location> <Content>"

FORMATS: dict[str, LogFormat] = {
    f.name: f
    for f in [
        LogFormat("hdfs", "<Date> <Time> <Pid> <Level> <Component>: <Content>",
                  time_spec=("strptime", ("Date", "Time"), "%y%m%d %H%M%S"), description="Hadoop HDFS (LogHub HDFS_v1)"),
        LogFormat("bgl", "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>",
                  label_field="Label", entity_field="Node", time_spec=("float", "Timestamp"), description="Blue Gene/L (CFDR / LogHub)"),
        LogFormat("thunderbird", _CFDR, label_field="Label", entity_field="User", time_spec=("float", "Timestamp"),
                  description="Thunderbird supercomputer (CFDR / LogHub)"),
        LogFormat("spirit", _CFDR, label_field="Label", entity_field="User", time_spec=("float", "Timestamp"),
                  description="Spirit supercomputer (CFDR)"),
        LogFormat("liberty", _CFDR, label_field="Label", entity_field="User", time_spec=("float", "Timestamp"),
                  description="Liberty supercomputer (CFDR)"),
        LogFormat("hadoop", r"<Date> <Time> <Level> \[<Process>\] <Component>: <Content>",
                  time_spec=("strptime", ("Date", "Time"), "%Y-%m-%d %H:%M:%S,%f"), description="Hadoop MapReduce",
                  multiline="any"),
        LogFormat("openstack", r"<Logrecord> <Date> <Time> <Pid> <Level> <Component> \[<ADDR>\] <Content>",
                  time_spec=("strptime", ("Date", "Time"), "%Y-%m-%d %H:%M:%S.%f"), description="OpenStack nova"),
        LogFormat("spark", "<Date> <Time> <Level> <Component>: <Content>",
                  time_spec=("strptime", ("Date", "Time"), "%y/%m/%d %H:%M:%S"), description="Apache Spark", multiline="any"),
        LogFormat("zookeeper", r"<Date> <Time> - <Level>  \[<Node>:<Component>@<Id>\] - <Content>",
                  time_spec=("strptime", ("Date", "Time"), "%Y-%m-%d %H:%M:%S,%f"), description="ZooKeeper",
                  multiline="any"),
        LogFormat("hpc", "<LogId> <Node> <Component> <State> <Time> <Flag> <Content>", entity_field="Node",
                  time_spec=("float", "Time"), description="HPC cluster (LANL)"),
        LogFormat("windows", "<Date> <Time>, <Level>                  <Component>    <Content>",
                  time_spec=("strptime", ("Date", "Time"), "%Y-%m-%d %H:%M:%S"), description="Windows CBS"),
        LogFormat("linux", r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>", description="Linux syslog"),
        LogFormat("android", "<Date> <Time>  <Pid>  <Tid> <Level> <Component>: <Content>", description="Android"),
        LogFormat("healthapp", r"<Time>\|<Component>\|<Pid>\|<Content>", description="HealthApp"),
        LogFormat("apache", r"\[<Time>\] \[<Level>\] <Content>", description="Apache HTTP server error log"),
        LogFormat("proxifier", r"\[<Time>\] <Program> - <Content>", description="Proxifier"),
        LogFormat("openssh", r"<Date> <Day> <Time> <Component> sshd\[<Pid>\]: <Content>", description="OpenSSH"),
        LogFormat("mac", r"<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>",
                  description="macOS"),
    ]
}


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def list_formats() -> list[str]:
    return sorted(FORMATS)


def get_format(name_or_string: str) -> LogFormat:
    """A registered format by lower-case name, or a user format string holding `<Content>`."""
    if not isinstance(name_or_string, str) or not name_or_string.strip():
        raise InvalidParameterError(f"a format name or string is needed, got {name_or_string!r}")
    key = name_or_string.strip().lower()
    if key in FORMATS:
        return FORMATS[key]
    if "<" in name_or_string and ">" in name_or_string:
        literal = "\\" not in name_or_string
        fmt = LogFormat("custom", name_or_string, description="user format string", literal=literal)
        _ = fmt.regex  # validate now: a bad string fails before any file is read
        return fmt
    raise unknown_name("format", name_or_string, list(FORMATS))
