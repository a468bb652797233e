"""Shared plumbing of the telecom lakehouse: settings and small helpers used by every layer."""
