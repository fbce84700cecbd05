"""logad.formats."""
