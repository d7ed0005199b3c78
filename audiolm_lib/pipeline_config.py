"""The pipeline's own settings (:class:`AudioLMConfig`): default sampling per stage, voice matching, the prompt's band,
the steps after the decoder (envelope matching, the postfilter), adapting the acoustic generator to each prompt.

Apart from :mod:`audiolm_lib.pipeline` so that a config can be read, checked and written without the models.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from audiolm_lib.audio import BAND_MODES
from audiolm_lib.envelope_match import check_settings as check_envelope_match_settings
from audiolm_lib.lm.prompt_adaptation import check_settings as check_prompt_adaptation_settings
from audiolm_lib.lm.sampling import SamplingConfig
from audiolm_lib.postfilter import check_settings as check_postfilter_settings
from audiolm_lib.voice_match import MATCHERS

VOICE_MATCH_METHODS = tuple(MATCHERS)  # "frames", "statistics": one entry per matcher


@dataclass
class AudioLMConfig:
    """Default sampling settings per stage (each call may override them)."""

    semantic: SamplingConfig = field(default_factory=lambda: SamplingConfig(temperature=1.0, top_k=None, top_p=None))
    coarse: SamplingConfig = field(default_factory=lambda: SamplingConfig(temperature=0.95, top_k=None, top_p=None))
    fine: SamplingConfig = field(default_factory=lambda: SamplingConfig(temperature=0.4, top_k=None, top_p=None))
    # a parallel acoustic generator's sampled levels (its later levels take the argmax)
    acoustic: SamplingConfig = field(default_factory=lambda: SamplingConfig(temperature=1.0, top_k=None, top_p=None))
    # render the continuation from the prompt's own codec frames (:mod:`audiolm_lib.voice_match`; speech), with the
    # setting chosen on the validation voices (BENCHMARKS.md, issue 20's eleventh pass) when it is turned on
    voice_match: bool = False
    # "frames": each frame from the prompt's nearest (PromptFrameMatcher); "statistics": each latent dimension
    # given the prompt's mean and spread (PromptStatisticsMatcher)
    voice_match_method: str = "frames"
    voice_match_neighbours: int = 4  # prompt frames averaged per generated frame (kNN-VC's k; "frames")
    voice_match_continuity: float = 0.05  # the bonus for the prompt's next frame ("frames")
    voice_match_strength: float = 1.0  # how far each frame moves toward the prompt's (1: all the way)
    voice_match_prior_frames: int = 10  # pseudo-frames of prompt statistics the running ones start from
    # "frames": the weight of what is said (the cosine of two frames' semantic k-means centroids) beside the codec
    # latents' cosine when prompt frames are chosen (0: the latents alone)
    voice_match_content_weight: float = 0.0
    # "frames": choose on latents less their voice's mean (PromptFrameMatcher's centre; voice_match_prior_frames)
    voice_match_centre: bool = False
    # the acoustic prompt's codes from the prompt through a channel of this band in Hz (None: as it is); the semantic
    # ids hear the whole band. The generator voices prompts whose upper band holds harmonics, not narrowband ones
    # (BENCHMARKS.md, issue 20's twelfth pass)
    prompt_band_hz: float | None = None
    # with prompt_band_hz, audio.band_channel's mode: "cut" (nothing above the band), "fold" (the band above filled
    # with mirror images of the band below) or "extend" (folded only into prompts that are narrowband already)
    prompt_band_mode: str = "cut"
    # the decoded audio through a pitch postfilter of this strength (:mod:`audiolm_lib.postfilter`; 0: off): each
    # voiced frame's harmonics reinforced, as speech codecs do, frames correlating below the threshold left alone
    postfilter_strength: float = 0.0
    postfilter_threshold: float = 0.5
    # the decoded continuation's spectral envelope moved, frame by frame, toward its nearest prompt frames' by this
    # share (:mod:`audiolm_lib.envelope_match`; 0: off), before the postfilter: the voice's timbre without decoding
    # again (BENCHMARKS.md, issue 20's fifteenth pass)
    envelope_match_strength: float = 0.0
    envelope_match_neighbours: int = 4  # prompt frames averaged per frame
    envelope_match_smoothing: int = 9  # frames (10 ms) each band's gain is averaged over
    envelope_match_max_db: float = 9.0  # no band moved by more
    # a copy of the parallel acoustic generator fine-tuned on each prompt for this many steps before it continues
    # it (:mod:`audiolm_lib.lm.prompt_adaptation`; 0: off): the prompt's voice for a generator that has not heard it
    prompt_adaptation_steps: int = 0
    prompt_adaptation_learning_rate: float = 1e-4
    prompt_adaptation_batch: int = 8  # masked copies of the prompt per step
    prompt_adaptation_parts: str = "all"  # the weights trained: "all" or "transformer" (embeddings and head kept)
    # a KL pull, of this weight, toward the generator's own predictions on new content the shipped stages make from the
    # prompt (prompt_adaptation.make_anchor; 0: off)
    prompt_adaptation_anchor_weight: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.voice_match_continuity) and self.voice_match_continuity >= 0):
            raise ValueError(f"voice_match_continuity must be a finite number >= 0, got {self.voice_match_continuity}")
        if not (math.isfinite(self.voice_match_content_weight) and self.voice_match_content_weight >= 0):
            raise ValueError(f"voice_match_content_weight must be a finite number >= 0, "
                             f"got {self.voice_match_content_weight}")
        if not 0 < self.voice_match_strength <= 1:
            raise ValueError(f"voice_match_strength must be in (0, 1], got {self.voice_match_strength}")
        if self.voice_match_neighbours < 1:
            raise ValueError(f"voice_match_neighbours must be >= 1, got {self.voice_match_neighbours}")
        if self.voice_match_method not in VOICE_MATCH_METHODS:
            raise ValueError(f"voice_match_method must be one of {', '.join(VOICE_MATCH_METHODS)}, "
                             f"got {self.voice_match_method!r}")
        if self.prompt_band_hz is not None and not (math.isfinite(self.prompt_band_hz) and self.prompt_band_hz > 0):
            raise ValueError(f"prompt_band_hz must be a positive number of Hz or None, got {self.prompt_band_hz}")
        if self.prompt_band_mode not in BAND_MODES:
            raise ValueError(f"prompt_band_mode must be one of {', '.join(BAND_MODES)}, got {self.prompt_band_mode!r}")
        check_postfilter_settings(self.postfilter_strength, self.postfilter_threshold)
        check_envelope_match_settings(self.envelope_match_strength, self.envelope_match_neighbours,
                                      self.envelope_match_smoothing, self.envelope_match_max_db)
        check_prompt_adaptation_settings(self.prompt_adaptation_steps, self.prompt_adaptation_learning_rate,
                                         self.prompt_adaptation_batch, self.prompt_adaptation_parts,
                                         self.prompt_adaptation_anchor_weight)
        if self.voice_match_prior_frames < 0:
            raise ValueError(f"voice_match_prior_frames must be >= 0, got {self.voice_match_prior_frames}")
