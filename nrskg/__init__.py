"""Shared foundation of the nrskg packages: the error hierarchy (imported by every layer)."""
