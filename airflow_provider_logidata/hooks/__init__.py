"""Hooks of the LogiData provider."""
