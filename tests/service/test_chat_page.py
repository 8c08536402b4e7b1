"""The chat page and document viewer, driven in a real headless Chromium against the real app.

Needs two fixtures from tests/conftest.py: `live_server_url` (the app served by uvicorn over an
index of seeds/) and `api_key` (the key that server accepts for POST/DELETE /v1/documents).
Chromium is Debian's package (scripts/install-browser.sh); without it these tests skip.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser

# The first query may wait for models to warm up.
ANSWER_TIMEOUT_MS = 30_000

QUESTION = "How many people has Mexico extradited?"
# Headlines that open the seed articles; the article answering QUESTION opens with the first.
SEED_TITLES = (
    "Mexico president defends extradition of 37 cartel leaders",
    "Mexican Foreign Ministry denies report",
    "Mexico-US Relations Continue to Strain Over Organized Crime",
)

XSS_DOC_ID = "xss-test"
XSS_SCRIPT = "<script>window.__pwned = 1</script>"
XSS_TITLE = 'Markup test <img src="x" onerror="window.__pwned = 2">'
XSS_TEXT = (
    "This article checks that the viewer shows markup as text. "
    f"Here is a script tag: {XSS_SCRIPT} and here is <b>bold</b> markup. "
    "Neither may run or render as HTML."
)


@pytest.fixture
def page_errors() -> list[str]:
    """Uncaught JavaScript errors seen by `page`; each test asserts there were none."""
    return []


@pytest.fixture
def page(browser: Browser, page_errors: list[str]) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    yield page
    context.close()


@pytest.fixture
def xss_document(live_server_url: str, api_key: str) -> Iterator[str]:
    """Adds a document full of markup for one test, then deletes it."""
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=live_server_url, headers=headers, timeout=60) as client:
        created = client.post(
            "/v1/documents", json={"doc_id": XSS_DOC_ID, "text": XSS_TEXT, "title": XSS_TITLE}
        )
        assert created.is_success, created.text
        yield XSS_DOC_ID
        deleted = client.delete(f"/v1/documents/{XSS_DOC_ID}")
        assert deleted.is_success, deleted.text


def ask(page: Page, base_url: str, question: str) -> None:
    page.goto(f"{base_url}/")
    box = page.get_by_label("Your question")
    box.fill(question)
    box.press("Enter")


def test_question_shows_cited_answer_alternatives_and_sources(
    page: Page, page_errors: list[str], live_server_url: str
) -> None:
    ask(page, live_server_url, QUESTION)

    answer = page.get_by_test_id("answer")
    expect(answer).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    expect(page.get_by_test_id("answer-text")).to_contain_text("92")
    answer_text = page.get_by_test_id("answer-text").inner_text()
    # The <mark> is sliced from the quoted sentence by offsets, so it must equal the answer.
    expect(page.get_by_test_id("answer-highlight")).to_have_text(answer_text)
    expect(page.get_by_test_id("answer-confidence")).to_have_text(re.compile(r"\d+%"))

    sources = page.get_by_test_id("source-item").all_inner_texts()
    assert any(title in entry for entry in sources for title in SEED_TITLES), sources

    expect(page.get_by_test_id("alternatives")).to_be_visible()
    alternatives = page.get_by_test_id("alternative-text").all_inner_texts()
    assert any("37" in text for text in alternatives), alternatives
    assert any("29" in text for text in alternatives), alternatives

    page.get_by_test_id("citation-link").click()
    page.wait_for_url(re.compile(r"/documents/[^#]+#\d+-\d+$"))
    highlight = page.get_by_test_id("highlight")
    expect(highlight).to_have_text(answer_text)
    expect(highlight).to_be_in_viewport()
    expect(page.get_by_test_id("doc-title")).not_to_be_empty()
    assert page_errors == []


def test_rejected_question_shows_the_service_message(
    page: Page, page_errors: list[str], live_server_url: str
) -> None:
    page.goto(f"{live_server_url}/")
    page.get_by_text("Filters").click()
    page.get_by_label("Passages to show").fill("51")  # the API accepts 1..50
    page.get_by_label("Your question").fill(QUESTION)
    page.get_by_role("button", name="Ask").click()

    error = page.get_by_test_id("error")
    expect(error).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    expect(error).not_to_be_empty()
    expect(page.get_by_test_id("result")).to_be_hidden()
    assert page_errors == []


def test_document_markup_is_shown_as_text(
    page: Page, page_errors: list[str], live_server_url: str, xss_document: str
) -> None:
    page.goto(f"{live_server_url}/documents/{xss_document}")

    text = page.get_by_test_id("doc-text")
    expect(text).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    expect(page.get_by_text(XSS_SCRIPT)).to_be_visible()
    expect(text).to_contain_text("<b>bold</b>")
    expect(page.get_by_test_id("doc-title")).to_have_text(XSS_TITLE)
    assert page.locator("#document script, #document b, #document img").count() == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page_errors == []
