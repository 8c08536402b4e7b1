"""Turns a question into a cited answer (retrieve -> fuse -> read -> aggregate) and serves it."""
