"""Benchmark scripts: repeatable measurements printed as tables (not tests)."""
