"""Fixtures shared by the cross-system detector tests."""

from tests.synthetic.metalog import glove  # noqa: F401
