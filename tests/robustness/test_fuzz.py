"""Short property-based fuzzing of the readers an untrusted file reaches (issue 17): arbitrary and
mutated bytes give success or one of logad's own errors, never another exception or a hang. The
long run (10,000 examples per target) is benchmarks/fuzz_inputs.py."""

from __future__ import annotations

import resource

import pytest
from hypothesis import HealthCheck, given, settings

from tests.robustness import fuzz_targets as ft

FOLDER = ft.fresh_folder()
SHORT = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)


@pytest.mark.parametrize("name", sorted(ft.TARGETS))
def test_readers_survive_arbitrary_bytes(name):
    target, seed = ft.TARGETS[name]

    @SHORT
    @given(ft.inputs(seed))
    def check(data):
        assert ft.run_one(target, data, FOLDER) is None

    check()


@pytest.mark.parametrize("name", ["parser state", "model.json", "detector config"])
def test_state_and_model_loaders_survive_tampering(name):
    target, seed = ft.json_targets(FOLDER)[name]

    @SHORT
    @given(ft.inputs(seed))
    def check(data):
        assert ft.run_one(target, data, FOLDER) is None

    check()
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 4_000_000  # KB: no blow-up
