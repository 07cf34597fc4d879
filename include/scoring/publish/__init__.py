"""Publish (SPEC section 6): warehouse, CRM push, alerts, behind the quality gate."""
