"""Token language models: the decoder-only Transformer, token layouts, the three stages, sampling.

Modules (imported on demand; nothing heavy happens at ``import audiolm_lib.lm``):

* :mod:`~audiolm_lib.lm.transformer` - ``Transformer(TransformerConfig)`` over embeddings, ``KVCache``;
* :mod:`~audiolm_lib.lm.layouts` - how conditioning + targets become one sequence (``flat`` and others);
* :mod:`~audiolm_lib.lm.base` - embeddings + Transformer + per-level heads: loss and windowed sampling;
* :mod:`~audiolm_lib.lm.stages` - ``SemanticLM``, ``CoarseLM``, ``FineLM`` and their configs;
* :mod:`~audiolm_lib.lm.sampling` - ``SamplingConfig``, ``sample_logits``, window arithmetic.
"""
