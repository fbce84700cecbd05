"""The SVG figures: data marks drawn and counted, every text escaped, empty data survives."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from logad.report import figures

HOSTILE = '<script>alert("x")</script> & </svg>'


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # well-formed XML, whatever the labels held
    assert root.tag.endswith("svg")
    return root


def marks(svg: str) -> int:
    return int(re.search(r'data-marks="(\d+)"', svg).group(1))


def test_histogram_draws_both_classes_and_the_threshold():
    svg = figures.score_histogram([0, 1, 2, 3], [10, 5, 0], [0, 2, 8], threshold=1.5, threshold_label=HOSTILE)
    root = parse(svg)
    assert marks(svg) == 4  # 2 normal + 2 anomalous non-empty bins
    assert root.get("data-figure") == "histogram"
    assert len(root.findall(".//{http://www.w3.org/2000/svg}rect[@class='mark']")) == 4
    assert 'class="threshold"' in svg
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_curve_chart_marks_the_operating_point():
    svg = figures.curve_chart([{"name": HOSTILE, "x": [0, 0.1, 1], "y": [0, 0.9, 1]}], x_label="fpr", y_label="tpr",
                              label="ROC", kind="roc", x_range=(0, 1), y_range=(0, 1), diagonal=True,
                              point={"x": 0.1, "y": 0.9, "label": "threshold 0.5"})
    parse(svg)
    assert marks(svg) == 3
    assert 'class="threshold"' in svg and "threshold 0.5" in svg


def test_bar_chart_leaves_a_labelled_gap_for_missing_values():
    svg = figures.bar_chart(["F1", "FPR"], [("method", [0.8, 0.1]), ("baseline", [None, 0.2])], label="bars", y_max=1)
    parse(svg)
    assert marks(svg) == 3
    assert "n/a" in svg


def test_heatmap_counts_non_empty_cells_and_links_rows():
    svg = figures.heatmap(["#1 a <*>", HOSTILE], [0, 60, 120, 180], [[1, 0, 5], [0, 0, 2]], label="heat",
                          alarms=[0, 1, 0], row_notes=["", "new"], row_links=["#tpl-1", None])
    parse(svg)
    assert marks(svg) == 3
    assert 'href="#tpl-1"' in svg and "alarm-cell" in svg


def test_timeline_links_alarms_to_their_details():
    svg = figures.alarm_timeline([0, 10, 20], [5, 7], [0, 1], max_scores=[0.1, 0.9], threshold=0.5, label="t",
                                 points=[{"t": 12, "score": 0.9, "tip": HOSTILE, "href": "#alarm-0"}])
    parse(svg)
    assert 'href="#alarm-0"' in svg and "alarm-dot" in svg
    assert marks(svg) == 2 + 1 + 2 + 1  # score line points, the dot, line bars, the alarm bar


def test_scatter_sparkline_and_empty_inputs():
    svg = figures.scatter([{"x": 1, "y": 0.5}, {"x": 10, "y": 0.7}], x_label="k", y_label="f1", label="s", log_x=True,
                          best={"x": 10, "y": 0.7, "label": "best"})
    parse(svg)
    assert marks(svg) == 2 and 'class="best"' in svg
    spark = figures.sparkline([0, 3, 1], marks_at=[1])
    parse(spark)
    assert marks(spark) == 2 and "#c62828" in spark
    for empty in (figures.score_histogram([0, 1], [0], [0]), figures.heatmap([], [0, 1], [], label="e"),
                  figures.curve_chart([], x_label="x", y_label="y", label="c"), figures.scatter([], x_label="x",
                                                                                               y_label="y", label="s")):
        parse(empty)
        assert marks(empty) == 0
