"""Question in, cited answer out: classify -> select sentences -> extract spans -> aggregate."""
