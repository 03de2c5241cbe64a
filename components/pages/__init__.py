"""Pages: bind state to the pure view functions."""
