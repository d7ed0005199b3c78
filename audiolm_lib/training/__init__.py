"""Training: token caches, the stage and codec trainers, HuBERT iteration 1, checkpoints, distributed runs.

* :mod:`~audiolm_lib.training.config` / :mod:`~audiolm_lib.training.trainer` / :mod:`~audiolm_lib.training.data` -
  a language-model stage's run config, loop and batches;
* :mod:`~audiolm_lib.training.codec_config` / :mod:`~audiolm_lib.training.codec_trainer` /
  :mod:`~audiolm_lib.training.codec_objectives` - a codec's run config, loop and losses;
* :mod:`~audiolm_lib.training.token_cache` - tokenizer + codec ids of a dataset, on disk;
* :mod:`~audiolm_lib.training.hubert` - HuBERT iteration 1 (masked prediction of MFCC k-means targets);
* :mod:`~audiolm_lib.training.schedule`, :mod:`~audiolm_lib.training.ema`, :mod:`~audiolm_lib.training.state`,
  :mod:`~audiolm_lib.training.metrics`, :mod:`~audiolm_lib.training.distributed` - what the loops share.

Nothing outside ``training/`` and ``cli/`` imports from here (``tests/test_imports.py``).
"""
