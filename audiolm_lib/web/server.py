"""The local web page of ``audiolm serve``: upload or record a prompt, hear the continuation as it streams.

A standard-library HTTP server (no web framework: it starts in a fraction of a second and needs no new
dependency; see BENCHMARKS.md, "Streaming"), bound to 127.0.0.1 unless told otherwise:

- ``GET /``: the page (:mod:`audiolm_lib.web.page`);
- ``GET /models``: the model choices, ``{"choices": {name: folder}, "limits": {...}}``;
- ``POST /generate?model=&seconds=&temperature=&seed=[&voice_match=0|1][&envelope_match=S][&postfilter=S]`` with
  the prompt (a WAV, FLAC or OGG file) as the body (``voice_match``: render from the prompt's frames;
  ``envelope_match`` / ``postfilter``: the strengths, 0 to 1, of the steps after the decoder, for this request only;
  each left out: the model's): a streamed 16-bit WAV (the
  "length unknown" header, then samples as ``AudioLM.stream`` makes them), or a 400 with a one-line message; the
  ``X-Stream-Id`` header names the result;
- ``GET /spectrogram/<id>.png``: mel spectrogram of prompt | continuation (written when the stream ends).

Loaded models are kept (one per folder, int8 where measured faster, as ``audiolm continue``); a lock per model
serialises the steps of concurrent streams (each stream's state is its own: see :mod:`audiolm_lib.streaming`).
"""
from __future__ import annotations

import json
import math
import tempfile
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

KEPT_RESULTS = 16  # spectrograms kept for the page (oldest dropped)


@dataclass
class ServeLimits:
    """What one request may ask for; larger requests get a clear 400 message."""

    max_seconds: float = 60.0  # continuation length
    max_prompt_seconds: float = 60.0
    max_upload_mb: float = 20.0
    max_temperature: float = 2.0

    def __post_init__(self) -> None:
        for name in ("max_seconds", "max_prompt_seconds", "max_upload_mb", "max_temperature"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name.replace('_', '-')} must be a positive number, got {value}")


class RequestError(ValueError):
    """A bad request: its message is shown on the page as is."""


@dataclass
class ServeState:
    """The server's models, limits and recent results."""

    choices: dict[str, Path]
    limits: ServeLimits = field(default_factory=ServeLimits)
    int8: bool = True
    work_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="audiolm-serve-")))
    models: dict[str, tuple] = field(default_factory=dict)
    results: OrderedDict = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def model(self, name: str):
        """``(AudioLM, lock)`` for a choice name or an AudioLM folder path (loaded once)."""
        from audiolm_lib.pipeline import AudioLM

        folder = self.choices.get(name) or Path(name).expanduser()
        if not (folder / "config.json").is_file():
            raise RequestError(f"no AudioLM model at {folder} (pick one of {', '.join(self.choices)} or give a "
                               f"folder with config.json)")
        key = str(folder.resolve())
        with self.lock:
            if key not in self.models:
                try:
                    model = AudioLM.from_pretrained(folder)
                except (ValueError, OSError) as exc:
                    raise RequestError(f"cannot load {folder}: {exc}") from exc
                self.models[key] = (model.quantize_int8("preferred") if self.int8 else model, threading.Lock())
            return self.models[key]

    def remember(self, key: str, path: Path) -> None:
        with self.lock:
            self.results[key] = path
            while len(self.results) > KEPT_RESULTS:
                _, old = self.results.popitem(last=False)
                old.unlink(missing_ok=True)


def number(query: dict, name: str, default: float | None, low: float, high: float, unit: str = "") -> float | None:
    """Query parameter ``name`` as a float in ``[low, high]`` (``default`` where it is absent or empty), else a
    :class:`RequestError` saying so."""
    raw = query.get(name, [None])[0]
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise RequestError(f"{name} must be a number, got {raw!r}") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise RequestError(f"{name} must be between {low:g} and {high:g}{unit}, got {raw}")
    return value


