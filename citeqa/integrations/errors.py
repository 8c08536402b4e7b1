"""Errors of the integrations: the service could not be reached or refused the request."""

from __future__ import annotations

from citeqa.errors import CiteqaError


class ServiceCallError(CiteqaError):
    """A call to a citeqa service failed; the message carries the service's own reason."""
