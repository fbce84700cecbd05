"""The cross-system vocabulary: one row per (dataset, template id)."""

from __future__ import annotations

import json

from logad.detectors.crosssystem.templates import MultiSystemTemplates


def test_multi_system_templates_never_mix_systems():
    v = MultiSystemTemplates().add("hdfs", {1: "Receiving block <*>", 2: "Deleting block <*>"}).add("bgl", {1: "parity error"})
    assert len(v) == 4
    assert v.encode("hdfs", [1, 2, 9]) == [1, 2, 0]
    assert v.encode("bgl", [1]) == [3]  # template 1 of bgl is not template 1 of hdfs
    assert v.texts[v.row("bgl", 1)] == "parity error"
    back = MultiSystemTemplates.from_dict(json.loads(json.dumps(v.to_dict())))
    assert back.index == v.index and back.texts == v.texts
    assert v.systems() == ["bgl", "hdfs"]


