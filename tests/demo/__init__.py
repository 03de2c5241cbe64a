"""Playwright-scripted demos (issue 15): `python -m tests.demo`, `make demo`."""
