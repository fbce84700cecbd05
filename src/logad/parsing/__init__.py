"""logad.parsing."""
