"""Right to erasure: find a person in the lake, redact, suppress, audit."""
