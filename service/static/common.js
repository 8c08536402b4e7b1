/*
 * Helpers shared by the chat page (app.js) and the document viewer (document.js).
 * Loaded first with `defer`, so both pages see `window.citeqaCommon`.
 */
"use strict";

window.citeqaCommon = (function () {
  /** "2025-06-18" or an ISO timestamp -> "18 Jun 2025"; anything else is shown as given. */
  function formatDate(value) {
    if (!value) return "";
    const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(value);
    if (!match) return String(value);
    const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
    return date.toLocaleDateString(undefined, {
      year: "numeric", month: "short", day: "numeric", timeZone: "UTC",
    });
  }

  /** The API's error message: `detail` is a string, or a list of pydantic errors for 422. */
  async function errorMessage(response) {
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      // Not JSON (a proxy's error page, say): fall back to the status line.
    }
    const detail = body && body.detail;
    if (typeof detail === "string" && detail) return detail;
    if (Array.isArray(detail) && detail.length) {
      return detail.map((error) => (error && error.msg) || String(error)).join("; ");
    }
    return `The service answered ${response.status} ${response.statusText}.`.trim();
  }

  return Object.freeze({ formatDate, errorMessage });
})();
