"""Parser accuracy as the LogPAI benchmark and Loghub-2.0 define it."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence

from logad.errors import InvalidParameterError


def grouping_accuracy(truth: Sequence, predicted: Sequence) -> float:
    """GA: a line is correct iff the lines sharing its predicted group are exactly the lines
    sharing its true group (Zhu et al., ICSE-SEIP'19)."""
    if len(truth) != len(predicted):
        raise InvalidParameterError(f"truth has {len(truth)} lines, predictions {len(predicted)}")
    if not truth:
        return 0.0
    true_size = Counter(truth)
    members: dict = defaultdict(list)
    for t, p in zip(truth, predicted):
        members[p].append(t)
    correct = 0
    for lines in members.values():
        kinds = set(lines)
        if len(kinds) == 1 and true_size[lines[0]] == len(lines):
            correct += len(lines)
    return correct / len(truth)


_WILD = re.compile(r"(<\*>|<[A-Z]+>|<:[A-Z]+:>)")


def _normalise(template: str) -> str:
    t = _WILD.sub("<*>", template)
    t = re.sub(r"(<\*>\s*)+<\*>", "<*>", t)  # runs of wildcards count as one
    return " ".join(t.split())


def parsing_accuracy(truth_templates: Sequence[str], predicted_templates: Sequence[str]) -> float:
    """PA: share of lines whose template string is exactly right (wildcard runs normalised)."""
    if not truth_templates:
        return 0.0
    ok = sum(_normalise(a) == _normalise(b) for a, b in zip(truth_templates, predicted_templates))
    return ok / len(truth_templates)


def template_f1(truth_ids: Sequence, predicted_ids: Sequence) -> float:
    """Template-level F1 (Loghub-2.0 FTA-style grouping part): a predicted group is correct when
    it holds exactly the lines of one true template."""
    true_groups: dict = defaultdict(set)
    pred_groups: dict = defaultdict(set)
    for i, (t, p) in enumerate(zip(truth_ids, predicted_ids)):
        true_groups[t].add(i)
        pred_groups[p].add(i)
    true_sets = {frozenset(s) for s in true_groups.values()}
    correct = sum(1 for s in pred_groups.values() if frozenset(s) in true_sets)
    if not correct:
        return 0.0
    precision = correct / len(pred_groups)
    recall = correct / len(true_groups)
    return 2 * precision * recall / (precision + recall)


def template_accuracy_f1(truth_ids: Sequence, truth_templates: Sequence[str], predicted_ids: Sequence,
                         predicted_templates: Sequence[str]) -> float:
    """FTA as Loghub-2.0 defines it: F1 over templates, where a predicted template counts as correct
    when its group holds exactly the lines of one true template AND its text equals that template
    (wildcard runs normalised as in `parsing_accuracy`)."""
    true_groups: dict = defaultdict(set)
    pred_groups: dict = defaultdict(set)
    true_text: dict = {}
    pred_text: dict = {}
    for i, (t, tt, p, pt) in enumerate(zip(truth_ids, truth_templates, predicted_ids, predicted_templates)):
        true_groups[t].add(i)
        pred_groups[p].add(i)
        true_text[t] = tt
        pred_text[p] = pt
    by_set = {frozenset(s): t for t, s in true_groups.items()}
    correct = 0
    for p, s in pred_groups.items():
        t = by_set.get(frozenset(s))
        if t is not None and _normalise(true_text[t]) == _normalise(pred_text[p]):
            correct += 1
    if not correct:
        return 0.0
    precision = correct / len(pred_groups)
    recall = correct / len(true_groups)
    return 2 * precision * recall / (precision + recall)
