"""Group parsed lines into sequences: sessions by identifier, per-entity, count and time windows."""

from logad.windowing.grouping import (
    GROUPINGS,
    LineEvent,
    count_windows,
    entity_windows,
    group_events,
    sessions_by_identifier,
    time_windows,
)

__all__ = [
    "GROUPINGS",
    "LineEvent",
    "count_windows",
    "entity_windows",
    "group_events",
    "sessions_by_identifier",
    "time_windows",
]
