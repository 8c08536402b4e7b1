"""OpenAI-compatible chat: conversation -> question + retrieval query -> cited reply."""
