"""How a figure was made, in words every figure carries: the protocol, where the threshold came
from, and loud flags on anything that looked at the test labels."""

from __future__ import annotations

from logad.report.svg import fmt

ORACLE = "oracle"  # looked at the test labels: not an honest estimate
WARN = "warn"
NOTE = "note"

POLICY_WORDS = {
    "best-f1-validation": "best F1 on the validation part",
    "train-quantile": "a quantile of normal training/held-out scores",
    "fixed": "a fixed value",
    "alarm-budget": "an alarm budget on out-of-fold scores of the training normals",
    "oracle-on-test": "best F1 on the TEST labels (oracle-on-test)",
}


def threshold_text(info: dict | None) -> str:
    """`0.5: best F1 on the validation part (validation F1 0.978)`; never silent about an oracle."""
    if not info:
        return "no threshold recorded"
    policy = str(info.get("policy", "?"))
    words = POLICY_WORDS.get(policy, policy)
    if policy == "train-quantile" and "q" in info:
        words = f"the {info['q']} quantile of {info.get('scores_from', 'normal training/held-out scores')}"
        if info.get("n_scores") is not None:
            words += f" ({info['n_scores']:,} scores)"
    if policy == "alarm-budget" and isinstance(info.get("budget"), int | float):
        words = f"alarm budget {info['budget']:g}: the conformal {1 - info['budget']:g} quantile of out-of-fold scores"
        if info.get("n_scores") is not None:
            words += f" of {info['n_scores']:,} training normals ({info.get('folds', '?')} models)"
    if policy == "fixed" and info.get("source"):
        words = f"fixed: {info['source']}"
    value = info.get("value")
    head = fmt(value) if isinstance(value, int | float) else "?"
    extra = []
    if info.get("validation_f1") is not None:
        extra.append(f"validation F1 {info['validation_f1']:.3f}")
    if info.get("fallback"):
        extra.append(str(info["fallback"]))
    return f"{head}, {words}" + (f" ({'; '.join(extra)})" if extra else "")


def budget_text(info: dict | None) -> str:
    """`budget 0.01` beside an achieved false-positive rate, when the threshold aimed at a budget."""
    b = (info or {}).get("budget")
    return f"budget {b:g}" if isinstance(b, int | float) and not isinstance(b, bool) else ""


def is_oracle(result: dict) -> bool:
    """Whether any figure of this result was decided with the test labels."""
    thr = result.get("threshold") or {}
    if thr.get("policy") == "oracle-on-test" or result.get("policy") == "oracle-on-test":
        return True
    if (result.get("checkpoint") or {}).get("policy") == "oracle-on-test":
        return True
    return bool(result.get("test_selection"))


def flags(result: dict) -> list[dict]:
    """Warnings for the top of a report and beside its figures: `{"level", "text"}`."""
    out: list[dict] = []
    thr = result.get("threshold") or {}
    if thr.get("policy") == "oracle-on-test":
        out.append({"level": ORACLE, "text": "ORACLE-ON-TEST: the threshold was chosen on the test labels "
                    "(the original paper's protocol). These figures are NOT an honest estimate on new data."})
    if result.get("policy") == "oracle-on-test" or (result.get("checkpoint") or {}).get("policy") == "oracle-on-test":
        out.append({"level": ORACLE, "text": "ORACLE-ON-TEST: the checkpoint (training epoch) was chosen on the "
                    "test labels (the original code's protocol). These figures are NOT an honest estimate."})
    if result.get("test_selection"):
        out.append({"level": ORACLE, "text": f"The test set was selected with its labels: {result['test_selection']}"})
    if thr.get("warning") and thr.get("policy") != "oracle-on-test":
        out.append({"level": WARN, "text": str(thr["warning"])})
    audit = result.get("audit") or {}
    if audit.get("shared_lines"):
        out.append({"level": WARN, "text": f"Leakage: {audit['shared_lines']:,} log lines are in both the "
                    "training and the test part."})
    if audit.get("identical_with_other_label"):
        out.append({"level": WARN, "text": f"{audit['identical_with_other_label']:,} test sequences are identical "
                    "to a training sequence that carries the other label."})
    if result.get("protocol") == "original" and not is_oracle(result):
        out.append({"level": NOTE, "text": "Original protocol: the paper's own split and decision rule "
                    "(a fixed rule; no test label was used)."})
    return out


def protocol_text(result: dict) -> str:
    """`honest protocol, chronological split (train 6,901 / validation 1,150 / test 3,450 sequences)`."""
    counts = result.get("counts") or {}
    split = counts.get("protocol") or (result.get("split") or {}).get("protocol")
    parts = [f"{result.get('protocol', 'honest')} protocol"]
    if split:
        sizes = []
        for part in ("train", "validation", "test"):
            c = counts.get(part)
            if isinstance(c, dict) and "sequences" in c:
                sizes.append(f"{part} {c['sequences']:,}")
        parts.append(f"{split} split" + (f" ({' / '.join(sizes)} sequences)" if sizes else ""))
    return ", ".join(parts)


def caption(result: dict) -> str:
    """What every figure of a test result says under it."""
    text = f"{protocol_text(result)}; threshold {threshold_text(result.get('threshold'))}."
    if is_oracle(result):
        text = "ORACLE-ON-TEST, not an honest estimate. " + text
    return text
