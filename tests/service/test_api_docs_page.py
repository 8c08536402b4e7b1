"""/docs and /redoc render in a real headless Chromium with every other host blocked.

citeqa runs offline (``docker run --network none``); FastAPI's default pages load Swagger UI
from a CDN and are blank there. Requests to any host but the test server are aborted, as a
machine without a network would fail them, and recorded so the test names what was tried.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect

pytestmark = pytest.mark.browser

RENDER_TIMEOUT_MS = 30_000
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture
def blocked() -> list[str]:
    """URLs the page tried to load from other hosts; each test asserts there were none."""
    return []


@pytest.fixture
def offline_page(browser: Browser, blocked: list[str]) -> Iterator[Page]:
    context = browser.new_context()

    def only_local(route: Route) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            blocked.append(url)
            route.abort("internetdisconnected")

    context.route("**/*", only_local)
    page = context.new_page()
    yield page
    context.close()


def test_swagger_ui_renders_offline_and_authorize_sends_the_key(
    offline_page: Page, blocked: list[str], live_server_url: str, api_key: str
) -> None:
    page = offline_page
    page.goto(f"{live_server_url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text(
        "citeqa", timeout=RENDER_TIMEOUT_MS
    )
    expect(page.get_by_text("Answer a question with cited spans")).to_be_visible()

    page.locator("button.authorize").first.click()
    page.locator(".modal-ux input").first.fill(api_key)
    page.locator(".modal-ux button.authorize").click()
    page.locator(".modal-ux button.btn-done").click()

    # Deleting a document that does not exist: 404 with the key, 401 without it.
    operation = page.locator("#operations-documents-delete_document_v1_documents__doc_id__delete")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.locator("input[placeholder='doc_id']").fill("no-such-document")
    with page.expect_response(lambda r: "/v1/documents/no-such-document" in r.url) as sent:
        operation.get_by_role("button", name="Execute").click()
    assert sent.value.request.headers.get("authorization") == f"Bearer {api_key}"
    assert sent.value.status == 404
    assert blocked == []


def test_redoc_renders_offline(
    offline_page: Page, blocked: list[str], live_server_url: str
) -> None:
    page = offline_page
    page.goto(f"{live_server_url}/redoc")
    expect(page.locator("h1").first).to_contain_text("citeqa", timeout=RENDER_TIMEOUT_MS)
    heading = page.get_by_role("heading", name="Answer a question with cited spans")
    expect(heading).to_be_visible()
    # ReDoc's sidebar credit is an <img> of the Redocly logo from its CDN, removed by its own
    # onError handler when that fails: the one remote request the page makes, and harmless.
    assert [url for url in blocked if url != REDOCLY_LOGO] == []
