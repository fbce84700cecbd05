"""The originals' splits registered in splitting/original.py: MLAD's balanced split."""

from __future__ import annotations

from tests.conftest import needs_torch

needs_torch()

from logad.detectors.crosssystem.mlad import MLADDetector  # noqa: E402
from logad.experiments.transfer import split_system  # noqa: E402
from logad.splitting.original import mlad_balanced_split  # noqa: E402
from tests.synthetic.mlad import STORAGE, _sessions, _system  # noqa: E402


def test_balanced_split_and_registration():
    from logad.splitting.original import ORIGINAL_SPLITS

    seqs = _sessions("s", 50, 10, 0)
    split = mlad_balanced_split(seqs)
    assert sum(s.label for s in split.test) == 10 and len(split.test) == 20
    assert all(s.label == 0 for s in split.train) and len(split.train) == 40 and not split.validation
    assert "mlad-balanced" in ORIGINAL_SPLITS and MLADDetector.ORIGINAL_SPLIT == "mlad-balanced"
    assert split_system(_system("x", STORAGE, 0), seed=1).protocol == "stratified-shuffle"
