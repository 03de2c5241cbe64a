"""Parley's core: settings, errors, providers, persistence and use-cases.

Nothing in this package imports Reflex except ``app/app.py``, the composition root.
"""
