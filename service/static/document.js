/*
 * citeqa document viewer, served at /documents/{doc_id}#{start}-{end}.
 *
 * Fetches GET /v1/documents/{doc_id} and shows the original text with characters
 * [start, end) in a <mark>, scrolled into view. All document text goes in as text nodes,
 * never innerHTML, so markup inside an article shows literally.
 *
 * Stable hooks (element id / data-testid):
 *   #doc-status     doc-status      "Loading the article…"
 *   #doc-error      doc-error       the error message (the API's `detail`)
 *   #document       document        the article, shown once loaded
 *   #doc-title      doc-title       title (the doc id when the article has none)
 *   #doc-meta       doc-meta        "Publisher · date"
 *   #doc-url        doc-url         link to the original URL (http/https only)
 *   #doc-span-note  doc-span-note   explains a fragment that does not fit the text
 *   #doc-text       doc-text        the full original text
 *   #highlight      highlight       the <mark> around the cited span
 */
"use strict";

(function () {
  const byId = (id) => document.getElementById(id);

  /** The doc id is everything after /documents/ in the path, percent-decoded. */
  function documentIdFromPath(pathname) {
    const prefix = "/documents/";
    const at = pathname.indexOf(prefix);
    if (at < 0) return "";
    try {
      return decodeURIComponent(pathname.slice(at + prefix.length));
    } catch (_) {
      return "";
    }
  }

  /** "#120-142" -> {start: 120, end: 142}; anything else -> null. */
  function spanFromFragment(hash) {
    const match = /^#(\d+)-(\d+)$/.exec(hash || "");
    return match ? { start: Number(match[1]), end: Number(match[2]) } : null;
  }

  const { formatDate, errorMessage } = window.citeqaCommon;

  function safeUrl(value) {
    try {
      const url = new URL(value, window.location.href);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (_) {
      return null;
    }
  }

  function showError(message) {
    byId("doc-status").textContent = "";
    byId("doc-error").textContent = message;
    byId("doc-error").hidden = false;
  }

  function renderHeader(doc) {
    byId("doc-title").textContent = doc.title || doc.doc_id;
    document.title = `${doc.title || doc.doc_id} · citeqa`;
    byId("doc-meta").textContent = [doc.source, formatDate(doc.published)].filter(Boolean).join(" · ");
    const link = byId("doc-url");
    const href = doc.url ? safeUrl(doc.url) : null;
    if (href) {
      link.href = href;
      link.textContent = doc.url;
    }
    link.hidden = !href;
  }

  /** Renders the text with the span marked; returns the <mark>, or null when there is none. */
  function renderText(text, span) {
    const container = byId("doc-text");
    const note = byId("doc-span-note");
    note.hidden = true;
    if (!span) {
      container.replaceChildren(document.createTextNode(text));
      return null;
    }
    if (!(span.start < span.end && span.end <= text.length)) {
      container.replaceChildren(document.createTextNode(text));
      note.textContent = `The cited characters ${span.start}–${span.end} are outside this article.`;
      note.hidden = false;
      return null;
    }
    const mark = document.createElement("mark");
    mark.id = "highlight";
    mark.setAttribute("data-testid", "highlight");
    mark.textContent = text.slice(span.start, span.end);
    container.replaceChildren(
      document.createTextNode(text.slice(0, span.start)),
      mark,
      document.createTextNode(text.slice(span.end)),
    );
    return mark;
  }

  function showSpan(text) {
    const mark = renderText(text, spanFromFragment(window.location.hash));
    if (mark) mark.scrollIntoView({ block: "center" });
  }

  async function start() {
    const docId = documentIdFromPath(window.location.pathname);
    if (!docId) {
      showError("No article was named in the address.");
      return;
    }
    let response;
    try {
      response = await fetch("/v1/documents/" + encodeURIComponent(docId), {
        headers: { Accept: "application/json" },
      });
    } catch (_) {
      showError("Could not reach the service. Check your connection and try again.");
      return;
    }
    if (!response.ok) {
      showError(await errorMessage(response));
      return;
    }
    const doc = await response.json();
    renderHeader(doc);
    byId("doc-status").textContent = "";
    byId("document").hidden = false;
    showSpan(doc.text);
    // Following another citation to the same article only changes the fragment.
    window.addEventListener("hashchange", () => showSpan(doc.text));
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
