"""Validate (SPEC section 2): Great Expectations suites between raw/ and valid/ + quarantine/."""
