"""Token language models: the Transformer, token layouts, the semantic stage, the acoustic generators (the shipped
parallel one, the paper's coarse + fine stages), sampling.

Modules (imported on demand; nothing heavy happens at ``import audiolm_lib.lm``):

* :mod:`~audiolm_lib.lm.transformer` - ``Transformer(TransformerConfig)`` over embeddings, ``KVCache``;
* :mod:`~audiolm_lib.lm.layouts` - how conditioning + targets become one sequence (``flat``), and the registry
  of layout names a stage config picks from (``flat``, ``multiscale``, ``delay``);
* :mod:`~audiolm_lib.lm.layout_lm` - ``LayoutLM``, the stages' base: builds the model its layout needs;
* :mod:`~audiolm_lib.lm.framewise` - what the one-position-per-frame layouts share;
* :mod:`~audiolm_lib.lm.multiscale` - global Transformer over frames + small local Transformer over levels;
* :mod:`~audiolm_lib.lm.delay` - MusicGen-style delay pattern (level k delayed by k steps);
* :mod:`~audiolm_lib.lm.base` - the sequential stages' embeddings + Transformer + per-level heads: loss and
  windowed sampling;
* :mod:`~audiolm_lib.lm.stages` - ``SemanticLM``, ``CoarseLM``, ``FineLM`` and their configs;
* :mod:`~audiolm_lib.lm.sampling` - ``SamplingConfig``, ``sample_logits``, window arithmetic;
* :mod:`~audiolm_lib.lm.parallel` - ``ParallelAcousticLM``: SoundStorm-style masked parallel acoustic generator
  (the one the shipped checkpoints use);
* :mod:`~audiolm_lib.lm.hierarchical` - the paper's coarse + fine stages as one acoustic generator;
* :mod:`~audiolm_lib.lm.masking` - its training mask and MaskGIT decoding schedule;
* :mod:`~audiolm_lib.lm.quantize` - int8 dynamic quantisation of Linear layers for CPU inference.
"""
