"""Thin Reflex states: they call use-cases in app/ and hold only what the view needs."""
