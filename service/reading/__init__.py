"""Reading: find answer spans inside retrieved passages."""
