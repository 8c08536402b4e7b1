"""Tombstones: how a write deletes a document without changing its segment.

A segment is never rewritten to delete a document. The draft's entry for the segment lists
the document (``SegmentEntry.deleted``, saved in the manifest), readers mask its chunks,
and its chunks leave the corpus statistics at once, so scores never count them. A merge
(:mod:`indexer.merging`) later drops the deleted documents for good. Tantivy's
``delete_queue`` plays this part.
"""

from __future__ import annotations

import numpy as np

from indexer.draft import Draft
from indexer.errors import DocumentNotFoundError
from indexer.report import BuildReport


def delete(draft: Draft, report: BuildReport, doc_ids: list[str]) -> None:
    """Tombstone each of ``doc_ids`` (all in the draft, see :func:`check_deletions`)."""
    for doc_id in doc_ids:
        tombstone(draft, doc_id)
    report.deleted = list(doc_ids)


def tombstone(draft: Draft, doc_id: str) -> None:
    """Mark a document deleted in its segment and take it out of the statistics."""
    name = draft.locations.pop(doc_id)
    draft.hashes.pop(doc_id, None)
    entry = draft.segments[name]
    segment = draft.segment(draft.folder(name))
    row = segment.row_of(doc_id)
    chunk_rows = segment.chunk_rows(row)
    rows = np.arange(chunk_rows.start, chunk_rows.stop, dtype=np.int64)
    keys, df = segment.terms.chunk_counts(rows)
    length = int(np.asarray(segment.terms.chunk_length[rows], dtype=np.int64).sum())
    draft.stats = draft.stats.changed(-len(rows), -length, keys, -df)
    entry.deleted.append(doc_id)
    entry.deleted_chunks += len(rows)
    entry.deleted_sentences += len(segment.sentence_rows(row))


def check_deletions(deletions: list[str], existing: dict[str, str]) -> None:
    """Refuse a delete of an id the index does not hold, before anything is written.

    Raises:
        DocumentNotFoundError: one of ``deletions`` is not in ``existing``.
    """
    missing = [d for d in deletions if d not in existing]
    if missing:
        raise DocumentNotFoundError(
            f"not in the index: {', '.join(missing)}; list ids with "
            "`citeqa index stats --json` or GET /v1/documents"
        )
