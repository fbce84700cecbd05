"""Shared test helpers: where the real data lives, and a skip when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()


def shared_data(*parts: str) -> Path:
    """Path inside ../shared/data, or skip the test cleanly when it is not there."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path}")
    return path


def needs_torch():
    """The torch module, or skip when torch is NOT INSTALLED. A torch that is installed but fails
    to import raises here, so a broken install fails the suite loudly instead of skipping it."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed (pip install torch==2.13.0 'logad[deep]')", allow_module_level=True)
    import torch

    return torch
