"""Drift reports: read-only comparison of live SSL with what was declared and last applied."""
