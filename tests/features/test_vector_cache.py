"""The shared on-disk vector shards (sentence encoder and template-vector cache)."""

from __future__ import annotations

import numpy as np

from logad.features.vector_cache import load_shards, save_shard


def test_keys_ending_in_nul_bytes_survive_a_reload(tmp_path):
    keys = [b"a" * 19 + b"\0", b"b" * 18 + b"\0\0", b"c" * 20]
    vecs = np.arange(6, dtype=np.float32).reshape(3, 2)
    save_shard(tmp_path / "c", "test identity", keys, vecs, "test cache")
    stored = load_shards(tmp_path / "c", "test cache")
    assert sorted(stored) == sorted(keys)
    for k, v in zip(keys, vecs):
        assert np.array_equal(stored[k], v)
    assert (tmp_path / "c" / "identity.txt").read_text() == "test identity\n"


def test_damaged_shard_is_skipped_and_missing_folder_is_empty(tmp_path, caplog):
    save_shard(tmp_path, "id", [b"k" * 20], np.ones((1, 2), np.float32), "test cache")
    (tmp_path / "vectors-0-0.npz").write_bytes(b"not a zip")
    stored = load_shards(tmp_path, "test cache")
    assert list(stored) == [b"k" * 20]
    assert "ignoring a damaged test cache shard" in caplog.text
    assert load_shards(tmp_path / "absent", "test cache") == {} and load_shards(None, "test cache") == {}
