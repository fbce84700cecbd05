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
    multiline: str | None = None  # the continuation rule the training logs were read with

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
                "multiline": self.multiline or "none",
            }
            (tmp / "model.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return Path(directory)

    @classmethod
    def load(cls, directory: str | Path) -> TrainedModel:
        from logad.detectors.persistence import read_json_file
        from logad.detectors.registry import detector_class
        from logad.io import recover_folder
        from logad.parsing import load_parser

        directory = Path(directory)
        if not directory.exists():
            recover_folder(directory)  # a save killed between its two renames
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
        if meta["detector"] == "cross-conformal":  # an alarm budget's fold models (not a registered detector)
            from logad.detectors.conformal import CrossConformal

            detector = CrossConformal.load(directory / "detector")
        else:
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
        multiline = meta.get("multiline")  # absent in older models: the format's own rule
        if multiline is not None and not isinstance(multiline, str):
            raise InputError(f"{directory}/model.json: 'multiline' is not a rule (any, none or a regex)")
        return cls(meta["format"], meta["grouping"], detector, parser, info, multiline=multiline)

    def _grouping(self):
        from logad.windowing.grouping import Grouping

        described = {k: v for k, v in self.grouping.items() if k != "from"}  # "from": a note, not a setting
        try:
            return Grouping.from_dict(described)
        except InvalidParameterError as exc:
            raise InputError(f"the model's grouping {self.grouping!r} cannot be used: {exc}") from exc

    def detect(self, files: list[str], out: str | Path, progress: Progress = SILENT, rollup: str | None = None,
               summary: bool = True) -> dict:
        """Score every sequence of the new logs; write all of them with an `alarm` column, each
        traced to its file and line numbers, an alarm quoting the lines it blames. With `rollup`
        (a regex naming a unit in the sequence id or file path), also `OUT.rollup.csv`; with
        `summary`, the summary a report draws beside it (`logad.report.detect_summary`)."""
        seqs, templates, files_lines = self.load_sequences(files, progress)
        scores = self.detector.score(seqs) if seqs else np.zeros(0)
        return self.write_results(seqs, scores, templates, out, files=files, files_lines=files_lines, rollup=rollup,
                                  summary=summary, progress=progress)

    def load_sequences(self, files: list[str], progress: Progress = SILENT) -> tuple[list, dict, list | None]:
        """(sequences, template texts, (file, lines in it) of every raw log file read) of new logs."""
        from logad.pipeline import load_logs, load_structured

        if self.structured:
            loaded = load_structured(files, grouping=self._grouping(), event_ids=self.event_ids, learn=False,
                                     progress=progress)
            return loaded.sequences, loaded.templates, None
        loaded = load_logs(
            files, format=self.format_name, grouping=self._grouping(), parser=self.parser, learn=False,
            progress=progress, with_values=self.detector.needs_line_values(), multiline=self.multiline,
        )
        return loaded.sequences, self.parser.templates, [(r.path, r.lines_total) for r in loaded.reports]

    def write_results(self, seqs: list, scores, templates: dict, out: str | Path, *, files: list[str] | None = None,
                      files_lines: list[tuple[str, int]] | None = None, rollup: str | None = None,
                      summary: bool = False, progress: Progress = SILENT) -> dict:
        """The outputs of `detect` for sequences and their scores: the CSV (one row per sequence),
        and on request the roll-up and the report's summary. `files_lines` locates each line in its
        file (the pipeline numbers the lines of several files one after the other)."""
        alarms = scores > self.threshold
        unknown = sum(1 for s in seqs for t in s.template_ids if t == 0)
        locate = LineLocator(files_lines) if files_lines is not None else None
        write_detections(out, self, seqs, scores, alarms, templates, locate)
        result = {"sequences": len(seqs), "alarms": int(alarms.sum()), "unknown_template_lines": unknown}
        if rollup:
            result.update(write_rollup(Path(out), seqs, scores, alarms, rollup))
        if summary and files:  # what `logad report` draws: templates over time, new/vanished ones, the top alarms
            from logad.report.detect_summary import write_detect_summary

            result["summary"] = str(write_detect_summary(out, self, files, seqs, scores, alarms, templates=templates,
                                                         progress=progress))
        return result


class LineLocator:
    """Global line numbers (the pipeline numbers the lines of several files one after the other)
    back to (file, line number within that file)."""

    def __init__(self, files: list[tuple[str, int]]) -> None:
        self.paths = [p for p, _ in files]
        self.starts = np.cumsum([0] + [n for _, n in files])[:-1].tolist()

    def __call__(self, line_no: int) -> tuple[str, int]:
        import bisect

        i = max(0, bisect.bisect_right(self.starts, line_no - 1) - 1)
        return self.paths[i], int(line_no - self.starts[i])


def _blamed_positions(detector, sequence, explained: list[tuple[int, float]]) -> list[int]:
    """Positions of the lines an alarm blames: the detector's own when it localises, else the first
    line of each template its explanation names (an unseen template: the first unseen line)."""
    if detector.localises:
        return list(detector.localise(sequence))
    ids = list(sequence.template_ids)
    out = []
    for tid, _ in explained:
        if tid in ids and ids.index(tid) not in out:
            out.append(ids.index(tid))
    return out


def _line_texts(wanted: set[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """The raw text of the lines an alarm quotes, read back from their files (only files with an
    alarm, one pass each)."""
    from logad.formats.reader import lines_by_number

    out: dict[tuple[str, int], str] = {}
    by_file: dict[str, set[int]] = {}
    for path, n in wanted:
        by_file.setdefault(path, set()).add(n)
    for path, numbers in by_file.items():
        out.update(((path, n), text) for n, text in lines_by_number(path, numbers).items())
    return out


def write_detections(out, model: TrainedModel, seqs, scores, alarms, templates: dict[int, str], locate) -> None:
    """The detect CSV: one row per sequence. `file`, `first_line`, `last_line` name where its lines
    are (line numbers within each file); an alarm's `explanation` names the templates that drove its
    score, `blamed_lines` the lines to look at (file:line) and `blamed_text` quotes them."""
    from logad.io import atomic_writer

    detector = model.detector
    explained: dict[int, list[tuple[int, float]]] = {}
    blamed: dict[int, list[tuple[str, int]]] = {}
    for i, (s, a) in enumerate(zip(seqs, alarms)):
        if not a:
            continue
        top = detector.explain(s)[:3] if detector.explains else []
        explained[i] = top
        if locate is not None and s.line_nos:
            blamed[i] = [locate(s.line_nos[j]) for j in _blamed_positions(detector, s, top)[:3] if j < len(s.line_nos)]
    texts = _line_texts({x for lines in blamed.values() for x in lines}) if blamed else {}
    id_to_event = {v: k for k, v in (model.event_ids or {}).items()}
    w2v_ids = getattr(detector, "w2v_event_ids", None) if model.structured else None  # Morpheus's own column
    with atomic_writer(out) as fh:
        w = csv.writer(fh)
        header = ["sequence_id", "file", "first_line", "last_line", "start_time", "end_time", "lines", "score",
                  "threshold", "alarm", "explanation", "blamed_lines", "blamed_text"]
        if detector.localises:
            header.append("anomalous_lines")
        if model.structured:  # the columns of the Morpheus/InterpretableSAD inference output
            header += ["Label", "EventId", "Key_label"] + (["W2V_EventId"] if w2v_ids else []) + ["prediction"]
        w.writerow(header)
        for i, (s, sc, a) in enumerate(zip(seqs, scores, alarms)):
            if locate is not None and s.line_nos:  # numbers within the file of the sequence's first / last line
                first, last = locate(s.line_nos[0])[1], locate(s.line_nos[-1])[1]
            else:
                first, last = (min(s.line_nos), max(s.line_nos)) if s.line_nos else ("", "")
            files = "|".join(s.sources)
            explanation = "; ".join(
                f"{templates.get(t, 'unseen template') if t else 'unseen template'} ({wt:.3g})"
                for t, wt in explained.get(i, []))
            lines = blamed.get(i, [])
            row = [s.sequence_id, files, first, last,
                   s.start_time if s.start_time is not None else "", s.end_time if s.end_time is not None else "",
                   len(s), f"{sc:.6g}", f"{model.threshold:.6g}", int(a), explanation,
                   " ".join(f"{p}:{n}" for p, n in lines), " | ".join(texts.get(x, "") for x in lines)]
            if detector.localises:  # line numbers (LineId for structured CSVs) of an alarm
                row.append(" ".join(str(s.line_nos[j]) for j in detector.localise(s)) if a and s.line_nos else "")
            if model.structured:
                row += ["" if s.label is None else s.label,
                        " ".join(id_to_event.get(t, "unseen") for t in s.template_ids),
                        " ".join(str(x) for x in (s.line_labels or ()))]
                if w2v_ids:
                    row.append(" ".join(str(j) for j in w2v_ids(s)))
                row.append(int(a))
            w.writerow(row)


def write_rollup(out: Path, seqs, scores, alarms, pattern: str) -> dict:
    """`OUT.rollup.csv`: unit, sequences, alarms, score (the largest), alarm."""
    from logad.evaluation.rollup import roll_up
    from logad.io import atomic_writer

    r = roll_up(seqs, scores, alarms, pattern)
    path = out.with_name(out.stem + ".rollup.csv")
    with atomic_writer(path) as fh:
        w = csv.writer(fh)
        w.writerow(["unit", "sequences", "alarms", "score", "alarm"])
        for i, u in enumerate(r.units):
            w.writerow([u, int(r.sequences[i]), int(r.alarmed_sequences[i]), f"{r.scores[i]:.6g}", int(r.alarms[i])])
    return {"units": len(r.units), "unit_alarms": int(r.alarms.sum()), "rollup_path": str(path)}


def train_model(
    loaded,
    *,
    detector: str,
    params: dict | None = None,
    policy: str = "alarm-budget:0.001",
    holdout: float = 0.1,
    format_name: str,
    progress: Progress = SILENT,
    policy_kw: dict | None = None,
) -> TrainedModel:
    """Fit a detector on normal operation and set its threshold.

    The default, `policy="alarm-budget:B"` (B = 0.001, adopted by the rule in benchmarks/README.md),
    holds nothing out: the model is fitted on every normal sequence, and the threshold is the
    conformal (1 - B) quantile of out-of-fold scores of all of them (`policy_kw` may set `folds`,
    `fold_order`; see `logad.detectors.thresholds.AlarmBudget`). With `train-quantile:Q` the model is
    fitted on the earliest (1 - holdout) of the normal sequences (by time), threshold on the rest.

    The threshold's provenance (policy, how many scores) is kept in `threshold_info`, with a
    warning when there are too few scores for the quantile asked for: the q quantile of n scores
    is only more than their maximum's neighbour when n * (1 - q) >= 1."""
    from logad.detectors.registry import get_detector
    from logad.detectors.thresholds import cross_fitted_scores, get_policy

    if isinstance(holdout, bool) or not isinstance(holdout, int | float) or not 0 < holdout < 1:
        raise InvalidParameterError(f"`holdout` must be a share in (0, 1), got {holdout!r}")
    threshold_policy = get_policy(policy, **(policy_kw or {}))
    if threshold_policy.name not in ("train-quantile", "fixed", "alarm-budget"):
        raise InvalidParameterError(
            f"`logad train` learns from normal operation only, so its threshold policy is alarm-budget:B, "
            f"train-quantile:Q or fixed:VALUE, got {policy!r}")
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
    if threshold_policy.name == "alarm-budget" and threshold_policy.check().method == "cross-conformal":
        from logad.detectors.conformal import CrossConformal

        folds = threshold_policy.folds_for(len(seqs))
        progress.stage(f"alarm budget {threshold_policy.budget:g}: {folds} fold models of {detector} on {len(seqs)} "
                       "normal sequences (cross-conformal)")
        det = CrossConformal.around(det, folds=folds, fold_order=threshold_policy.fold_order)
        det.fit(seqs, templates=loaded.templates, progress=progress)
        threshold_policy.n_scores_ = det.n_reference_
        threshold = det.budget_threshold(threshold_policy.budget)
        info = {**threshold_policy.to_dict(), "fitted_on": len(seqs),
                "scores_from": f"cross-conformal p-values of {folds} fold models"}
        if det.budget_warning(threshold_policy.budget):
            info["warning"] = det.budget_warning(threshold_policy.budget)
    elif threshold_policy.name == "alarm-budget":
        folds = threshold_policy.folds_for(len(seqs))
        progress.stage(f"alarm budget {threshold_policy.budget:g}: out-of-fold scores of {len(seqs)} normal sequences "
                       f"from {folds} models")
        reference = cross_fitted_scores(det, seqs, folds=folds, fold_order=threshold_policy.fold_order,
                                        templates=loaded.templates, progress=progress)
        fit = seqs
        progress.stage(f"fitting {detector} on all {len(fit)} normal sequences")
        det.fit(fit, templates=loaded.templates, progress=progress)
        threshold = float(threshold_policy.fit(reference))
        info = {**threshold_policy.to_dict(), "fitted_on": len(fit)}
    else:
        n_fit = min(len(seqs) - 1, max(1, int(round(len(seqs) * (1 - holdout)))))
        fit, held = seqs[:n_fit], seqs[n_fit:]
        progress.stage(f"fitting {detector} on {len(fit)} sequences, threshold from {len(held)} held-out ones")
        det.fit(fit, templates=loaded.templates, progress=progress)
        threshold = float(threshold_policy.fit(det.score(held)))
        info = {**threshold_policy.to_dict(), "n_scores": len(held), "scores_from": "held-out normal sequences",
                "holdout": holdout, "fitted_on": len(fit)}
    det.threshold_ = threshold
    if threshold_policy.alarm_budget is not None:
        info["budget"] = threshold_policy.alarm_budget
    from logad.detectors.base import never_alarms

    warnings = [w for w in (info.pop("warning", None), never_alarms(det, threshold)) if w]
    if threshold_policy.name == "train-quantile":
        from logad.detectors.thresholds import scores_needed_for_quantile

        needed = scores_needed_for_quantile(threshold_policy.q)
        if needed is None or len(held) < needed:
            warnings.append(
                f"the threshold is the {threshold_policy.q} quantile of only {len(held)} held-out normal sequences "
                f"(it needs at least {needed or 'infinitely many'} to be more than their maximum): expect alarms "
                "on normal data; train on more normal logs, raise --holdout, ask for a lower quantile "
                "(--threshold-policy train-quantile:0.99), or use --alarm-budget (out-of-fold scores of every "
                "normal sequence)")
    if warnings:
        info["warning"] = "; ".join(warnings)
    return TrainedModel(format_name, loaded.grouping, det, loaded.parser, info, loaded.event_ids,
                        multiline=loaded.multiline)
