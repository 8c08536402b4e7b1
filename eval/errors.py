"""Exceptions raised by the evaluation harness; each message says what to do next."""

from citeqa.errors import CiteqaError


class EvalError(CiteqaError):
    """An evaluation that cannot run as asked (an unknown configuration, a failing service).

    Only the CLI reports these; no request can cause one.
    """


class DatasetError(EvalError):
    """A dataset file or folder is missing, malformed, or in an unknown format."""
