"""A tiny word-piece tokenizer and a tiny random BERT, for the reader and training tests.

No checkpoint ships offline, so the training tests fine-tune a randomly initialised 2-layer
BERT (hidden 32) saved as a plain ``BertModel``, exactly as the packaged base model is found:
loading it for question answering adds a fresh span head.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch
from transformers import (  # type: ignore[attr-defined]  # 5.x: BertTokenizerFast is an alias
    BertConfig,
    BertForQuestionAnswering,
    BertModel,
    BertTokenizerFast,
    PreTrainedModel,
)

# Every word the fixtures use is one token; other words fall apart into letters ("##x").
_SENTENCES = [
    "who where what when did the zebra river cross crossed ranger said at dawn",
    "city council met on monday budget for schools ann bob sat ran home",
]
WORDS = [*(f"w{i}" for i in range(40)), *(w for line in _SENTENCES for w in line.split())]


def write_vocabulary(folder: Path, words: Sequence[str]) -> BertTokenizerFast:
    """vocab.txt in ``folder``: specials, ``words``, single characters and ``##`` letters."""
    letters = string.ascii_lowercase + string.digits
    vocabulary = [
        *["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
        *dict.fromkeys(words),
        *(c for c in letters + string.punctuation if c not in words),
        *(f"##{c}" for c in letters),
    ]
    (folder / "vocab.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    # from_pretrained, not BertTokenizerFast(vocab_file=...): transformers 5 ignores
    # vocab_file in the constructor and silently builds a 5-token vocabulary.
    return BertTokenizerFast.from_pretrained(folder, local_files_only=True)


def save_tiny_bert(
    folder: Path, tokenizer: BertTokenizerFast, model_class: type[PreTrainedModel] = BertModel
) -> Path:
    """A randomly initialised 2-layer BERT (hidden 32) and its tokenizer, saved to ``folder``."""
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    model_class(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def save_tiny_qa(tmp_path_factory: pytest.TempPathFactory, texts: Sequence[str]) -> Path:
    """A tiny random BERT QA checkpoint whose vocabulary holds every word of ``texts``."""
    # The tokenizer lower-cases and strips accents, so the vocabulary must too.
    words = sorted({w for t in texts for w in re.findall(r"\w+", t.lower().replace("ü", "u"))})
    tokenizer = write_vocabulary(tmp_path_factory.mktemp("vocab"), words)
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-qa"), tokenizer, BertForQuestionAnswering)
