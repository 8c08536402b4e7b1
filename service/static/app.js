/*
 * citeqa chat page: asks POST /v1/query and renders the cited answer.
 *
 * Every string that comes from a document or an answer is rendered with textContent or
 * createTextNode, never innerHTML, so markup inside an article shows literally.
 *
 * Stable hooks for tests and embedders (element id / data-testid):
 *   #ask-form              ask-form             the question form (Enter submits)
 *   #question              question-input       the question box
 *   #ask-button            ask-button           the Ask button (disabled while loading)
 *   #filter-sources, #filter-from, #filter-to, #filter-top-k
 *                          filter-sources / filter-from / filter-to / filter-top-k
 *   #status                status               "Searching…" while a request is in flight
 *   #error                 error                the error message (the API's `detail`)
 *   #result                result               wraps everything below; shown after a reply
 *   #asked                 asked                the question that was answered
 *   #answer                answer               the answer card (hidden when answer is null)
 *   #answer-text           answer-text          the answer span's text
 *   #answer-qualifier      answer-qualifier     the scope or time its sentence gives it for
 *   #answer-quote          answer-quote         the quoted sentence; the span is its <mark>
 *                          answer-highlight     (the <mark> inside #answer-quote)
 *   #answer-citation       citation-link        the cited article's title, linking to
 *                                               /documents/{doc_id}#{char_start}-{char_end}
 *   #answer-publication    answer-publication   its publisher and date
 *   #answer-confidence     answer-confidence    e.g. "Confidence 87%"
 *   #supporting-list       supporting-list      other articles that report the same answer
 *   #no-answer             no-answer            shown when the answer is null
 *   #alternatives          alternatives         "Sources disagree" / "Other figures"
 *   #alternatives-heading  alternatives-heading
 *   #alternative-list      alternative-list     one li[data-testid=alternative] per
 *                                               alternative, holding alternative-text,
 *                                               alternative-quote and alternative-link
 *   #sources               sources              the Sources section
 *   #source-list           source-list          one li[data-testid=source-item] per passage,
 *                                               holding source-link, source-text and
 *                                               also-reported-by
 *   #timings               timings              total time the service reported
 *
 * Embedding: `/?q=question` asks the question on load.
 */
"use strict";

