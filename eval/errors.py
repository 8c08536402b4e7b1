"""Exceptions raised by the evaluation harness; each message says what to do next."""


class DatasetError(ValueError):
    """A dataset file or folder is missing, malformed, or in an unknown format."""
