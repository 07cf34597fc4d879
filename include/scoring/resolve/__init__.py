"""Resolve (SPEC section 4): every valid event to an account and a person, or a recorded reason."""
