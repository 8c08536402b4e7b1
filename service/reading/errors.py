"""Errors raised while reading answer spans out of passages."""

from __future__ import annotations

from citeqa.errors import CiteqaError


class ReaderError(CiteqaError):
    """The optional neural reader cannot be used; the message says how to fix the setup.

    Raised at start-up, so a misconfigured ``CITEQA_READER_MODEL`` fails loudly instead of
    silently falling back to the model-free extractor, and by ``citeqa reader`` for bad
    training data or options.
    """
