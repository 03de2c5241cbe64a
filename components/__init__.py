"""Pure view functions: they take Vars and event handlers, never State classes, and do no I/O."""