class Handler(BaseHTTPRequestHandler):
    server_version = "audiolm-serve"
    state: ServeState  # set on the subclass made by make_server

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's signature
        pass  # quiet: the command prints what matters

    # ------------------------------------------------------------------ responses
    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _error(self, message: str, status: int = 400) -> None:
        self._send(status, (message.splitlines()[0] if message else "error").encode(), "text/plain; charset=utf-8")

    # ------------------------------------------------------------------ routes
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        from audiolm_lib.web.page import PAGE

        path = urlparse(self.path).path
        if path in ("/", "/index.html"):
            self._send(200, PAGE.encode(), "text/html; charset=utf-8")
        elif path == "/models":
            limits = self.state.limits
            body = {"choices": {name: str(folder) for name, folder in self.state.choices.items()},
                    "limits": {"max_seconds": limits.max_seconds, "max_prompt_seconds": limits.max_prompt_seconds,
                               "max_upload_mb": limits.max_upload_mb, "max_temperature": limits.max_temperature}}
            self._send(200, json.dumps(body).encode(), "application/json")
        elif path.startswith("/spectrogram/") and path.endswith(".png"):
            image = self.state.results.get(path[len("/spectrogram/"):-len(".png")])
            if image is None or not image.exists():
                self._error("no such spectrogram (it is written when the stream ends)", 404)
            else:
                self._send(200, image.read_bytes(), "image/png")
        elif path == "/favicon.ico":
            self._send(204, b"", "image/x-icon")
        else:
            self._error("not found", 404)

    def do_POST(self) -> None:  # noqa: N802
        if urlparse(self.path).path != "/generate":
            return self._error("not found", 404)
        try:
            request = self._read_request()
        except RequestError as exc:
            return self._error(str(exc))
        self._stream(*request)

    # ------------------------------------------------------------------ generation
    def _read_request(self):
        from audiolm_lib.audio import AudioError, audio_info, load_audio

        limits = self.state.limits
        query = parse_qs(urlparse(self.path).query)
        seconds = number(query, "seconds", 10.0, 0.1, limits.max_seconds, " s")
        temperature = number(query, "temperature", 1.0, 0.0, limits.max_temperature)
        seed = int(number(query, "seed", 0, 0, 2**31 - 1))
        voice_match = query.get("voice_match", [""])[0]
        if voice_match not in ("", "0", "1"):
            raise RequestError(f"voice_match must be 0 or 1, got {voice_match[:20]!r}")
        steps = {"voice_match": {"": None, "0": False, "1": True}[voice_match],  # None: the model's own
                 "envelope_match": number(query, "envelope_match", None, 0.0, 1.0),
                 "postfilter": number(query, "postfilter", None, 0.0, 1.0)}
        size = int(self.headers.get("Content-Length") or 0)
        if size <= 0:
            raise RequestError("no prompt: upload or record one first")
        if size > limits.max_upload_mb * 1e6:
            self.close_connection = True
            self._discard(size)  # so the browser reads the answer instead of a broken pipe
            raise RequestError(f"the prompt file is {size / 1e6:.1f} MB; the limit is {limits.max_upload_mb:g} MB")
        model, lock = self.state.model(query.get("model", [""])[0])
        upload = self.state.work_dir / f"prompt-{uuid.uuid4().hex}.audio"
        upload.write_bytes(self.rfile.read(size))
        try:
            frames, rate = audio_info(upload)
            if frames / rate > limits.max_prompt_seconds:
                raise RequestError(f"the prompt is {frames / rate:.1f} s long; the limit is "
                                   f"{limits.max_prompt_seconds:g} s (trim it)")
            prompt = load_audio(upload, sample_rate=model.sample_rate)
        except AudioError as exc:
            raise RequestError(f"cannot read the prompt ({exc}); upload WAV, FLAC or OGG") from None
        finally:
            upload.unlink(missing_ok=True)
        if prompt.shape[-1] < model.sample_rate * 0.1:
            raise RequestError("the prompt is shorter than 0.1 s")
        return model, lock, prompt, seconds, temperature, seed, steps

    def _discard(self, size: int, cap: int = 256 * 2**20) -> None:
        for start in range(0, min(size, cap), 2**20):
            self.rfile.read(min(2**20, size - start))

    def _stream(self, model, lock, prompt, seconds: float, temperature: float, seed: int, steps: dict) -> None:
        import torch

        from audiolm_lib.wav_stream import StreamingWavWriter

        key = uuid.uuid4().hex[:12]
        with lock:
            stream = model.stream(prompt, seconds, sample_rate=model.sample_rate, temperature=temperature,
                                  generator=torch.Generator().manual_seed(seed), **steps)
        self.send_response(200)
        self.send_header("Content-Type", "audio/wav")
        self.send_header("X-Stream-Id", key)
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.close_connection = True  # the body ends when the connection closes (length unknown up front)
        chunks = []
        try:
            writer = StreamingWavWriter(self.wfile, model.sample_rate)
            while not stream.done:
                with lock:
                    chunk = stream.step()
                if chunk.shape[-1]:
                    writer.write(chunk[0])
                    chunks.append(chunk[0, 0])
            writer.close()
        except (BrokenPipeError, ConnectionResetError):
            return  # the page went away: stop generating
        self._plot(key, model, prompt, torch.cat(chunks), stream)

    def _plot(self, key: str, model, prompt, continuation, stream) -> None:
        from audiolm_lib.demo import plot_continuation

        covered = int(stream.known * model.sample_rate / model.acoustic_rate)  # the prompt samples the tokens cover
        used = prompt.reshape(-1)[-covered:]
        tokens = {"semantic": stream.semantic, "codes": stream.codes, "prompt_frames": stream.known}
        path = plot_continuation(used, continuation, model.sample_rate, tokens, self.state.work_dir / f"{key}.png",
                                 title="prompt | continuation (mel spectrogram)")
        self.state.remember(key, path)


def make_server(state: ServeState, host: str = "127.0.0.1", port: int = 7860) -> ThreadingHTTPServer:
    """An HTTP server for ``state`` (``port=0``: any free port; ``server.server_address`` says which)."""
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
