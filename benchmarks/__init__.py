"""Benchmarks: run as modules (`python -m benchmarks.<name>`), never collected as tests."""
