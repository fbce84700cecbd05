"""The leakage audit printed beside every evaluation."""

from __future__ import annotations

from logad.records import Sequence


def audit_split(train: list[Sequence], test: list[Sequence], validation: list[Sequence] | None = None) -> dict:
    """What the test set shares with what the model (and threshold) saw.

    - `shared_lines`: lines that belong both to a training/validation sequence and to a test
      sequence (overlapping windows, or multi-id lines joining sessions on both sides);
    - `identical_sequences`: test sequences whose template sequence also occurs on the fitting side,
      and how many of those carry a different label there (ambiguous duplicates);
    - `unseen_template_share`: share of test sequences holding a template never seen in training.
    """
    fitting = list(train) + list(validation or [])
    fit_lines: set[int] = set()
    for s in fitting:
        fit_lines.update(s.line_nos)
    test_lines: set[int] = set()
    for s in test:
        test_lines.update(s.line_nos)
    shared = len(fit_lines & test_lines)

    fit_keys: dict[tuple[int, ...], set] = {}
    for s in fitting:
        fit_keys.setdefault(s.template_ids, set()).add(s.label)
    identical = 0
    conflicting = 0
    for s in test:
        labels = fit_keys.get(s.template_ids)
        if labels is not None:
            identical += 1
            if s.label is not None and any(lab is not None and lab != s.label for lab in labels):
                conflicting += 1

    seen_templates: set[int] = set()
    for s in train:
        seen_templates.update(s.template_ids)
    unseen = sum(1 for s in test if any(t not in seen_templates for t in s.template_ids))
    n_test = len(test)
    return {
        "shared_lines": shared,
        "test_lines": len(test_lines),
        "identical_sequences": identical,
        "identical_sequences_share": identical / n_test if n_test else 0.0,
        "identical_with_other_label": conflicting,
        "unseen_template_sequences": unseen,
        "unseen_template_share": unseen / n_test if n_test else 0.0,
        "train_sequences": len(train),
        "validation_sequences": len(validation or []),
        "test_sequences": n_test,
    }


def format_audit(audit: dict) -> str:
    """One readable line for the terminal."""
    return (
        f"audit: {audit['shared_lines']} lines shared between train and test; "
        f"{audit['identical_sequences']} test sequences ({audit['identical_sequences_share']:.1%}) identical to a "
        f"training one ({audit['identical_with_other_label']} with another label); "
        f"{audit['unseen_template_share']:.1%} of test sequences hold a template unseen in training"
    )
