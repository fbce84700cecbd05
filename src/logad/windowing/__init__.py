"""Group parsed lines into sequences: sessions (by identifier or file path, optionally with an
inactivity timeout), per-entity, per-file, count and time windows; batch and streaming."""

from logad.windowing.grouping import (
    GROUPINGS,
    Grouping,
    LineEvent,
    count_windows,
    entity_windows,
    file_windows,
    group_events,
    sessions_by_identifier,
    sessions_by_path,
    time_windows,
)
from logad.windowing.logtime import STAT_KEYS
from logad.windowing.streaming import StreamingWindower

__all__ = [
    "GROUPINGS",
    "STAT_KEYS",
    "Grouping",
    "LineEvent",
    "StreamingWindower",
    "count_windows",
    "entity_windows",
    "file_windows",
    "group_events",
    "sessions_by_identifier",
    "sessions_by_path",
    "time_windows",
]
