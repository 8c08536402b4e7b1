"""Evaluation harness: load benchmark datasets and score retrieval, answers and abstention."""
