"""Shared foundations: config, contracts, errors, settings, source names, Arrow helpers, normalisation, mail."""
