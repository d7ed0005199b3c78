"""A corpus of malicious files, built here: every loader of the library refuses each one, naming the file, and
nothing in them runs (their payload would create a marker file; a control shows the payload is live)."""
import json
import os
import pickle
import shutil
import zipfile
from pathlib import Path
from typing import Tuple

import pytest
import torch

from audiolm_lib.codecs.encodec import EncodecCodec
from audiolm_lib.safe_load import check_hf_directory, inspect_torch_archive, load_torch_weights
from audiolm_lib.semantic.fairseq_checkpoint import safe_load_checkpoint
from audiolm_lib.semantic.features import HubertFeatures, W2VBertFeatures
from audiolm_lib.serialization import CheckpointError, load_pretrained
from audiolm_lib.training.state import load_training_state


class _Payload:
    """Unpickling this runs ``os.system("touch MARKER")``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _ScriptedPayload(torch.nn.Module):
    """TorchScript whose ``__setstate__`` creates the marker through ``torch.from_file`` when loaded."""

    def __init__(self, marker: str):
        super().__init__()
        self.weight = torch.zeros(2)
        self.marker = marker

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.weight

    @torch.jit.export
    def __getstate__(self) -> Tuple[torch.Tensor, str, bool]:
        return (self.weight, self.marker, self.training)

    @torch.jit.export
    def __setstate__(self, state: Tuple[torch.Tensor, str, bool]) -> None:
        self.weight = torch.from_file(state[1], True, 8, dtype=torch.uint8).float()[:2]
        self.marker = state[1]
        self.training = state[2]


def _torch_zip(path: Path, entries: dict[str, bytes], compress: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compress) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """name -> path of each malicious file or folder; all payloads aim at one marker file."""
    root = tmp_path_factory.mktemp("corpus")
    marker = root / "MARKER"
    files: dict[str, Path] = {}
    evil = {"model": {"w": torch.zeros(2)}, "payload": _Payload(marker)}
    torch.save(evil, root / "pickle_reduce.pt")
    files["pickle_reduce"] = root / "pickle_reduce.pt"
    torch.save(evil, root / "pickle_legacy.pt", _use_new_zipfile_serialization=False)
    files["pickle_legacy_format"] = root / "pickle_legacy.pt"
    torch.jit.script(_ScriptedPayload(str(marker))).save(str(root / "torchscript.pt"))
    files["torchscript_setstate"] = root / "torchscript.pt"
    plain = root / "plain.pt"
    torch.save({"w": torch.zeros(2)}, plain)
    with zipfile.ZipFile(plain) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    top = next(iter(entries)).split("/")[0]
    evil_pickle = pickle.dumps(_Payload(marker), protocol=2)
    files["zip_path_traversal"] = _torch_zip(root / "traversal.pt", {**entries, f"{top}/../../escape.pkl": b"x"})
    files["zip_compressed"] = _torch_zip(root / "compressed.pt", entries, zipfile.ZIP_DEFLATED)
    files["zip_two_roots"] = _torch_zip(root / "two_roots.pt", {**entries, "other/data.pkl": evil_pickle})
    with pytest.warns(UserWarning, match="Duplicate name"):
        files["zip_duplicate_data_pkl"] = _torch_zip(root / "duplicate.pt", {**entries})
        with zipfile.ZipFile(files["zip_duplicate_data_pkl"], "a") as archive:
            archive.writestr(f"{top}/data.pkl", evil_pickle)
    polyglot = root / "polyglot.pt"  # an evil pickle in front, a clean torch zip behind it
    polyglot.write_bytes(evil_pickle + plain.read_bytes())
    files["zip_polyglot"] = polyglot
    # a checkpoint folder whose files are symlinks to places outside it
    outside = root / "outside"
    outside.mkdir()
    (outside / "config.json").write_text(json.dumps({"class": "audiolm_lib.semantic.kmeans.KMeans", "config": {}}))
    linked = root / "symlinked_checkpoint"
    linked.mkdir()
    (linked / "config.json").symlink_to(outside / "config.json")
    (linked / "model.safetensors").symlink_to("/etc/passwd")
    files["symlinked_checkpoint"] = linked
    fifo = root / "fifo_checkpoint"
    fifo.mkdir()
    (fifo / "config.json").write_text(json.dumps({"class": "audiolm_lib.codecs.soundstream.SoundStream", "config": {}}))
    os.mkfifo(fifo / "model.safetensors")  # reading it would block forever
    files["fifo_weights"] = fifo
    # a Hugging Face folder with pickled weights
    hf = root / "hf_pickled"
    hf.mkdir()
    (hf / "config.json").write_text(json.dumps({"model_type": "hubert"}))
    torch.save({"weight": torch.zeros(1), "payload": _Payload(marker)}, hf / "pytorch_model.bin")
    files["hf_pickled_weights"] = hf
    # configs naming something that is not one of the library's classes
    for name, cls in (("config_module_attribute", "audiolm_lib.audio.os"), ("config_foreign", "os.system"),
                      ("config_main_module", "audiolm_lib.cli.__main__.main"),
                      ("config_reexport", "audiolm_lib.audio.Path")):
        folder = root / name
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({"class": cls, "config": {}}))
        files[name] = folder
    return root, marker, files


def _listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _loaders(files):
    """(corpus entry, loader name, call) for every way the library opens such a file."""
    def run_folder(path):
        run = path.parent / f"run_{path.stem}"
        run.mkdir(exist_ok=True)
        target = run / "step_00000001.pt"
        shutil.copy(path, target)
        return lambda: load_training_state(run)

    cases = []
    for name in ("pickle_reduce", "pickle_legacy_format", "torchscript_setstate", "zip_path_traversal",
                 "zip_compressed", "zip_two_roots", "zip_duplicate_data_pkl", "zip_polyglot"):
        path = files[name]
        cases += [
            (name, "fairseq HuBERT .pt", lambda p=path: HubertFeatures.from_pretrained(p, layer=1)),
            (name, "restricted fairseq reader", lambda p=path: safe_load_checkpoint(p)),
            (name, "EnCodec .th", lambda p=path: EncodecCodec.from_pretrained(p)),
            (name, "training checkpoint file", lambda p=path: load_training_state(p)),
            (name, "weights-only loader", lambda p=path: load_torch_weights(p)),
        ]
    for name in ("symlinked_checkpoint", "fifo_weights", "config_module_attribute", "config_foreign",
                 "config_main_module", "config_reexport"):
        cases.append((name, "load_pretrained", lambda p=files[name]: load_pretrained(p)))
    hf = files["hf_pickled_weights"]
    cases += [("hf_pickled_weights", "HuBERT folder", lambda: HubertFeatures.from_pretrained(hf, layer=1)),
              ("hf_pickled_weights", "w2v-BERT folder", lambda: W2VBertFeatures.from_pretrained(hf, layer=1)),
              ("hf_pickled_weights", "EnCodec folder", lambda: EncodecCodec.from_pretrained(hf))]
    return cases


def test_payloads_are_live(corpus, tmp_path):
    """Control: the corpus is really malicious (naive loading runs the payload), so the refusals below count."""
    _, marker, files = corpus
    for name, naive in (("pickle_reduce", lambda p: torch.load(p, weights_only=False)),
                        ("torchscript_setstate", lambda p: torch.jit.load(str(p)))):
        naive(files[name])
        assert marker.exists(), name
        marker.unlink()


def test_every_loader_refuses_every_malicious_file_and_nothing_runs(corpus):
    root, marker, files = corpus
    cases = _loaders(files)
    before = _listing(root)
    refused = []
    for name, loader, call in cases:
        with pytest.raises(CheckpointError) as caught:
            call()
        message = str(caught.value)
        assert Path(files[name]).name in message or str(files[name]) in message, (name, loader, message)
        assert not marker.exists(), (name, loader)
        refused.append((name, loader))
    created = _listing(root) - before
    assert all(p.startswith("run_") for p in created)  # only the run folders this test made
    assert len(refused) == len(cases) == 8 * 5 + 6 + 3


@pytest.mark.parametrize("name, expected", [
    ("torchscript_setstate", "TorchScript archive"), ("zip_path_traversal", "escapes the archive"),
    ("zip_compressed", "compressed"), ("zip_two_roots", "several top folders"),
    ("zip_duplicate_data_pkl", "appears twice"), ("zip_polyglot", "polyglot"),
])
def test_archive_tricks_are_named(corpus, name, expected):
    _, marker, files = corpus
    with pytest.raises(CheckpointError, match=expected):
        inspect_torch_archive(files[name])
    assert not marker.exists()


def test_training_run_folder_with_a_malicious_checkpoint(corpus, tmp_path):
    _, marker, files = corpus
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(files["pickle_reduce"], run / "step_00000009.pt")
    with pytest.warns(UserWarning, match="step_00000009.pt"), \
            pytest.raises(CheckpointError, match=r"step_00000009\.pt.*GLOBAL posix\.system"):
        load_training_state(run)
    assert not marker.exists()


@pytest.mark.parametrize("name, expected", [
    ("symlinked_checkpoint", "outside the checkpoint folder"), ("fifo_weights", "not a regular file"),
    ("config_module_attribute", "not a class of audiolm_lib"), ("config_foreign", "only audiolm_lib classes"),
    ("config_main_module", "only audiolm_lib classes"), ("config_reexport", "not a class of audiolm_lib"),
])
def test_checkpoint_folder_tricks_are_named(corpus, name, expected):
    _, _, files = corpus
    with pytest.raises(CheckpointError, match=expected):
        load_pretrained(files[name])


def test_hf_folder_with_pickled_weights_names_the_file(corpus):
    _, marker, files = corpus
    with pytest.raises(CheckpointError, match=r"refusing HuBERT model weights .*pytorch_model\.bin"):
        check_hf_directory(files["hf_pickled_weights"], "HuBERT model")
    assert not marker.exists()


def test_plain_checkpoints_still_load(tmp_path):
    torch.save({"w": torch.arange(3)}, tmp_path / "zip.pt")
    torch.save({"w": torch.arange(3)}, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    assert inspect_torch_archive(tmp_path / "zip.pt") == "zip"
    assert inspect_torch_archive(tmp_path / "legacy.pt") == "legacy"
    assert torch.equal(load_torch_weights(tmp_path / "legacy.pt")["w"], torch.arange(3))
