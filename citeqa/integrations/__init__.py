"""Adapters that let other frameworks call a running citeqa service (extras, not core)."""
