"""logad.datasets."""
