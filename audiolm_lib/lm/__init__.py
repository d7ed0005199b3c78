"""Token language models: the decoder-only Transformer, token layouts, the three stages, sampling."""
