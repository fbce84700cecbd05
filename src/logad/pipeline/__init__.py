"""The path from raw logs (or a public dataset's local copy) to sequences and a split.

This is the glue the CLI, the demo and the experiments use: read -> parse -> group -> split. Each
step is its own stage package; this one only wires them and keeps the reports (unmatched lines,
sessions without a label) so nothing is lost silently. `systems` loads whole systems (sequences,
template texts, and optionally every entry's message) for the cross-system experiments.
"""

from logad.pipeline.datasets import load_dataset, make_split
from logad.pipeline.logs import (
    LoadedLogs,
    default_grouping,
    load_logs,
    load_structured,
    numeric_values,
    parse_events,
    resolve_sequences,
)
from logad.pipeline.systems import EntryData, SystemData, load_system, parse_spec
from logad.windowing.grouping import Grouping

__all__ = ["EntryData", "Grouping", "LoadedLogs", "SystemData", "default_grouping", "load_dataset", "load_logs",
           "load_structured", "load_system", "make_split", "numeric_values", "parse_events", "parse_spec",
           "resolve_sequences"]
