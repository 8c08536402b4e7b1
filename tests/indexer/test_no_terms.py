"""A document with no BM25 terms ("It is.") is valid text: it is indexed and served."""

from __future__ import annotations

from pathlib import Path

from citeqa.config import Settings
from citeqa.types import Document
from indexer.factory import make_writer
from indexer.index import load_index
from indexer.processing import DocumentProcessor
from service.retrieval.hybrid import BM25Retriever
from service.retrieval.retriever import Retriever

NO_TERMS = Document(doc_id="it-is", text="It is.\n")


def test_an_index_of_one_termless_document_builds_and_searches(
    tmp_path: Path, settings: Settings, processor: DocumentProcessor
) -> None:
    report = make_writer(settings, tmp_path / "index", processor).add_documents([NO_TERMS])
    assert report.added == ["it-is"] and report.chunks == 1
    index = load_index(tmp_path / "index", processor.embedder)
    assert BM25Retriever(index).search("it is", 5) == []
    vector = processor.embedder.encode_query("Is it?")
    passages = Retriever(index).retrieve("Is it?", vector, 3)
    assert [passage.chunk.doc_id for passage in passages] == ["it-is"]


def test_deleting_every_other_document_leaves_a_loadable_index(
    writable_index_dir: Path, settings: Settings, processor: DocumentProcessor
) -> None:
    writer = make_writer(settings, writable_index_dir, processor)
    writer.add_documents([NO_TERMS])
    others = [d for d in load_index(writable_index_dir).documents if d != "it-is"]
    report = writer.delete(others)
    assert report.documents == 1
    assert list(load_index(writable_index_dir, processor.embedder).documents) == ["it-is"]
    # and BM25 comes back with the next document that has terms
    writer.add_documents([Document(doc_id="ferry", text="The ferry to Cozumel resumed.\n")])
    index = load_index(writable_index_dir, processor.embedder)
    found = BM25Retriever(index).search("Cozumel ferry", 5)
    assert [index.chunks[r.position].doc_id for r in found] == ["ferry"]
