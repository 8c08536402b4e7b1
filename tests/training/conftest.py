"""The training tests' tiny tokenizer and tiny random BERT base model, built once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from transformers import BertTokenizerFast  # type: ignore[attr-defined]  # 5.x: an alias

from tests.tiny_bert import WORDS, save_tiny_bert, write_vocabulary


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with vocab.txt: specials, WORDS, single characters and ``##`` letters."""
    folder = tmp_path_factory.mktemp("vocab")
    write_vocabulary(folder, WORDS)
    return folder


@pytest.fixture(scope="session")
def tokenizer(tokenizer_dir: Path) -> BertTokenizerFast:
    return BertTokenizerFast.from_pretrained(tokenizer_dir, local_files_only=True)


@pytest.fixture(scope="session")
def base_model_dir(
    tmp_path_factory: pytest.TempPathFactory, tokenizer: BertTokenizerFast
) -> Iterator[Path]:
    """A tiny random BERT encoder with its tokenizer, saved like a downloaded base model."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), tokenizer)
