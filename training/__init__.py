"""Training the span reader, apart from serving: labels, fine-tuning, model card, ONNX export.

`citeqa reader` (citeqa/reader_cli.py) is its one user: it reads `TrainConfig` for its
options' defaults, and imports the rest, with torch and transformers, only when a command
runs. Nothing under service/ imports it, so a server never loads torch for it.
"""
