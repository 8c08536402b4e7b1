"""citeqa: extractive question answering over news, every answer a quoted, cited span."""

__version__ = "0.1.0"
