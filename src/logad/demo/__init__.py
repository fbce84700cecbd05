"""logad.demo."""
