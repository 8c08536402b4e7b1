"""Article files into Documents: JSON files, a web page's own metadata, reasons naming no path."""

from __future__ import annotations

import json
from pathlib import Path

from citeqa.types import Document
from indexer.loaders import SkippedFile, load_file, load_paths

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Port strike ends after 12 days | The Harbour Times</title>
<meta property="og:title" content="Port strike ends after 12 days">
<meta property="og:site_name" content="The Harbour Times">
<meta property="article:published_time" content="2025-03-14T09:30:00Z">
<link rel="canonical" href="https://harbourtimes.example/news/port-strike-ends">
</head><body>
<header><nav><a href="/">Home</a> | <a href="/news">News</a></nav></header>
<main><article>
<h1>Port strike ends after 12 days</h1>
<p class="byline">By Ana Silva</p>
<p>Dock workers at the port of Eastbay returned to work on Friday after a 12-day strike.</p>
<p>The agreement raises wages by 7 percent over three years, the union leader said.</p>
</article></main>
<footer>Subscribe to our newsletter.</footer>
</body></html>
"""


def _load(path: Path) -> tuple[list[Document], list[SkippedFile]]:
    skipped: list[SkippedFile] = []
    return load_file(path, skipped), skipped


def test_a_page_cites_the_title_publisher_date_and_url_its_markup_declares(
    tmp_path: Path,
) -> None:
    path = tmp_path / "strike.html"
    path.write_text(PAGE, encoding="utf-8")
    [document], skipped = _load(path)
    assert skipped == []
    assert document.title == "Port strike ends after 12 days"
    assert document.source == "The Harbour Times"
    assert document.published == "2025-03-14"
    assert document.url == "https://harbourtimes.example/news/port-strike-ends"
    assert "returned to work on Friday" in document.text and "newsletter" not in document.text


def test_a_page_without_metadata_has_none_and_no_guessed_date(tmp_path: Path) -> None:
    path = tmp_path / "plain.html"
    body = "Heavy rain flooded 300 homes in Riverton on March 2, 2024, officials said. " * 3
    path.write_text(f"<html><body><article><p>{body}</p></article></body></html>")
    [document], _ = _load(path)
    # The date in the prose is the flood's, not the page's: it is not taken as published.
    assert (document.source, document.published, document.url) == (None, None, None)


def test_a_legacy_page_is_read_in_its_declared_charset(tmp_path: Path) -> None:
    path = tmp_path / "fete.html"
    page = (
        '<html><head><meta charset="iso-8859-1"><title>Fête draws crowds</title></head>'
        "<body><article><p>About 20,000 people filled Lyon’s streets for the fête on "
        "Saturday, the préfecture said.</p></article></body></html>"
    )
    path.write_bytes(page.encode("cp1252"))
    [document], _ = _load(path)
    assert document.title == "Fête draws crowds" and "Lyon’s streets" in document.text


def test_a_json_file_holds_one_article_named_by_its_file(tmp_path: Path) -> None:
    path = tmp_path / "bridge.json"
    article = {"title": "Bridge reopens", "text": "The bridge reopened.", "source": "Wire"}
    path.write_text(json.dumps(article))
    [document], skipped = _load(path)
    assert skipped == []
    assert (document.doc_id, document.title) == ("bridge", "Bridge reopens")
    assert document.source == "Wire"
    assert document.text == "The bridge reopened."


def test_a_json_list_holds_articles_with_ids_and_bad_ones_are_named(tmp_path: Path) -> None:
    path = tmp_path / "feed.json"
    articles = [
        {"id": "a-1", "text": "The school board hired 45 teachers."},
        {"text": "An article without an id."},
        {"id": "a-3", "text": "   "},
        {"id": "a-4", "text": "The library extended its hours.", "published": "2024-05-03"},
    ]
    path.write_text(json.dumps(articles))
    documents, skipped = _load(path)
    assert [d.doc_id for d in documents] == ["a-1", "a-4"]
    assert documents[1].published == "2024-05-03"
    assert [(Path(s.path).name, s.reason) for s in skipped] == [
        ("feed.json[1]", "bad article: id: Field required"),
        ("feed.json[2]", "bad article: text: Value error, text is empty"),
    ]


def test_an_article_may_name_its_id_doc_id_as_the_http_api_does(tmp_path: Path) -> None:
    """An article saved from the API (``doc_id``) reads the same from a file (``id``)."""
    line = {"doc_id": "api-1", "text": "The council approved the budget."}
    (tmp_path / "feed.jsonl").write_text(json.dumps(line) + "\n")
    (tmp_path / "saved.json").write_text(json.dumps({**line, "doc_id": "api-2"}))

    result = load_paths([tmp_path])

    assert sorted(d.doc_id for d in result.documents) == ["api-1", "api-2"]
    assert result.skipped == []


def test_json_that_is_no_article_is_skipped_with_what_to_give(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text('{"title": "broken", ')
    (tmp_path / "string.json").write_text('"just a string"')
    (tmp_path / "no-text.json").write_text('{"title": "no text"}')
    result = load_paths([tmp_path])
    reasons = {Path(s.path).name: s.reason for s in result.skipped}
    assert result.documents == []
    assert reasons["broken.json"].startswith("not valid JSON")
    assert "give {" in reasons["string.json"]
    assert reasons["no-text.json"] == "not an article object: text: Field required"


def test_a_jsonl_line_that_is_no_article_says_which_field(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_text('{"id": "w-1", "text": "Rates rose."}\n{"id": "w-2"}\n')
    documents, skipped = _load(path)
    assert [d.doc_id for d in documents] == ["w-1"]
    assert skipped == [SkippedFile(f"{path}:2", "bad JSONL line: text: Field required")]


def test_a_skipped_file_is_named_once(tmp_path: Path) -> None:
    (tmp_path / "scan.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "empty.txt").write_text("\n")
    result = load_paths([tmp_path])
    for skipped in result.skipped:
        assert str(tmp_path) not in skipped.reason, skipped
    assert {s.reason.split(";")[0] for s in result.skipped} == {
        "unsupported file type .pdf",
        "file is empty",
    }


def test_a_folders_own_page_is_named_by_its_folder(tmp_path: Path) -> None:
    body = "<html><body><article><p>{}</p></article></body></html>"
    for slug, text in [
        ("port-strike-ends", "Dock workers returned to work on Friday after a 12-day strike."),
        ("flood-hits-town", "Heavy rain flooded 300 homes in Riverton on Monday."),
    ]:
        (tmp_path / "site" / slug).mkdir(parents=True)
        (tmp_path / "site" / slug / "index.html").write_text(body.format(text))
    (tmp_path / "site" / "bundle").mkdir()
    (tmp_path / "site" / "bundle" / "_index.md").write_text("A page bundle's article.")
    (tmp_path / "site" / "Odd Folder").mkdir()
    (tmp_path / "site" / "Odd Folder" / "index.md").write_text("No id can be made of it.")
    result = load_paths([tmp_path / "site"])
    # A mirrored site holds one index.html per article: each is its folder's article.
    assert sorted(d.doc_id for d in result.documents) == [
        "bundle",
        "flood-hits-town",
        "index",  # a folder name that is no id leaves the stem
        "port-strike-ends",
    ]
    assert result.skipped == []
