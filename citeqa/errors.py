"""The one error model: every failure citeqa reports is a :class:`CiteqaError`.

Each package keeps its errors in its own ``errors.py`` (indexer, service, chat, reading,
eval), all derived from :class:`CiteqaError`. Domain errors carry no HTTP status: one table
at the HTTP edge (``service/api/errors.py``) maps each class to its status, and the CLI
prints every one in a single place (``citeqa/cli_errors.py``). A ``ValueError`` or
``RuntimeError`` that escapes is a bug, and the API answers it with a 500.
"""

from __future__ import annotations


class CiteqaError(Exception):
    """Base of every citeqa error; the message says what went wrong and what to do.

    Attributes:
        code: A short, stable name for clients (OpenAI's ``error.code`` on the chat routes);
            a class may set one, and ``code=`` overrides it for one error.
        param: The request field at fault, when there is one (OpenAI's ``error.param``).
        retry_after_s: When a retry may succeed (a busy index, a rate limit), if known.

    Example:
        >>> class NoSuchThingError(CiteqaError):
        ...     pass
        >>> error = NoSuchThingError("no thing 'x'; list them with GET /v1/things", param="id")
        >>> str(error), error.param
        ("no thing 'x'; list them with GET /v1/things", 'id')
    """

    code: str | None = None
    # Seconds after which a retry may succeed: the API sends it as ``Retry-After``.
    retry_after_s: int | None = None

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.param = param


class SettingsError(CiteqaError):
    """A ``CITEQA_`` environment variable (or ``.env`` entry) holds a value citeqa refuses."""


class MissingPackageError(CiteqaError):
    """An optional package a step needs is not installed; the message names the install."""


class RayClusterError(CiteqaError):
    """Ray is missing, or a cluster cannot be reached or is too small for the work."""


class RayNotInstalledError(RayClusterError):
    """`--engine ray` was asked for, but the `ray` extra is not installed."""
