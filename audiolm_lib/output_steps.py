"""The pipeline's steps after the codec's decoder, as one function on the decoded audio.

In order: envelope matching to the prompt (:mod:`audiolm_lib.envelope_match`; only where the prompt's audio is
given), then the pitch postfilter (:mod:`audiolm_lib.postfilter`). Both are local in time, so a stream applies the
function to each decoded window (``ChunkedDecoder(postprocess=...)``). The strengths are read once, when the function
is built: a request may set its own without touching a model's config that other streams share.
"""
from __future__ import annotations

from typing import Callable

import torch

from audiolm_lib.envelope_match import PromptEnvelopeMatcher
from audiolm_lib.envelope_match import check_settings as check_envelope_settings
from audiolm_lib.postfilter import check_settings as check_postfilter_settings
from audiolm_lib.postfilter import pitch_postfilter


def build_output_steps(config, sample_rate: int, prompt_audio: torch.Tensor | None = None, *,
                       envelope_match: float | None = None,
                       postfilter: float | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """``Tensor[B, 1, T] -> Tensor[B, 1, T]`` at ``sample_rate``, by an ``AudioLMConfig``'s settings.

    Args:
        config: the pipeline's :class:`~audiolm_lib.pipeline_config.AudioLMConfig`.
        prompt_audio: ``Tensor[B, 1, P]`` the prompt's audio at ``sample_rate`` (None: no envelope matching).
        envelope_match / postfilter: strengths for this function only (None: ``config``'s).
    """
    envelope = config.envelope_match_strength if envelope_match is None else float(envelope_match)
    filtered = config.postfilter_strength if postfilter is None else float(postfilter)
    threshold = config.postfilter_threshold
    check_envelope_settings(envelope, config.envelope_match_neighbours, config.envelope_match_smoothing,
                            config.envelope_match_max_db)
    check_postfilter_settings(filtered, threshold)
    steps = []
    if prompt_audio is not None and envelope > 0:
        steps.append(PromptEnvelopeMatcher(prompt_audio, sample_rate, envelope, config.envelope_match_neighbours,
                                           config.envelope_match_smoothing, config.envelope_match_max_db))
    if filtered > 0:
        steps.append(lambda wave: pitch_postfilter(wave, sample_rate, filtered, threshold))

    def run(wave: torch.Tensor) -> torch.Tensor:
        for step in steps:
            wave = step(wave)
        return wave

    return run
