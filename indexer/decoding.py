"""An article file's bytes as text: UTF-8 first, then what the file declares or its bytes show.

News archives hold legacy files: Windows-1252 from older content systems, ISO-8859-1 pages
that say so in a ``<meta>`` tag, UTF-16 saved by Windows editors. Refusing them would make a
user re-save every file; a wrong guess would corrupt text silently. So the order is the one
browsers follow (WHATWG): a byte-order mark, then UTF-8, then an HTML page's declared
charset, then Windows-1252 for text in the Latin script (the legacy default for Western
text), and charset-normalizer's guess for any other script (Cyrillic, Greek, CJK).
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass

import charset_normalizer

from indexer.errors import BadFileError

UTF8 = "utf-8"
# UTF-32's little-endian mark starts with UTF-16's: the longer marks are tried first.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# <meta charset="iso-8859-1"> or <meta http-equiv=... content="text/html; charset=...">,
# looked for where browsers look: in the first 1,024 bytes.
_DECLARED_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)
_PRESCAN_BYTES = 1024
_LATIN1_LABELS = frozenset({"iso8859-1", "ascii"})
LEGACY_DEFAULT = "windows-1252"
# The legacy encodings of other scripts that Windows and the web use by default, by
# charset-normalizer's names: Central European, Cyrillic, Greek, Turkish, Hebrew, Arabic,
# Baltic, Vietnamese, Thai, Japanese, Simplified and Traditional Chinese, Korean.
_COMMON = frozenset(
    {f"cp125{n}" for n in range(9)}
    | {"cp874", "cp932", "shift_jis", "euc_jp", "gb18030", "gb2312", "big5", "euc_kr", "cp949"}
    | {"koi8_r", "koi8_u"}
)


@dataclass(frozen=True)
class Decoded:
    """A file's text and the codec that read it."""

    text: str
    encoding: str

    @property
    def legacy(self) -> bool:
        """Whether the file was not UTF-8 (worth telling the user)."""
        return self.encoding not in (UTF8, "utf-8-sig")


def decode(raw: bytes, html: bool = False) -> Decoded:
    """Decode an article file, its line endings normalised to ``\\n``.

    Raises:
        BadFileError: The file is empty, binary, or text in no encoding that can be told.
    """
    if not raw.strip():
        raise BadFileError("file is empty")
    decoded = _by_mark(raw)
    if decoded is None:
        if b"\x00" in raw:
            raise BadFileError("looks binary (contains NUL bytes); give a text article")
        decoded = _as_utf8(raw) or (_as_declared(raw) if html else None) or _as_legacy(raw)
    text = decoded.text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise BadFileError("file is empty")
    return Decoded(text, decoded.encoding)


def _by_mark(raw: bytes) -> Decoded | None:
    for mark, encoding in _BYTE_ORDER_MARKS:
        if raw.startswith(mark):
            try:
                return Decoded(raw.decode(encoding), encoding)
            except UnicodeDecodeError as error:
                name = encoding.removesuffix("-sig").upper()
                raise BadFileError(
                    f"starts with a {name} byte-order mark but is not {name} "
                    f"(byte {error.start}); re-save the file as UTF-8"
                ) from error
    return None


def _as_utf8(raw: bytes) -> Decoded | None:
    try:
        return Decoded(raw.decode(UTF8), UTF8)
    except UnicodeDecodeError:
        return None


def _as_declared(raw: bytes) -> Decoded | None:
    """The page's own ``<meta>`` charset, when Python knows it and it fits the bytes."""
    found = _DECLARED_CHARSET.search(raw[:_PRESCAN_BYTES])
    if found is None:
        return None
    try:
        codec = codecs.lookup(found.group(1).decode("ascii", "replace")).name
    except LookupError:
        return None  # an unknown declaration: read the bytes instead
    # Browsers read a page labelled ISO-8859-1 or ASCII as Windows-1252 (WHATWG), whose
    # curly quotes and dashes such pages hold more often than not.
    for encoding in (LEGACY_DEFAULT, codec) if codec in _LATIN1_LABELS else (codec,):
        try:
            return Decoded(raw.decode(encoding), encoding)
        except UnicodeDecodeError:
            continue
    return None


def _as_legacy(raw: bytes) -> Decoded:
    matches = list(charset_normalizer.from_bytes(raw))
    if matches and not _latin_script(str(matches[0])):
        # Several code pages of one script often fit the bytes equally (mac_cyrillic and
        # cp1251); the ones Windows and the web default to are far the likelier.
        chosen = next((m for m in matches if m.encoding in _COMMON), matches[0])
        return Decoded(str(chosen), chosen.encoding)
    # For Latin-script text the detector's choice between the many single-byte Latin code
    # pages is a coin toss on a short article ("5 €" read as "5 Ć"); Windows-1252 is what
    # such files almost always are.
    try:
        return Decoded(raw.decode(LEGACY_DEFAULT), LEGACY_DEFAULT)
    except UnicodeDecodeError:
        pass
    if matches:
        return Decoded(str(matches[0]), matches[0].encoding)
    raise BadFileError(
        "not UTF-8, and no other text encoding fits its bytes; re-save the file as UTF-8"
    )


def _latin_script(text: str) -> bool:
    """Whether every letter of ``text`` outside ASCII is a Latin one ("é", "ß", "Ł")."""
    return all(
        unicodedata.category(ch)[0] != "L" or unicodedata.name(ch, "").startswith("LATIN")
        for ch in set(text)
        if ord(ch) > 127
    )
