"""Operational scripts: the native (Docker-free) cluster and its REST client."""
