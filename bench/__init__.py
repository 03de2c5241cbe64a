"""Parley's benchmarks: run each with ``python -m bench.<name>`` from the repository root."""
