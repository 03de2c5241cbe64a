"""Web endpoints Parley adds to Reflex's backend (plain Starlette, no Reflex)."""
