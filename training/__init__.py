"""Training the span reader, apart from serving: labels, fine-tuning, model card, ONNX export.

Only `citeqa reader train / export` import it (lazily, for torch and transformers); nothing
under service/ does, so a server never loads torch.
"""
