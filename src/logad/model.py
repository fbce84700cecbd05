"""A trained model for a user's own logs: parser state + grouping + detector + threshold.

`logad train` learns from a period of normal operation; `logad detect` flags new logs with it.
The folder holds JSON and the detector's own non-pickle files, so loading runs no foreign code.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from logad.errors import InputError, InvalidParameterError
from logad.progress import SILENT, Progress

MODEL_KIND = "logad-model"
MODEL_VERSION = 1


@dataclass
class TrainedModel:
    """What `logad train` saves: how to read, parse and group the logs, and the fitted detector.

    The threshold lives in the detector (`detector.threshold_`, saved in its folder); the model
    keeps only how it was chosen (`threshold_info`)."""

    format_name: str
    grouping: dict
    detector: object
    parser: object
    threshold_info: dict
    event_ids: dict[str, int] | None = None  # models trained on structured CSVs (no parser)

    @property
    def structured(self) -> bool:
        return self.parser is None

    @property
    def threshold(self) -> float:
        return self.detector.threshold_

    def save(self, directory: str | Path) -> Path:
        """Write the model folder as a whole (a kill at any moment leaves the old or the new one)."""
        from logad import __version__
        from logad.io import atomic_folder

        if self.threshold is None:
            raise InvalidParameterError("the detector has no threshold_; a model is saved after its threshold is set")
        with atomic_folder(directory) as tmp:
            if self.parser is not None:
                self.parser.save(tmp / "parser.json")
            else:
                (tmp / "event_ids.json").write_text(json.dumps(self.event_ids or {}) + "\n", encoding="utf-8")
            self.detector.save(tmp / "detector")
            meta = {
                "kind": MODEL_KIND,
                "version": MODEL_VERSION,
                "logad_version": __version__,
                "format": self.format_name,
                "grouping": self.grouping,
                "detector": self.detector.name,
                "threshold_info": self.threshold_info,
            }
            (tmp / "model.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return Path(directory)

    @classmethod
    def load(cls, directory: str | Path) -> TrainedModel:
        from logad.detectors.persistence import read_json_file
        from logad.detectors.registry import detector_class
        from logad.parsing.state import load_parser

        directory = Path(directory)
        if not (directory / "model.json").is_file():
            raise InputError(f"{directory} is not a logad model folder (no model.json)")
        meta = read_json_file(directory / "model.json", "model")
        if not isinstance(meta, dict) or meta.get("kind") != MODEL_KIND:
            found = meta.get("kind") if isinstance(meta, dict) else f"a JSON {type(meta).__name__}"
            raise InputError(f"{directory} holds {found!r}, not a {MODEL_KIND} folder")
        if meta.get("version") != MODEL_VERSION:
            raise InputError(f"{directory} is a version {meta.get('version')!r} model; this logad reads version {MODEL_VERSION}")
        for key, kind in (("detector", str), ("format", str), ("grouping", dict)):
            if not isinstance(meta.get(key), kind):
                raise InputError(f"{directory}/model.json: {key!r} is missing or not a {kind.__name__}")
        if not isinstance(meta["grouping"].get("kind"), str):
            raise InputError(f"{directory}/model.json: the grouping has no 'kind'")
        detector = detector_class(meta["detector"]).load(directory / "detector")
        if detector.threshold_ is None:  # older models kept the threshold in model.json only
            from logad.detectors.base import check_threshold

            detector.threshold_ = check_threshold(meta.get("threshold"), f"{directory}/model.json")
        if detector.threshold_ is None:
            raise InputError(f"{directory}: the model has no threshold")
        info = meta.get("threshold_info") if isinstance(meta.get("threshold_info"), dict) else {}
        if meta["format"] == "structured":
            event_ids = read_json_file(directory / "event_ids.json", "model")
            if not isinstance(event_ids, dict):
                raise InputError(f"{directory}/event_ids.json is not a table of event ids")
            try:
                ids = {str(k): int(v) for k, v in event_ids.items()}
            except (TypeError, ValueError) as exc:
                raise InputError(f"{directory}/event_ids.json is corrupt: {exc}") from exc
            return cls("structured", meta["grouping"], detector, None, info, ids)
        parser = load_parser(directory / "parser.json")
        return cls(meta["format"], meta["grouping"], detector, parser, info)

    def _grouping(self):
        from logad.windowing.grouping import Grouping

        described = {k: v for k, v in self.grouping.items() if k != "from"}  # "from": a note, not a setting
        try:
            return Grouping.from_dict(described)
        except InvalidParameterError as exc:
            raise InputError(f"the model's grouping {self.grouping!r} cannot be used: {exc}") from exc

    def detect(self, files: list[str], out: str | Path, progress: Progress = SILENT) -> dict:
        """Score every sequence of the new logs; write all of them with an `alarm` column."""
        seqs, templates, id_to_event = self.load_sequences(files, progress)
        scores = self.detector.score(seqs) if seqs else np.zeros(0)
        return self.write_results(seqs, scores, templates, out, id_to_event)

    def load_sequences(self, files: list[str], progress: Progress = SILENT) -> tuple[list, dict, dict]:
        """(sequences, template texts, EventId by template id for structured models) of new logs."""
        from logad.pipeline import load_logs, load_structured

        if self.structured:
            loaded = load_structured(files, grouping=self._grouping(), event_ids=self.event_ids, learn=False, progress=progress)
            return loaded.sequences, loaded.templates, {v: k for k, v in (self.event_ids or {}).items()}
        loaded = load_logs(
            files, format=self.format_name, grouping=self._grouping(), parser=self.parser, learn=False,
            progress=progress, with_values=self.detector.needs_line_values(),
        )
        return loaded.sequences, self.parser.templates, {}

    def write_results(self, seqs: list, scores, templates: dict, out: str | Path, id_to_event: dict | None = None) -> dict:
        """The results CSV of `detect` for sequences and their scores (one row per sequence)."""
        from logad.io import atomic_writer

        id_to_event = id_to_event or {}
        alarms = scores > self.threshold
        unknown = sum(1 for s in seqs for t in s.template_ids if t == 0)
        with atomic_writer(out) as fh:
            w = csv.writer(fh)
            header = ["sequence_id", "start_time", "end_time", "first_line", "last_line", "lines", "score", "alarm", "explanation"]
            localise = self.detector.localise if self.detector.localises else None  # they point at lines
            if localise is not None:
                header.append("anomalous_lines")
            w2v_ids = getattr(self.detector, "w2v_event_ids", None) if self.structured else None
            if self.structured:  # the columns of the Morpheus/InterpretableSAD inference output
                header += ["Label", "EventId", "Key_label"] + (["W2V_EventId"] if w2v_ids else []) + ["prediction"]
            w.writerow(header)
            for s, sc, a in zip(seqs, scores, alarms):
                explanation = ""
                if a and self.detector.explains:
                    top = self.detector.explain(s)[:3]
                    explanation = "; ".join(
                        f"{templates.get(t, 'unseen template') if t else 'unseen template'} ({w_:.3g})"
                        for t, w_ in top
                    )
                extra = []
                if localise is not None:  # line numbers (LineId for structured CSVs) of an alarm
                    extra.append(" ".join(str(s.line_nos[j]) for j in localise(s)) if a and s.line_nos else "")
                if self.structured:
                    extra += [
                        "" if s.label is None else s.label,
                        " ".join(id_to_event.get(t, "unseen") for t in s.template_ids),
                        " ".join(str(x) for x in (s.line_labels or ())),
                    ]
                    if w2v_ids:
                        extra.append(" ".join(str(i) for i in w2v_ids(s)))
                    extra.append(int(a))
                w.writerow([
                    s.sequence_id,
                    s.start_time if s.start_time is not None else "",
                    s.end_time if s.end_time is not None else "",
                    min(s.line_nos) if s.line_nos else "",
                    max(s.line_nos) if s.line_nos else "",
                    len(s),
                    f"{sc:.6g}",
                    int(a),
                    explanation,
                    *extra,
                ])
        return {"sequences": len(seqs), "alarms": int(alarms.sum()), "unknown_template_lines": unknown}


def train_model(
    loaded,
    *,
    detector: str,
    params: dict | None = None,
    policy: str = "train-quantile:0.999",
    holdout: float = 0.1,
    format_name: str,
    progress: Progress = SILENT,
) -> TrainedModel:
    """Fit on the earliest (1 - holdout) of the normal sequences (by time), threshold on the rest.

    The threshold's provenance (policy, how many held-out scores) is kept in `threshold_info`, with
    a warning when the held-out part is too small for the quantile asked for: the q quantile of n
    scores is only more than their maximum's neighbour when n * (1 - q) >= 1."""
    from logad.detectors.registry import get_detector
    from logad.detectors.thresholds import get_policy

    if isinstance(holdout, bool) or not isinstance(holdout, int | float) or not 0 < holdout < 1:
        raise InvalidParameterError(f"`holdout` must be a share in (0, 1), got {holdout!r}")
    threshold_policy = get_policy(policy)
    if threshold_policy.name not in ("train-quantile", "fixed"):
        raise InvalidParameterError(
            f"`logad train` learns from normal operation only, so its threshold policy is train-quantile:Q or "
            f"fixed:VALUE, got {policy!r}")
    det = get_detector(detector, **(params or {}))
    if getattr(det, "supervised", False):
        raise InvalidParameterError(
            f"detector {detector!r} is supervised; `logad train` learns from normal operation only "
            "(use a semi-supervised detector such as knn, pca, new-template)"
        )
    seqs = [s for s in loaded.sequences if s.label != 1]
    if len(seqs) < 2:
        raise InvalidParameterError(f"training needs at least 2 sequences, got {len(seqs)}")
    order = sorted(range(len(seqs)), key=lambda i: (seqs[i].start_time is None, seqs[i].start_time or 0))
    seqs = [seqs[i] for i in order]
    n_fit = min(len(seqs) - 1, max(1, int(round(len(seqs) * (1 - holdout)))))
    fit, held = seqs[:n_fit], seqs[n_fit:]
    progress.stage(f"fitting {detector} on {len(fit)} sequences, threshold from {len(held)} held-out ones")
    det.fit(fit, templates=loaded.templates, progress=progress)
    threshold = float(threshold_policy.fit(det.score(held)))
    det.threshold_ = threshold
    info = {**threshold_policy.to_dict(), "n_scores": len(held), "scores_from": "held-out normal sequences",
            "holdout": holdout, "fitted_on": len(fit)}
    from logad.detectors.base import never_alarms

    warnings = [w for w in (never_alarms(det, threshold),) if w]
    if threshold_policy.name == "train-quantile":
        needed = int(np.ceil(1.0 / (1.0 - threshold_policy.q))) if threshold_policy.q < 1 else None
        if needed is None or len(held) < needed:
            warnings.append(
                f"the threshold is the {threshold_policy.q} quantile of only {len(held)} held-out normal sequences "
                f"(it needs at least {needed or 'infinitely many'} to be more than their maximum): expect alarms "
                "on normal data; train on more normal logs, raise --holdout, or ask for a lower quantile "
                "(--threshold-policy train-quantile:0.99)")
    if warnings:
        info["warning"] = "; ".join(warnings)
    return TrainedModel(format_name, loaded.grouping, det, loaded.parser, info, loaded.event_ids)
