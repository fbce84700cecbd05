import json

import numpy as np
import pytest

from logad.errors import InputError, InvalidParameterError, NotFittedError
from logad.features import SequenceVectorizer, Vocabulary
from logad.records import Sequence


def seq(*tids):
    return Sequence("s", tuple(tids))


TRAIN = [seq(5, 7, 7), seq(5, 9), seq(9)]


def test_vocabulary_columns_and_unseen():
    v = Vocabulary().fit(TRAIN)
    assert v.template_ids == [5, 7, 9]
    assert len(v) == 4
    assert v.columns([5, 7, 9, 42, 0]).tolist() == [1, 2, 3, 0, 0]
    counts = v.counts([seq(5, 42, 42, 7), seq()])
    assert counts.tolist() == [[2, 1, 1, 0], [0, 0, 0, 0]]
    assert counts.dtype == np.float64


def test_vocabulary_template_zero_is_always_unseen():
    v = Vocabulary().fit([seq(0, 1)])
    assert v.template_ids == [1]
    assert v.counts([seq(0)]).tolist() == [[1, 0]]


def test_vocabulary_roundtrip_json():
    v = Vocabulary().fit(TRAIN)
    w = Vocabulary.from_dict(json.loads(json.dumps(v.to_dict())))
    assert w.template_ids == v.template_ids
    with pytest.raises(InputError):
        Vocabulary.from_dict({"kind": "other"})
    with pytest.raises(NotFittedError):
        len(Vocabulary())


def test_counts_presence_length():
    test = [seq(5, 5, 42)]
    assert SequenceVectorizer(kind="counts").fit(TRAIN).transform(test).tolist() == [[1, 2, 0, 0]]
    assert SequenceVectorizer(kind="presence").fit(TRAIN).transform(test).tolist() == [[1, 1, 0, 0]]
    assert SequenceVectorizer(kind="counts+length").fit(TRAIN).transform(test).tolist() == [[1, 2, 0, 0, 3]]


def test_tfidf_idf_from_training():
    vec = SequenceVectorizer(kind="tfidf").fit(TRAIN)
    # df: unseen 0 -> treated as 1, id5: 2, id7: 1, id9: 2 ; N = 3
    expected_idf = np.log([3 / 1, 3 / 2, 3 / 1, 3 / 2])
    np.testing.assert_allclose(vec.idf_, expected_idf)
    x = vec.transform([seq(7, 7, 42)])
    np.testing.assert_allclose(x[0], [expected_idf[0], 0, 2 * expected_idf[2], 0])


@pytest.mark.parametrize("kind", ["counts", "tfidf", "counts+length", "presence"])
def test_vectorizer_roundtrip(kind):
    vec = SequenceVectorizer(kind=kind).fit(TRAIN)
    back = SequenceVectorizer.from_dict(json.loads(json.dumps(vec.to_dict())))
    test = [seq(5, 9, 11), seq()]
    np.testing.assert_array_equal(back.transform(test), vec.transform(test))
    assert back.n_features == vec.n_features


def test_vectorizer_bad_input():
    with pytest.raises(InvalidParameterError, match="tfidf"):
        SequenceVectorizer(kind="tf-idf").fit(TRAIN)
    with pytest.raises(InvalidParameterError):
        SequenceVectorizer().fit([])
    with pytest.raises(NotFittedError):
        SequenceVectorizer().transform(TRAIN)
    with pytest.raises(InputError):
        SequenceVectorizer.from_dict({"kind": "counts"})
