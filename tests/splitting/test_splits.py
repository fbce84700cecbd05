import pytest

from logad.errors import InvalidParameterError
from logad.records import Sequence
from logad.splitting import audit_split, chronological_split, session_files_split


def seq(i, t, label=0, ids=(1, 2), lines=None):
    return Sequence(f"s{i}", tuple(ids), tuple(lines or (i,)), start_time=t, end_time=t, label=label)


def test_chronological_split_orders_by_time_and_takes_validation_from_end_of_training():
    seqs = [seq(i, t) for i, t in enumerate([5, 3, 9, 1, 7, 2, 8, 0, 6, 4])]
    sp = chronological_split(seqs, 0.6, 0.1, 0.3)
    assert [s.start_time for s in sp.train] == [0, 1, 2, 3, 4, 5]
    assert [s.start_time for s in sp.validation] == [6]
    assert [s.start_time for s in sp.test] == [7, 8, 9]
    assert max(s.start_time for s in sp.train) < min(s.start_time for s in sp.validation)


def test_chronological_split_rejects_bad_ratios():
    seqs = [seq(i, i) for i in range(10)]
    with pytest.raises(InvalidParameterError, match="sum to 1"):
        chronological_split(seqs, 0.6, 0.2, 0.3)
    with pytest.raises(InvalidParameterError):
        chronological_split(seqs[:2])


def test_session_files_split_holds_out_end_of_train_file():
    train = [seq(i, None) for i in range(10)]
    sp = session_files_split(train, [seq(20, None)], [seq(30, None, 1)])
    assert len(sp.train) == 9 and len(sp.validation) == 1
    assert [s.label for s in sp.test] == [0, 1]


def test_audit_counts_shared_lines_duplicates_and_unseen():
    train = [seq(0, 0, ids=(1, 2), lines=(1, 2)), seq(1, 1, ids=(1, 3), lines=(3, 4))]
    test = [
        seq(2, 2, ids=(1, 2), lines=(2, 5)),  # shares line 2, identical to a training sequence
        seq(3, 3, label=1, ids=(1, 3), lines=(6,)),  # identical with another label
        seq(4, 4, ids=(9,), lines=(7,)),  # unseen template
    ]
    a = audit_split(train, test)
    assert a["shared_lines"] == 1
    assert a["identical_sequences"] == 2
    assert a["identical_with_other_label"] == 1
    assert a["unseen_template_sequences"] == 1
    assert a["unseen_template_share"] == pytest.approx(1 / 3)


def test_morpheus_split_shuffles_normals_and_selects_hard_anomalies():
    from logad.splitting.original import ORIGINAL_SPLITS, original_split

    assert "morpheus" in ORIGINAL_SPLITS
    normal = [Sequence(f"n{i}", (1, 2) * 5, (i,), label=0, line_labels=(0,) * 10) for i in range(100)]
    easy = [Sequence(f"a{i}", (1, 9) * 5, (i,), label=1, line_labels=(1,) * 10) for i in range(10)]
    hard = [Sequence(f"h{i}", (1, 9) * 5, (i,), label=1, line_labels=(1,) + (0,) * 9) for i in range(10)]
    sp = original_split("morpheus", normal + easy + hard, train_size=60)
    assert len(sp.train) == 60 and all(s.label == 0 for s in sp.train) and sp.validation == []
    assert [s.sequence_id for s in sp.train] != [s.sequence_id for s in normal[:60]]  # shuffled
    assert [s.sequence_id for s in sp.train] == [s.sequence_id for s in original_split("morpheus", normal, train_size=60).train]
    test_abnormal = [s for s in sp.test if s.label == 1]
    assert test_abnormal == hard  # <= 10% anomalous lines only
    assert sum(1 for s in sp.test if s.label == 0) == 40 * 10 // 20  # normals in the same proportion
    assert "TEST LABELS" in sp.details["test_selection"]
    whole = original_split("morpheus", normal + easy + hard, train_size=60, ratio=None)
    assert len(whole.test) == 60 and "test_selection" not in whole.details
    assert len(original_split("morpheus", normal).train) == 50  # small data: half of the normal windows
    with pytest.raises(InvalidParameterError, match="train_size"):
        original_split("morpheus", normal, train_size=100)


def test_describe_keeps_the_counts_whatever_the_details():
    from logad.records import Sequence
    from logad.splitting.splits import Split

    seqs = [Sequence(f"s{i}", (1,), label=i % 2) for i in range(6)]
    d = Split(train=seqs[:2], validation=[], test=seqs[2:], protocol="p",
              details={"test": "a rule", "seed": 3}).describe()
    assert d["test"] == {"sequences": 4, "anomalous": 2} and d["test_detail"] == "a rule" and d["seed"] == 3
