"""What a codec is trained to minimise, one class per family, behind one small interface.

``objective.backward(model, wave, num_levels, step)`` computes the generator's losses on a batch, calls
``backward`` (updating its own discriminator first where it has one) and returns ``(stats, perplexity)``;
the trainer then clips, steps the generator optimizer and the EMA. The trainer never branches on the codec.

- :class:`WaveformObjective` (SoundStream): L1 time + multi-resolution STFT + multi-scale mel, optionally
  adversarial (waveform + STFT discriminators, hinge) and feature matching, balanced by EnCodec's balancer.
- :class:`SpectralObjective` (SpectralCodec): L1 log-magnitude + spectral convergence on the STFT grid (no
  waveform synthesis in the loop); with a learned phase, APNet's anti-wrapping phase losses and a real/imaginary
  L1 on the complex spectrum; with ``spectral_adversarial``, a multi-band discriminator on the log-magnitude
  (hinge) and feature matching, which undo the regression losses' smoothing of the harmonics.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from audiolm_lib.codecs.losses import (
    LossBalancer,
    MultiResolutionSTFTLoss,
    MultiScaleMelLoss,
    discriminator_hinge_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)

if TYPE_CHECKING:  # pragma: no cover
    from audiolm_lib.training.codec_config import CodecTrainConfig


class AdversarialTraining:
    """A discriminator with its Adam optimizer and warm-up/cosine schedule: one hinge update on detached outputs per
    step (:meth:`update`), then the generator's hinge and feature-matching losses (:meth:`generator_losses`). Both
    objectives use it; what they feed it (waves, or normalised log-magnitudes) is theirs."""

    def __init__(self, discriminator: torch.nn.Module, config: "CodecTrainConfig", dist):
        from audiolm_lib.training.distributed import wrap_ddp
        from audiolm_lib.training.schedule import warmup_cosine

        self.grad_clip = config.grad_clip
        self.discriminator = discriminator.to(dist.device)
        self.discriminator_ddp = wrap_ddp(self.discriminator, dist)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=config.discriminator_lr, betas=config.betas)
        self.sched_d = warmup_cosine(self.opt_d, config.warmup_steps, config.steps, config.min_lr_ratio)

    def update(self, real: torch.Tensor, fake: torch.Tensor) -> float:
        """One discriminator step on ``real`` and the detached ``fake``; returns its hinge loss."""
        real_logits, _ = self.discriminator_ddp(real)
        fake_logits, _ = self.discriminator_ddp(fake.detach())
        loss_d = discriminator_hinge_loss(real_logits, fake_logits)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        torch.nn.utils.clip_grad_norm_(self.discriminator.parameters(), self.grad_clip)
        self.opt_d.step()
        self.sched_d.step()
        return loss_d.item()

    def generator_losses(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"adversarial", "feature"}`` of ``fake`` (through the plain module: its weights are not updated here)."""
        fake_logits, fake_features = self.discriminator(fake)
        with torch.no_grad():
            _, real_features = self.discriminator(real)
        return {"adversarial": generator_adversarial_loss(fake_logits),
                "feature": feature_matching_loss(real_features, fake_features)}

    def state_dict(self) -> dict:
        return {"discriminator": self.discriminator.state_dict(), "opt_d": self.opt_d.state_dict(),
                "sched_d": self.sched_d.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.discriminator.load_state_dict(state["discriminator"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.sched_d.load_state_dict(state["sched_d"])


class SpectralObjective:
    """Losses of a :class:`~audiolm_lib.codecs.spectral.SpectralCodec` on the STFT grid."""

    def __init__(self, config: "CodecTrainConfig", model: torch.nn.Module, dist):
        from audiolm_lib.measures import mel_filterbank

        self.config = config
        self.floor = math.log(model.config.magnitude_floor)
        # log-mel L1 on the same STFT grid: weights low frequencies as hearing (and the mel-distance metric) do,
        # where the plain log-magnitude L1 gives most of its weight to the many bins above 2 kHz
        self.mel_filters = mel_filterbank(model.sample_rate, model.config.n_fft, config.spectral_mel_bands)
        self.adversary = None
        if config.spectral_adversarial:
            from audiolm_lib.codecs.discriminators import SpectrogramDiscriminator

            bins = model.config.n_fft // 2 + 1
            self.adversary = AdversarialTraining(SpectrogramDiscriminator(bins, config.spectrogram_discriminator),
                                                 config, dist)

    def losses(self, out) -> dict[str, torch.Tensor]:
        """The named losses of a :class:`~audiolm_lib.codecs.spectral.SpectralCodecOutput`."""
        predicted = out.log_magnitude.clamp_min(self.floor)  # below the floor counts as the floor, as in the metrics
        target_magnitude = out.target.abs()
        magnitude = torch.exp(out.log_magnitude.clamp(max=math.log(1e3)))
        filters = self.mel_filters.to(magnitude.device, magnitude.dtype)
        mel, target_mel = filters @ magnitude, filters @ target_magnitude
        losses = {
            "magnitude": F.l1_loss(predicted, out.target_log_magnitude),
            "convergence": torch.linalg.norm(magnitude - target_magnitude) / torch.linalg.norm(target_magnitude).clamp_min(1e-7),
            "mel": F.l1_loss(torch.log(mel.clamp_min(1e-5)), torch.log(target_mel.clamp_min(1e-5))),
        }
        if out.phase is not None:
            from audiolm_lib.codecs.phase_losses import phase_losses

            phases = phase_losses(out.phase, torch.angle(out.target), target_magnitude.detach())
            losses["phase"] = phases["ip"] + phases["gd"] + phases["iaf"]
            scale = target_magnitude.mean().clamp_min(1e-7)
            predicted_spec = torch.polar(magnitude, out.phase)
            losses["complex"] = (F.l1_loss(predicted_spec.real, out.target.real) + F.l1_loss(predicted_spec.imag, out.target.imag)) / scale
        return losses

    def backward(self, model, wave: torch.Tensor, num_levels: int, step: int,
                 latent_transform=None) -> tuple[dict[str, float], torch.Tensor]:
        config = self.config
        out = model(wave, num_levels=num_levels, latent_transform=latent_transform)
        losses = self.losses(out)
        stats: dict[str, float] = {}
        if self.adversary is not None and step >= config.adversarial_start_step:
            fake, real = self._normalised(out.log_magnitude), self._normalised(out.target_log_magnitude)
            self.adversary.discriminator.train()
            stats["loss_discriminator"] = self.adversary.update(real, fake)
            losses.update(self.adversary.generator_losses(real, fake))
        weights = {"magnitude": config.weight_magnitude, "convergence": config.weight_convergence,
                   "mel": config.weight_mel, "phase": config.weight_phase, "complex": config.weight_complex,
                   "adversarial": config.weight_adversarial, "feature": config.weight_feature}
        total = sum(weights[name] * loss for name, loss in losses.items()) + config.commitment_weight * out.commitment_loss
        total.backward()
        stats.update({f"loss_{name}": loss.item() for name, loss in losses.items()})
        stats["commitment"] = out.commitment_loss.item()
        return stats, out.perplexity.detach().cpu()

    def _normalised(self, log_magnitude: torch.Tensor) -> torch.Tensor:
        from audiolm_lib.codecs.spectral import LOG_OFFSET, LOG_SCALE

        return (log_magnitude.clamp_min(self.floor) - LOG_OFFSET) / LOG_SCALE

    def state_dict(self) -> dict:
        return {} if self.adversary is None else self.adversary.state_dict()

    def load_state_dict(self, state: dict) -> None:
        if self.adversary is not None:
            self.adversary.load_state_dict(state)


class WaveformObjective:
    """SoundStream / EnCodec losses on the reconstructed waveform, with an optional adversarial stage."""

    def __init__(self, config: "CodecTrainConfig", model: torch.nn.Module, dist):
        from audiolm_lib.codecs.discriminators import CodecDiscriminator

        self.config = config
        self.adversary = AdversarialTraining(CodecDiscriminator(config.discriminator), config, dist)
        self.stft_loss = MultiResolutionSTFTLoss(config.stft_fft_sizes)
        self.mel_loss = MultiScaleMelLoss(model.sample_rate, config.mel_fft_sizes).to(dist.device)
        self.weights = {"time": config.weight_time, "stft": config.weight_stft, "mel": config.weight_mel,
                        "adversarial": config.weight_adversarial, "feature": config.weight_feature}
        self.balancer = LossBalancer(self.weights)

    def backward(self, model, wave: torch.Tensor, num_levels: int, step: int) -> tuple[dict[str, float], torch.Tensor]:
        config = self.config
        out = model(wave, num_levels=num_levels)
        fake = out.audio
        adversarial = step >= config.adversarial_start_step
        stats: dict[str, float] = {}
        self.adversary.discriminator.train()
        if adversarial:  # discriminator update on detached reconstructions
            stats["loss_discriminator"] = self.adversary.update(wave, fake)
        losses = {"time": F.l1_loss(fake, wave), "stft": self.stft_loss(fake, wave), "mel": self.mel_loss(fake, wave)}
        if adversarial:
            losses.update(self.adversary.generator_losses(wave, fake))
        commitment = out.commitment_loss * config.commitment_weight
        if config.use_balancer:
            grad = self.balancer.gradient(losses, fake)
            torch.autograd.backward([fake, commitment], [grad, torch.ones_like(commitment)])
        else:
            total = sum(self.weights[name] * loss for name, loss in losses.items()) + commitment
            total.backward()
        stats.update({f"loss_{name}": loss.item() for name, loss in losses.items()})
        stats["commitment"] = out.commitment_loss.item()
        return stats, out.perplexity.detach().cpu()

    def state_dict(self) -> dict:
        return {**self.adversary.state_dict(), "balancer": self.balancer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.adversary.load_state_dict(state)
        self.balancer.load_state_dict(state["balancer"])
