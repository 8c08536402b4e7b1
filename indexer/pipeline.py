"""Turn loaded Documents into what the store keeps: clean -> annotate -> chunk -> embed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace

from citeqa.types import Chunk, Document
from indexer.annotate import Annotations, Annotator
from indexer.chunking import Chunker
from indexer.cleaning import classify_lines, content_blocks, paragraphs
from indexer.embedding import Embedder, Vectors
from indexer.metadata import extract_metadata, with_metadata


@dataclass(frozen=True)
class ProcessedDocument:
    document: Document
    chunks: list[Chunk]
    annotations: Annotations
    chunk_vectors: Vectors
    sentence_vectors: Vectors


def content_hash(document: Document) -> str:
    """Hash of the text and the metadata the source gave; unchanged files hash the same."""
    payload = json.dumps(
        [document.text, document.title, document.source, document.published, document.url]
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class DocumentProcessor:
    """Holds the models; processes documents in batches so embedding stays batched."""

    def __init__(self, embedder: Embedder, annotator: Annotator, chunker: Chunker) -> None:
        self.embedder = embedder
        self.annotator = annotator
        self.chunker = chunker

    def process(
        self, documents: Sequence[Document], show_progress: bool = False
    ) -> list[ProcessedDocument]:
        from tqdm import tqdm

        prepared: list[tuple[Document, list[Chunk], Annotations]] = []
        # spaCy takes about as long as the embedding on news text: show it too.
        for document in tqdm(
            documents, desc="annotating", unit="doc", disable=not show_progress, leave=False
        ):
            classified = classify_lines(document.text)
            metadata = extract_metadata(classified)
            filled = replace(with_metadata(document, metadata), content_hash=content_hash(document))
            annotations = self.annotator.annotate(filled.text, paragraphs(classified))
            if metadata.published_span and filled.published == metadata.published:
                annotations.metadata.append(metadata.published_span)
            chunks = self.chunker.chunk(
                filled.doc_id, filled.text, content_blocks(classified), annotations.sentences
            )
            prepared.append((filled, chunks, annotations))
        chunk_texts = [c.text for _, chunks, _ in prepared for c in chunks]
        sentence_texts = [
            doc.text[s.start : s.end] for doc, _, ann in prepared for s in ann.sentences
        ]
        chunk_vectors = self.embedder.encode_documents(chunk_texts, show_progress)
        sentence_vectors = self.embedder.encode_documents(sentence_texts, show_progress)
        result = []
        chunk_at = sentence_at = 0
        for document, chunks, annotations in prepared:
            n_chunks, n_sentences = len(chunks), len(annotations.sentences)
            result.append(
                ProcessedDocument(
                    document,
                    chunks,
                    annotations,
                    chunk_vectors[chunk_at : chunk_at + n_chunks],
                    sentence_vectors[sentence_at : sentence_at + n_sentences],
                )
            )
            chunk_at += n_chunks
            sentence_at += n_sentences
        return result
