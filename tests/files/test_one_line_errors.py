"""Traceback corpus: bad arguments, configs, model folders and output paths give one ``error:`` line and exit
code 2, never a traceback."""
import json
import shutil

import pytest

from file_cases import invoke, refused, wav
from tiny_pipeline import tiny_audiolm


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """A workspace: a tiny AudioLM, a prompt, a plain file, a folder and broken config files."""
    root = tmp_path_factory.mktemp("errors")
    tiny_audiolm(num_fine_quantizers=1, layout="flat").save_pretrained(root / "model")
    wav(root / "p.wav")
    (root / "bad.yaml").write_text("a: [1, 2\n")
    (root / "list.yaml").write_text("- 1\n- 2\n")
    (root / "deep.json").write_text("[" * 5000 + "]" * 5000)
    (root / "dir").mkdir()
    (root / "afile").write_text("x")
    return root


def _args(ws, items):
    return [str(a).replace("{ws}", str(ws)) for a in items]


M = "{ws}/model"
PARTS = ["--tokenizer", f"{M}/semantic_tokenizer", "--codec", f"{M}/codec"]
CASES = {
    "cuda without CUDA": (["continue", M, "{ws}/p.wav", "--device", "cuda"], "CUDA"),
    "unknown device": (["continue", M, "{ws}/p.wav", "--device", "tpu"], "--device"),
    "training on cuda without CUDA": (["train", "semantic", "{ws}/c", "{ws}/r", "--device", "cuda"], "CUDA"),
    "config is a folder": (["train", "semantic", "{ws}/c", "{ws}/r", "--config", "{ws}/dir"], "directory"),
    "bad YAML config": (["train", "semantic", "{ws}/c", "{ws}/r", "--config", "{ws}/bad.yaml"], "YAML"),
    "YAML list config": (["train", "codec", "{ws}/p.wav", "{ws}/r", "--config", "{ws}/list.yaml"], "mapping"),
    "deeply nested JSON config": (["train", "semantic", "{ws}/c", "{ws}/r", "--config", "{ws}/deep.json"], "nested"),
    "override of a non-section": (["train", "codec", "{ws}/p.wav", "{ws}/r", "--set", "model.dim=abc"], "override"),
    "wrong stage kind for --semantic": (["assemble", "{ws}/out", *PARTS, "--semantic", f"{M}/coarse_lm",
                                         "--coarse", f"{M}/coarse_lm", "--fine", f"{M}/fine_lm"], "not a semantic"),
    "swapped coarse and fine": (["assemble", "{ws}/out", *PARTS, "--semantic", f"{M}/semantic_lm",
                                 "--coarse", f"{M}/fine_lm", "--fine", f"{M}/coarse_lm"], "not a coarse"),
    "codec as tokenizer": (["assemble", "{ws}/out", "--tokenizer", f"{M}/codec", "--codec", f"{M}/codec",
                            "--semantic", f"{M}/semantic_lm", "--acoustic", f"{M}/coarse_lm"], "not a semantic"),
    "assemble output is a file": (["assemble", "{ws}/afile", *PARTS, "--semantic", f"{M}/semantic_lm",
                                   "--coarse", f"{M}/coarse_lm", "--fine", f"{M}/fine_lm"], "not a folder"),
    "token cache output is a file": (["tokenize", "{ws}/p.wav", "{ws}/afile", "--tokenizer", "mfcc",
                                      "--codec", f"{M}/codec"], "not a folder"),
    "tokenizer output is a file": (["fit-kmeans", "{ws}/p.wav", "--out", "{ws}/afile"], "not a folder"),
    "demo output is a file": (["demo", "--out", "{ws}/afile", "--checkpoint", M], "not a folder"),
    "run folder is a file": (["train-hubert", "{ws}/p.wav", "--out", "{ws}/afile"], "not a folder"),
    "dataset folder is a file": (["data", "piano", "{ws}/afile"], "not a folder"),
    "continue output is a folder": (["continue", M, "{ws}/p.wav", "-o", "{ws}/dir"], "directory"),
    "info on a file": (["info", "{ws}/afile"], "got a file"),
    "info on a codec": (["info", f"{M}/codec"], "not an AudioLM"),
    "prompt is a folder": (["continue", M, "{ws}/dir"], "directory"),
    "prompt is not audio": (["continue", M, "{ws}/afile", "-o", "{ws}/o.wav"], "cannot decode"),
    "manifest is not JSON": (["tokenize", "{ws}/afile", "{ws}/c2", "--tokenizer", "mfcc", "--codec", f"{M}/codec"],
                             "not valid JSON"),
    "token cache is a model": (["train", "semantic", M, "{ws}/r2"], "token cache"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_one_line_error(ws, name):
    args, words = CASES[name]
    result = invoke(*_args(ws, args))
    assert refused(result, words), result.output


def _broken_model(ws, tmp_path, top=None, semantic=None):
    folder = tmp_path / "model"
    shutil.copytree(ws / "model", folder)
    for path, change in ((folder / "config.json", top), (folder / "semantic_lm" / "config.json", semantic)):
        if change is not None:
            meta = json.loads(path.read_text())
            change(meta)
            path.write_text(json.dumps(meta))
    return folder


BROKEN = {
    "class is a number": (dict(top=lambda m: m.update({"class": 5})), "'class'"),
    "acoustic is a string": (dict(top=lambda m: m.update(acoustic="x")), "JSON objects"),
    "components is a list": (dict(top=lambda m: m.update(components=["x"])), "JSON objects"),
    "transformer is a string": (dict(semantic=lambda m: m["config"].update(transformer="x")), "expected an object"),
    "vocabulary is a float": (dict(semantic=lambda m: m["config"].update(vocab_size=16.5)), "must be int"),
    "vocabulary is text": (dict(semantic=lambda m: m["config"].update(vocab_size="16")), "must be int"),
    "window is NaN": (dict(semantic=lambda m: m["config"].update(window_seconds=float("nan"))), "finite"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_model_folder_is_one_line(ws, tmp_path, name):
    change, words = BROKEN[name]
    folder = _broken_model(ws, tmp_path, **change)
    for command in (["info", folder], ["continue", folder, ws / "p.wav", "-o", tmp_path / "o.wav"]):
        result = invoke(*command)
        assert refused(result, words), result.output


def test_an_integral_float_is_taken_as_an_integer(ws, tmp_path):
    folder = _broken_model(ws, tmp_path, semantic=lambda m: m["config"].update(vocab_size=16.0))
    result = invoke("info", folder, "--json")
    assert result.exit_code == 0 and json.loads(result.output)["semantic_vocab_size"] == 16
