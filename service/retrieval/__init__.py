"""Passages for a question: hybrid retrieval, sentence re-scoring, filters, de-duplication."""
