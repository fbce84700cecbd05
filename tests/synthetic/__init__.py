"""Tiny synthetic systems shared by the tests of several stages (pipeline, detectors, experiments)."""
