"""Versioned rule sets: format, validation, tests, lifecycle and serving snapshots."""
