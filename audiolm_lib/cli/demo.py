"""``audiolm demo``, ``audiolm continue`` and ``audiolm info``: hear a model, continue your audio, inspect a checkpoint."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from audiolm_lib.cli.common import check_device, check_number, check_seconds, friendly_errors

DEMO_OUTPUTS = ("prompt.wav", "continuation.wav", "prompt_and_continuation.wav", "demo.png", "demo.json", "run")
INT8_HELP = ("int8 Linear layers on CPU: auto = where measured faster (a parallel acoustic model, ~1.5x), on = every "
             "language model (slower for small sequential stages), off.")


@friendly_errors
def demo_command(
    out: Path = typer.Option(Path("demo_out"), "--out", "-o", help="Folder for prompt.wav, continuation.wav and demo.png."),
    speech: bool = typer.Option(False, "--speech", help="Continue speech instead of piano."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="AudioLM folder (default: checkpoints/piano or checkpoints/speech)."),
    prompt: Optional[Path] = typer.Option(None, "--prompt", help="Your own prompt audio instead of a rendered, unseen one."),
    prompt_seconds: float = typer.Option(3.0, "--prompt-seconds", help="Length of the prompt."),
    seconds: float = typer.Option(7.0, "--seconds", "-s", help="Length of the continuation."),
    retrain: bool = typer.Option(False, "--retrain", help="Build the data and train the small recipe instead of loading a checkpoint."),
    budget_minutes: float = typer.Option(30.0, "--budget-minutes", help="Training time of --retrain (codec, semantic stage and parallel acoustic generator)."),
    tiny: bool = typer.Option(False, "--tiny", help="With --retrain: a seconds-scale run (smoke test; the audio is noise)."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed: the same seed gives the same continuation."),
    temperature: Optional[float] = typer.Option(None, "--temperature", help="Override the sampling temperature of all stages."),
    threads: int = typer.Option(0, "--threads", help="torch CPU threads (0: torch's default)."),
    int8: str = typer.Option("auto", "--int8", help=INT8_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Write into a non-empty --out folder that holds other files."),
) -> None:
    """Continue an unseen piano (or --speech) prompt with the shipped small models; writes WAVs and a plot."""
    import torch

    from audiolm_lib.demo import run_demo
    from audiolm_lib.outputs import check_output_dir, holds_only

    check_seconds("--seconds", seconds)
    check_seconds("--prompt-seconds", prompt_seconds)
    check_number("--budget-minutes", budget_minutes, 0.0, 7 * 24 * 60, open_low=True)
    check_number("--temperature", temperature, 0.0, 100.0)
    check_number("--threads", threads, 0, 1024)
    check_output_dir(out, "output folder (--out)", inputs=[prompt, checkpoint], fresh=True, overwrite=overwrite,
                     ours=holds_only(*DEMO_OUTPUTS))
    if threads > 0:
        torch.set_num_threads(threads)
    result = run_demo(out, "speech" if speech else "piano", checkpoint=checkpoint, prompt_path=prompt,
                      prompt_seconds=prompt_seconds, seconds=seconds, retrain=retrain, budget_minutes=budget_minutes,
                      tiny=tiny, seed=seed, temperature=temperature, int8=int8, log=typer.echo)
    typer.echo(f"model:        {result.model_dir}")
    typer.echo(f"prompt:       {result.prompt}")
    typer.echo(f"continuation: {result.continuation}")
    typer.echo(f"both:         {result.combined}")
    typer.echo(f"plot:         {result.plot}")
    typer.echo(f"done in {result.seconds_taken:.1f} s; listen with e.g. `play {result.combined}`")


@friendly_errors
def continue_command(
    model_dir: Path = typer.Argument(..., help="AudioLM folder (AudioLM.save_pretrained / checkpoints/piano)."),
    prompt: Path = typer.Argument(..., help="Prompt audio file (any rate; stereo is downmixed)."),
    out: Path = typer.Option(Path("continuation.wav"), "--out", "-o", help="Output audio file (.wav, .flac or .ogg; - = WAV to standard output, streamed)."),
    seconds: float = typer.Option(5.0, "--seconds", "-s", help="Length of the continuation."),
    prompt_seconds: Optional[float] = typer.Option(None, "--prompt-seconds", help="Use only the first seconds of the prompt."),
    with_prompt: bool = typer.Option(False, "--with-prompt", help="Write the re-synthesised prompt (the part the models use) before the continuation."),
    temperature: Optional[float] = typer.Option(None, "--temperature", help="Sampling temperature (all stages; 0 = greedy)."),
    top_k: Optional[int] = typer.Option(None, "--top-k", help="Sample among the k likeliest tokens."),
    top_p: Optional[float] = typer.Option(None, "--top-p", help="Nucleus sampling mass."),
    prompt_prior: Optional[float] = typer.Option(None, "--prompt-prior", help="How far the parallel acoustic generator leans toward the prompt's own codes (0 = not at all; default: the model's)."),
    semantic_guidance: Optional[float] = typer.Option(None, "--semantic-guidance", help="Classifier-free guidance on the prompt in the semantic stage (1 = none; default: the model's, checkpoints/piano 3)."),
    semantic_prompt_prior: Optional[float] = typer.Option(None, "--semantic-prompt-prior", help="How far the semantic stage leans toward the prompt's own ids (0 = not at all; default: the model's, checkpoints/piano 0.5)."),
    voice_match: Optional[str] = typer.Option(None, "--voice-match", help="on / off, or on by one method: frames (each generated frame replaced by the prompt's nearest codec frames: much more of the prompt's voice, worse sound on real recordings) or statistics (each codec latent dimension given the prompt's mean and spread); on: the model's method. Speech only; default: the model's (on in checkpoints/speech, frames at strength 0.75; off in checkpoints/piano)."),
    postfilter: Optional[float] = typer.Option(None, "--postfilter", help="Strength of the pitch postfilter on the decoded audio, 0 to 1 (0 = off): each voiced frame's harmonics reinforced, as speech codecs do. Default: the model's."),
    envelope_match: Optional[float] = typer.Option(None, "--envelope-match", help="How far each frame of the decoded continuation takes the spectral envelope of its nearest prompt frames, 0 to 1 (0 = off): more of the prompt's timbre, its own pitch and level kept. Default: the model's."),
    adapt_steps: Optional[int] = typer.Option(None, "--adapt-steps", help="Fine-tune a copy of the parallel acoustic generator on the prompt for this many steps before it continues it (0 = off; the generator then stays float, whatever --int8 says): more of an unheard voice, seconds more per call. Default: the model's."),
    adapt_parts: Optional[str] = typer.Option(None, "--adapt-parts", help="The weights --adapt-steps trains: all, or transformer (the code embeddings and output head kept as shipped; on validation voices, with --adapt-lr 3e-4: more of the voice, rougher sound). Default: the model's."),
    adapt_lr: Optional[float] = typer.Option(None, "--adapt-lr", help="AdamW's learning rate for --adapt-steps (default: the model's, 1e-4 in the shipped ones)."),
    adapt_anchor: Optional[float] = typer.Option(None, "--adapt-anchor", help="Weight of the pull that holds the --adapt-steps copy to the generator's own predictions on 2 s of new content made from the prompt (0 = off; at 3, with --adapt-steps 60 and --envelope-match 0.5: more of the voice on held-out voices, rougher sound on real recordings). Default: the model's."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    int8: str = typer.Option("auto", "--int8", help=INT8_HELP),
    stream: bool = typer.Option(False, "--stream", help="Write the WAV as it is generated (a valid file at every moment; implied by -o -) and print the time to first audio and the real-time factor."),
) -> None:
    """Continue a prompt file with a trained AudioLM and write the result.

    Only the end of the prompt that the models use (their longest context window) is read, so a long
    recording costs what a short one does.
    """
    import torch

    from audiolm_lib.audio import MAX_DECODED_SAMPLES, save_audio
    from audiolm_lib.outputs import AUDIO_WRITE_FORMATS, check_output_file
    from audiolm_lib.pipeline import AudioLM
    from audiolm_lib.pipeline_config import VOICE_MATCH_METHODS

    check_seconds("--seconds", seconds)
    check_seconds("--prompt-seconds", prompt_seconds, high=float("inf"))  # only the tail the models use is read
    check_number("--temperature", temperature, 0.0, 100.0)
    check_number("--top-p", top_p, 0.0, 1.0, open_low=True)
    check_number("--top-k", top_k, 1, 1 << 20)
    check_number("--prompt-prior", prompt_prior, 0.0, 100.0)
    check_number("--semantic-guidance", semantic_guidance, 0.0, 100.0)
    check_number("--semantic-prompt-prior", semantic_prompt_prior, 0.0, 100.0)
    check_number("--postfilter", postfilter, 0.0, 1.0)
    check_number("--envelope-match", envelope_match, 0.0, 1.0)
    check_number("--adapt-steps", adapt_steps, 0, 10_000)
    check_number("--adapt-lr", adapt_lr, 0.0, 1.0, open_low=True)
    check_number("--adapt-anchor", adapt_anchor, 0.0, 1000.0)
    if adapt_parts is not None:
        from audiolm_lib.lm.prompt_adaptation import ADAPTED_PARTS

        if adapt_parts not in ADAPTED_PARTS:
            raise ValueError(f"--adapt-parts must be one of {', '.join(ADAPTED_PARTS)}, got {adapt_parts!r}")
    check_device(device)
    to_stdout = str(out) == "-"
    stream = stream or to_stdout
    if stream and with_prompt:
        raise ValueError("--with-prompt cannot be combined with --stream (or -o -)")
    if not to_stdout:  # before minutes of generation; never the prompt itself
        check_output_file(out, (".wav",) if stream else AUDIO_WRITE_FORMATS, "output file (-o)",
                          inputs=[prompt, model_dir])
    if not model_dir.exists():
        raise FileNotFoundError(f"model folder not found: {model_dir}")
    if int8 not in ("auto", "on", "off"):
        raise ValueError(f"--int8 must be auto, on or off, got {int8!r}")
    if voice_match not in (None, "on", "off", *VOICE_MATCH_METHODS):
        raise ValueError(f"--voice-match must be on, off, {' or '.join(VOICE_MATCH_METHODS)}, got {voice_match!r}")
    model = AudioLM.from_pretrained(model_dir, map_location=device)
    if seconds * model.sample_rate > MAX_DECODED_SAMPLES:  # a 384 kHz codec config: an hour is 1.4e9 samples
        raise ValueError(f"--seconds {seconds:g} at {model.sample_rate} Hz is more than {MAX_DECODED_SAMPLES:,} "
                         "samples; ask for less")
    if prompt_prior is not None:
        config = getattr(model.acoustic, "config", None)
        if not hasattr(config, "prompt_prior"):
            raise ValueError(f"--prompt-prior needs a parallel acoustic generator; this model's is "
                             f"{type(model.acoustic).__name__}")
        config.prompt_prior = prompt_prior
    if semantic_guidance is not None:
        model.semantic_lm.config.guidance_scale = semantic_guidance
    if semantic_prompt_prior is not None:
        model.semantic_lm.config.prompt_prior = semantic_prompt_prior
    if voice_match is not None:
        model.config.voice_match = voice_match != "off"
        if voice_match in VOICE_MATCH_METHODS:
            model.config.voice_match_method = voice_match
    decoding_options = {"postfilter_strength": postfilter, "envelope_match_strength": envelope_match,
                        "prompt_adaptation_steps": adapt_steps, "prompt_adaptation_parts": adapt_parts,
                        "prompt_adaptation_learning_rate": adapt_lr, "prompt_adaptation_anchor_weight": adapt_anchor}
    for field, value in decoding_options.items():  # each option given overrides the model's own setting
        if value is not None:
            setattr(model.config, field, value)
    if int8 != "off" and device == "cpu":
        model = model.quantize_int8("all" if int8 == "on" else "preferred")
    wave = model.load_prompt(prompt, prompt_seconds)
    generator = torch.Generator(device=device).manual_seed(seed)
    if stream:
        return write_stream(model, wave.to(device), seconds, out, generator=generator, temperature=temperature,
                            top_k=top_k, top_p=top_p)
    result = model.continue_audio(wave.to(device), seconds, sample_rate=model.sample_rate, generator=generator,
                                  temperature=temperature, top_k=top_k, top_p=top_p, return_prompt=with_prompt,
                                  progress=True)
    path = save_audio(out, result[0].cpu(), model.sample_rate)
    typer.echo(f"wrote {path} ({result.shape[-1] / model.sample_rate:.2f} s at {model.sample_rate} Hz)")


def write_stream(model, prompt, seconds: float, out: Path, **sampling) -> None:
    """``audiolm continue --stream``: write each chunk as it comes (to standard output for ``-o -``, with the
    messages on standard error) and report the time to first audio and the real-time factor."""
    import sys

    from audiolm_lib.wav_stream import StreamingWavWriter

    to_stdout = str(out) == "-"
    stream = model.stream(prompt, seconds, sample_rate=model.sample_rate, **sampling)
    with StreamingWavWriter(sys.stdout.buffer if to_stdout else out, model.sample_rate) as writer:
        if not to_stdout:
            typer.echo(f"streaming to {writer.temp_path} (renamed to {out} when done)", err=True)
        try:
            for chunk in stream:
                writer.write(chunk[0])
        except KeyboardInterrupt:
            typer.echo(f"interrupted after {writer.seconds:.2f} s of audio", err=True)
    stats = stream.stats
    where = "standard output" if to_stdout else str(out)
    first = stats["time_to_first_audio"]
    typer.echo(f"wrote {where} ({writer.seconds:.2f} s at {model.sample_rate} Hz); time to first audio "
               f"{first if first is not None else float('nan'):.2f} s, real-time factor "
               f"{stats['real_time_factor'] or float('nan'):.2f}", err=to_stdout)


def describe_model(model_dir: Path) -> dict:
    """What ``audiolm info`` prints: per component its class, parameters and size on disk, plus token rates."""
    from audiolm_lib.pipeline import AudioLM

    model = AudioLM.from_pretrained(model_dir)
    components = {}
    for name, module in model.components().items():
        folder = model_dir / name
        components[name] = {
            "class": type(module).__name__,
            "parameters": sum(p.numel() for p in module.parameters()),
            "bytes_on_disk": sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.exists() else 0,
        }
        layout = getattr(getattr(module, "config", None), "layout", None)
        if layout is not None:
            components[name]["layout"] = layout
    info = {
        "model_dir": str(model_dir),
        "sample_rate": model.sample_rate,
        "semantic_rate": model.semantic_rate,
        "semantic_vocab_size": int(model.semantic_tokenizer.vocab_size),
        "acoustic_rate": model.acoustic_rate,
        "codebook_size": int(model.codec.codebook_size),
        "codec_levels": int(model.codec.num_quantizers),
        "acoustic_levels": model.num_quantizers,
        "acoustic_generator": type(model.acoustic).__name__,
        "acoustic_generation": describe_acoustic(model.acoustic),
        "pipeline_decoding": describe_pipeline_decoding(model.config),
        "components": components,
    }
    if model.coarse_lm is not None:  # the coarse + fine pair: which levels each stage makes
        info.update(coarse_levels=model.num_coarse, fine_levels=model.num_fine)
    return info


def describe_pipeline_decoding(config) -> dict:
    """The pipeline's own steps around the generator (``AudioLMConfig``): voice matching, the prompt's band,
    envelope matching, the pitch postfilter, adapting the generator to the prompt; each ``None`` where it is off."""
    return {
        "voice_match": {"method": config.voice_match_method, "strength": config.voice_match_strength,
                        # the keys a frame matcher chooses by, where they are not the latents alone
                        **({"content_weight": config.voice_match_content_weight}
                           if config.voice_match_content_weight else {}),
                        **({"centre": True} if config.voice_match_centre else {})}
        if config.voice_match else None,
        "prompt_band": {"hz": config.prompt_band_hz, "mode": config.prompt_band_mode}
        if config.prompt_band_hz is not None else None,
        "envelope_match": {"strength": config.envelope_match_strength, "neighbours": config.envelope_match_neighbours,
                           "smoothing": config.envelope_match_smoothing, "max_db": config.envelope_match_max_db}
        if config.envelope_match_strength > 0 else None,
        "postfilter": {"strength": config.postfilter_strength, "threshold": config.postfilter_threshold}
        if config.postfilter_strength > 0 else None,
        "prompt_adaptation": {"steps": config.prompt_adaptation_steps,
                              "learning_rate": config.prompt_adaptation_learning_rate,
                              "batch": config.prompt_adaptation_batch, "parts": config.prompt_adaptation_parts,
                              "anchor_weight": config.prompt_adaptation_anchor_weight}
        if config.prompt_adaptation_steps > 0 else None,
    }


def describe_acoustic(acoustic) -> str:
    """The generator's own ``describe()`` line, or its class and level count for one without."""
    describe = getattr(acoustic, "describe", None)
    if callable(describe):
        return str(describe())
    return f"{type(acoustic).__name__}: {int(acoustic.num_quantizers)} levels"


