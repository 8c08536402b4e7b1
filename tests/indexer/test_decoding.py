"""Article bytes as text: UTF-8, byte-order marks, a page's declared charset, legacy code pages."""

from __future__ import annotations

import codecs

import pytest

from indexer.decoding import decode
from indexer.errors import BadFileError

NEWS = "“We won’t stop,” the mayor said — and the café owner agreed. Prices rose 5 €.\n"


def test_utf8_is_read_as_it_is() -> None:
    decoded = decode(NEWS.encode("utf-8"))
    assert (decoded.text, decoded.encoding, decoded.legacy) == (NEWS, "utf-8", False)


def test_line_endings_become_newlines() -> None:
    assert decode(b"Headline\r\n\r\nBody.\rMore.").text == "Headline\n\nBody.\nMore."


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-be", "utf-32"])
def test_a_byte_order_mark_says_how_to_read(encoding: str) -> None:
    raw = NEWS.encode(encoding)
    if encoding == "utf-16-be":
        raw = codecs.BOM_UTF16_BE + raw
    # UTF-16 and UTF-32 hold NUL bytes: the mark is read before the binary check.
    assert decode(raw).text == NEWS


def test_windows_1252_is_read_with_its_quotes_dashes_and_euro() -> None:
    decoded = decode(NEWS.encode("cp1252"))
    assert (decoded.text, decoded.encoding, decoded.legacy) == (NEWS, "windows-1252", True)


def test_a_short_latin_text_is_not_read_as_another_latin_code_page() -> None:
    # charset-normalizer alone reads the euro sign of this one as cp775's "Ć".
    raw = ("The council met on Monday to discuss the budget. " * 20 + "5€.").encode("cp1252")
    assert decode(raw).text.endswith("5€.")


def test_other_scripts_are_read_in_their_common_code_page() -> None:
    text = "Новости: Москва\n\nПрезидент сказал в понедельник, что цены выросли на 5 процентов.\n"
    decoded = decode(text.encode("cp1251"))
    assert (decoded.text, decoded.encoding) == (text, "cp1251")


def test_a_page_is_read_in_the_charset_it_declares() -> None:
    page = '<meta charset="koi8-r"><p>Новости</p>'
    assert decode(page.encode("koi8-r"), html=True).text == page


def test_a_page_labelled_latin1_is_read_as_windows_1252() -> None:
    page = '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">“café”'
    # Python's latin-1 would give control characters for the quotes; browsers do not.
    assert decode(page.encode("cp1252"), html=True).text == page


def test_an_unknown_declared_charset_falls_back_to_the_bytes() -> None:
    page = '<meta charset="no-such-charset"><p>café</p>'
    assert decode(page.encode("cp1252"), html=True).text == page


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"  \n\t", "file is empty"),
        (b"\x00\x01\x02PNG", "looks binary"),
        (codecs.BOM_UTF8 + b"\n", "file is empty"),
        (codecs.BOM_UTF8 + b"caf\xe9", "UTF-8 byte-order mark but is not UTF-8"),
        (bytes(range(128, 256)) * 3, "no other text encoding fits"),
    ],
)
def test_what_cannot_be_read_is_refused_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(BadFileError, match=reason):
        decode(raw)
