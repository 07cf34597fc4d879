"""Score (SPEC section 5): signals, contributions, the per-account state machine, the day's outputs."""
