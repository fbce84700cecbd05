import pytest

from logad.parsing.accuracy import grouping_accuracy, parsing_accuracy, template_f1


def test_grouping_accuracy_logpai_definition():
    truth = ["A", "A", "B", "B", "C"]
    assert grouping_accuracy(truth, [1, 1, 2, 2, 3]) == 1.0
    # B split in two: its 2 lines are wrong; A and C right
    assert grouping_accuracy(truth, [1, 1, 2, 4, 3]) == pytest.approx(3 / 5)
    # A and C merged: those 3 lines are wrong
    assert grouping_accuracy(truth, [1, 1, 2, 2, 1]) == pytest.approx(2 / 5)
    with pytest.raises(ValueError):
        grouping_accuracy([1], [1, 2])


def test_parsing_accuracy_normalises_wildcard_runs():
    assert parsing_accuracy(["a <*> <*> b", "x <*>"], ["a <*> b", "x y"]) == 0.5
    assert parsing_accuracy(["open <*>"], ["open <NUM>"]) == 1.0


def test_template_f1():
    assert template_f1(["A", "A", "B"], [1, 1, 2]) == 1.0
    assert template_f1(["A", "A", "B"], [1, 2, 3]) == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    assert template_f1(["A", "B"], [1, 1]) == 0.0


def test_template_accuracy_f1_needs_group_and_text():
    from logad.parsing.accuracy import template_accuracy_f1

    truth, ttext = ["A", "A", "B"], ["x <*>", "x <*>", "y"]
    assert template_accuracy_f1(truth, ttext, [1, 1, 2], ["x <*>", "x <*>", "y"]) == 1.0
    # right groups, one wrong text: 1 of 2 templates correct
    assert template_accuracy_f1(truth, ttext, [1, 1, 2], ["x 1", "x 1", "y"]) == pytest.approx(0.5)
    assert template_accuracy_f1(truth, ttext, [1, 2, 3], ["x <*>", "x <*>", "z"]) == 0.0