(function () {
  const QUERY_URL = "/v1/query";
  const REQUEST_TIMEOUT_MS = 60000;

  const byId = (id) => document.getElementById(id);

  /** Creates an element with optional class, text and attributes; text goes in as text. */
  function el(tag, options = {}) {
    const node = document.createElement(tag);
    if (options.className) node.className = options.className;
    if (options.text !== undefined && options.text !== null) node.textContent = String(options.text);
    for (const [name, value] of Object.entries(options.attrs || {})) node.setAttribute(name, value);
    return node;
  }

  const { formatDate, errorMessage } = window.citeqaCommon;

  function documentHref(docId, start, end) {
    const base = "/documents/" + encodeURIComponent(docId);
    return Number.isInteger(start) && Number.isInteger(end) ? `${base}#${start}-${end}` : base;
  }

  /** "Publisher · 18 Jun 2025", leaving out what is missing. */
  function describePublication(item) {
    return [item.source, formatDate(item.published)].filter(Boolean).join(" · ");
  }

  /** A link to the article (its title, or its id) followed by its publisher and date. */
  function sourceLine(item, href, linkAttrs = {}) {
    const fragment = document.createDocumentFragment();
    const link = el("a", { text: item.title || item.doc_id, attrs: { href, ...linkAttrs } });
    fragment.appendChild(link);
    const publication = describePublication(item);
    if (publication) fragment.appendChild(el("span", { className: "publication", text: publication }));
    return fragment;
  }

  /**
   * The quoted sentence as nodes, with the answer span in a <mark>.
   *
   * The span's offsets are document offsets, so they are shifted by sentence_start and the
   * sentence is sliced; searching for the answer text could mark the wrong occurrence.
   */
  function quotedSentence(citation, testId) {
    const sentence = citation.sentence || "";
    const start = citation.char_start - citation.sentence_start;
    const end = citation.char_end - citation.sentence_start;
    const fragment = document.createDocumentFragment();
    if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end &&
          end <= sentence.length)) {
      fragment.appendChild(document.createTextNode(sentence));
      return fragment;
    }
    fragment.appendChild(document.createTextNode(sentence.slice(0, start)));
    fragment.appendChild(el("mark", { text: sentence.slice(start, end), attrs: { "data-testid": testId } }));
    fragment.appendChild(document.createTextNode(sentence.slice(end)));
    return fragment;
  }

  function formatConfidence(confidence) {
    return typeof confidence === "number" ? `Confidence ${Math.round(confidence * 100)}%` : "";
  }

  function renderAnswer(answer) {
    const citation = answer.citation;
    byId("answer-text").textContent = answer.text;
    const qualifier = byId("answer-qualifier");
    qualifier.textContent = answer.qualifier || "";
    qualifier.hidden = !answer.qualifier;
    byId("answer-quote").replaceChildren(quotedSentence(citation, "answer-highlight"));
    const link = byId("answer-citation");
    link.textContent = citation.title || citation.doc_id;
    link.href = documentHref(citation.doc_id, citation.char_start, citation.char_end);
    byId("answer-publication").textContent = describePublication(citation);
    byId("answer-confidence").textContent = formatConfidence(answer.confidence);

    const supporting = byId("supporting-list");
    supporting.replaceChildren();
    for (const other of answer.supporting || []) {
      const item = el("li", { text: "Also in " });
      item.appendChild(sourceLine(other, documentHref(other.doc_id, other.char_start, other.char_end)));
      supporting.appendChild(item);
    }
    supporting.hidden = supporting.childElementCount === 0;
    byId("answer").hidden = false;
  }

  function renderAlternatives(alternatives, sourcesDisagree) {
    const section = byId("alternatives");
    const list = byId("alternative-list");
    list.replaceChildren();
    for (const alternative of alternatives) {
      const citation = alternative.citation;
      const item = el("li", { className: "alternative", attrs: { "data-testid": "alternative" } });
      const head = el("p", { className: "alternative-head" });
      head.appendChild(el("strong", { text: alternative.text, attrs: { "data-testid": "alternative-text" } }));
      if (alternative.qualifier) {
        // The scope or time the value is given for: "in February", "to date".
        head.appendChild(el("span", { className: "qualifier", text: ` ${alternative.qualifier}`, attrs: { "data-testid": "alternative-qualifier" } }));
      }
      if (alternative.disagrees) {
        head.appendChild(el("span", { className: "disagrees", text: " (disagrees)", attrs: { "data-testid": "alternative-disagrees" } }));
      }
      head.appendChild(el("span", { className: "dash", text: "—" }));
      head.appendChild(sourceLine(
        citation,
        documentHref(citation.doc_id, citation.char_start, citation.char_end),
        { "data-testid": "alternative-link" },
      ));
      item.appendChild(head);
      const quote = el("blockquote", { className: "quote", attrs: { "data-testid": "alternative-quote" } });
      quote.appendChild(quotedSentence(citation, "alternative-highlight"));
      item.appendChild(quote);
      list.appendChild(item);
    }
    byId("alternatives-heading").textContent = sourcesDisagree ? "Sources disagree" : "Other figures";
    section.hidden = !(sourcesDisagree || alternatives.length > 0);
  }

  function renderAlsoReportedBy(reports) {
    const paragraph = el("p", { className: "also-reported", attrs: { "data-testid": "also-reported-by" } });
    paragraph.appendChild(document.createTextNode("Also reported by "));
    reports.forEach((report, index) => {
      if (index > 0) paragraph.appendChild(document.createTextNode(", "));
      paragraph.appendChild(sourceLine(report, documentHref(report.doc_id)));
    });
    return paragraph;
  }

  function renderPassages(passages) {
    const list = byId("source-list");
    list.replaceChildren();
    for (const passage of passages) {
      const item = el("li", { className: "source-item", attrs: { "data-testid": "source-item" } });
      const head = el("p", { className: "source-head" });
      head.appendChild(el("span", { className: "rank", text: `#${passage.rank}` }));
      const title = el("span", { className: "source-title" });
      title.appendChild(sourceLine(
        passage,
        documentHref(passage.doc_id, passage.char_start, passage.char_end),
        { "data-testid": "source-link" },
      ));
      head.appendChild(title);
      item.appendChild(head);
      item.appendChild(el("p", { className: "source-text", text: passage.text, attrs: { "data-testid": "source-text" } }));
      if ((passage.also_reported_by || []).length > 0) {
        item.appendChild(renderAlsoReportedBy(passage.also_reported_by));
      }
      list.appendChild(item);
    }
    byId("sources").hidden = passages.length === 0;
  }

  function renderTimings(timings) {
    const values = Object.values(timings || {}).filter((value) => typeof value === "number");
    const total = "total" in (timings || {}) ? timings.total : values.reduce((a, b) => a + b, 0);
    byId("timings").textContent = values.length ? `Answered in ${Math.round(total)} ms` : "";
  }

  function renderResponse(question, response) {
    byId("asked").textContent = question;
    byId("answer").hidden = true;
    byId("no-answer").hidden = Boolean(response.answer);
    if (response.answer) renderAnswer(response.answer);
    renderAlternatives(response.alternatives || [], Boolean(response.sources_disagree));
    renderPassages(response.passages || []);
    renderTimings(response.timings_ms);
    byId("result").hidden = false;
  }

  function readRequest(question) {
    const request = { question };
    const topK = Number.parseInt(byId("filter-top-k").value, 10);
    if (Number.isInteger(topK)) request.top_k = topK;
    const filters = {};
    const sources = byId("filter-sources").value.split(",").map((s) => s.trim()).filter(Boolean);
    if (sources.length) filters.sources = sources;
    if (byId("filter-from").value) filters.published_from = byId("filter-from").value;
    if (byId("filter-to").value) filters.published_to = byId("filter-to").value;
    if (Object.keys(filters).length) request.filters = filters;
    return request;
  }

  function setLoading(loading) {
    byId("ask-button").disabled = loading;
    byId("ask-form").setAttribute("aria-busy", String(loading));
    byId("status").textContent = loading ? "Searching the articles…" : "";
  }

  function showError(message) {
    const error = byId("error");
    error.textContent = message;
    error.hidden = !message;
  }

  async function ask(question) {
    showError("");
    setLoading(true);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    try {
      const response = await fetch(QUERY_URL, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(readRequest(question)),
        signal: controller.signal,
      });
      if (!response.ok) {
        byId("result").hidden = true;
        showError(await errorMessage(response));
        return;
      }
      renderResponse(question, await response.json());
    } catch (error) {
      byId("result").hidden = true;
      showError(error.name === "AbortError"
        ? "The service took too long to answer. Please try again."
        : "Could not reach the service. Check your connection and try again.");
    } finally {
      clearTimeout(timer);
      setLoading(false);
    }
  }

  function onSubmit(event) {
    event.preventDefault();
    const question = byId("question").value.trim();
    if (!question) {
      showError("Please type a question.");
      byId("question").focus();
      return;
    }
    ask(question);
  }

  function start() {
    byId("ask-form").addEventListener("submit", onSubmit);
    const initial = new URLSearchParams(window.location.search).get("q");
    if (initial && initial.trim()) {
      byId("question").value = initial.trim();
      ask(initial.trim());
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
