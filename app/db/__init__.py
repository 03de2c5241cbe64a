"""Persistence: all tables in :mod:`app.db.models`, CRUD in :mod:`app.db.crud`."""