@friendly_errors
def info_command(
    model_dir: Path = typer.Argument(..., help="AudioLM folder to describe."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Describe a saved AudioLM: components, parameter counts, token rates and vocabularies."""
    if not model_dir.exists():
        raise FileNotFoundError(f"model folder not found: {model_dir}")
    info = describe_model(model_dir)
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    typer.echo(f"{info['model_dir']}: {info['sample_rate']} Hz audio")
    typer.echo(f"  semantic tokens: {info['semantic_vocab_size']} ids at {info['semantic_rate']:g} Hz")
    typer.echo(f"  acoustic tokens: {info['codec_levels']} RVQ levels x {info['codebook_size']} codes at "
               f"{info['acoustic_rate']:g} Hz; the generator makes {info['acoustic_levels']}")
    typer.echo(f"  acoustic generator: {info['acoustic_generation']}")

    def settings(setting: dict) -> str:
        return ", ".join(f"{key} {value:g}" if isinstance(value, float) else f"{key} {value}"
                         for key, value in setting.items())

    on = [f"{name.replace('_', ' ')} ({settings(setting)})"
          for name, setting in info["pipeline_decoding"].items() if setting is not None]
    none = "none (no voice matching, prompt band, envelope matching, postfilter or prompt adaptation)"
    typer.echo(f"  pipeline's own steps: {'; '.join(on) if on else none}")
    for name, part in info["components"].items():
        layout = f", layout {part['layout']}" if "layout" in part else ""
        typer.echo(f"  {name:18s} {part['class']:18s} {part['parameters'] / 1e6:7.2f} M params, "
                   f"{part['bytes_on_disk'] / 1e6:6.2f} MB{layout}")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
    app.command("continue")(continue_command)
    app.command("info")(info_command)
