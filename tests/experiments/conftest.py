"""Fixtures shared by the experiment tests."""

from tests.synthetic.metalog import glove  # noqa: F401
