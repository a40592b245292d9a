"""A module pack broken on purpose: each entry point fails in its own way."""
