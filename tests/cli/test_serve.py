"""``audiolm serve``: the HTTP endpoints (limits, errors, a streamed WAV) and the page in a real headless Chromium."""
import io
import json
import math
import shutil
import threading
import urllib.error
import urllib.request

import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from audiolm_lib.audio import save_audio
from audiolm_lib.cli import build_app
from audiolm_lib.web.server import ServeLimits, ServeState, make_server
from tiny_pipeline import tiny_parallel_audiolm

RATE = 16000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tiny_parallel_audiolm().save_pretrained(tmp_path_factory.mktemp("serve_model") / "tiny")
    state = ServeState({"tiny": folder}, ServeLimits(max_seconds=3.0, max_prompt_seconds=5.0, max_upload_mb=1.0),
                       int8=False, work_dir=tmp_path_factory.mktemp("serve_work"))
    httpd = make_server(state, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", folder
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def prompt_file(tmp_path_factory):
    t = torch.arange(int(0.8 * 22050)) / 22050
    return save_audio(tmp_path_factory.mktemp("serve_prompt") / "prompt.wav",
                      0.3 * torch.sin(2 * math.pi * 330 * t)[None], 22050)


def post(url, body, **query):
    request = urllib.request.Request(url + "/generate?" + urllib.parse.urlencode(query), data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


def test_generate_streams_a_wav_and_then_the_spectrogram(server, prompt_file):
    url, _ = server
    status, body, headers = post(url, prompt_file.read_bytes(), model="tiny", seconds=1.0, temperature=0.8, seed=1)
    assert status == 200 and headers["Content-Type"] == "audio/wav"
    audio, rate = sf.read(io.BytesIO(body))
    assert rate == RATE and len(audio) == 50 * 320
    with urllib.request.urlopen(f"{url}/spectrogram/{headers['X-Stream-Id']}.png", timeout=30) as response:
        assert response.read()[:8] == b"\x89PNG\r\n\x1a\n"
    again = post(url, prompt_file.read_bytes(), model="tiny", seconds=1.0, temperature=0.8, seed=1)[1]
    assert again == body  # same seed, same audio
    status, matched, _ = post(url, prompt_file.read_bytes(), model="tiny", seconds=1.0, temperature=0.8, seed=1,
                              voice_match=1)
    assert status == 200 and len(matched) == len(body) and matched != body  # the prompt's frames, not the model's
    assert post(url, prompt_file.read_bytes(), model="tiny", seconds=1.0, temperature=0.8, seed=1,
                voice_match=0)[1] == body  # the model's own setting: off
    for step in ("envelope_match", "postfilter"):  # the steps after the decoder, for one request only
        status, stepped, _ = post(url, prompt_file.read_bytes(), model="tiny", seconds=1.0, temperature=0.8, seed=1,
                                  **{step: 1})
        assert status == 200 and len(stepped) == len(body) and stepped != body
        assert post(url, prompt_file.read_bytes(), model="tiny", seconds=1.0, temperature=0.8, seed=1,
                    **{step: 0})[1] == body  # 0: off, as the model's own settings are
        assert post(url, prompt_file.read_bytes(), model="tiny", seconds=1.0, temperature=0.8, seed=1,
                    **{step: ""})[1] == body  # empty: the model's own
    with urllib.request.urlopen(url + "/models", timeout=30) as response:
        info = json.loads(response.read())
    assert list(info["choices"]) == ["tiny"] and info["limits"]["max_seconds"] == 3.0


def test_bad_requests_get_one_clear_line(server, prompt_file, tmp_path):
    url, folder = server
    cases = [
        (dict(model="tiny", seconds=30), prompt_file.read_bytes(), "seconds must be between 0.1 and 3 s"),
        (dict(model="tiny", temperature=-1), prompt_file.read_bytes(), "temperature must be between"),
        (dict(model="nope"), prompt_file.read_bytes(), "no AudioLM model at nope"),
        (dict(model="tiny"), b"not audio at all", "cannot read the prompt"),
        (dict(model="tiny"), b"", "no prompt"),
        (dict(model="tiny", voice_match="yes"), prompt_file.read_bytes(), "voice_match must be 0 or 1"),
        (dict(model="tiny", postfilter=2), prompt_file.read_bytes(), "postfilter must be between 0 and 1"),
        (dict(model="tiny", envelope_match="much"), prompt_file.read_bytes(), "envelope_match must be a number"),
        (dict(model="tiny"), b"0" * 1_100_000, "the limit is 1 MB"),
    ]
    long_prompt = save_audio(tmp_path / "long.wav", torch.zeros(1, 6 * RATE), RATE)
    cases.append((dict(model="tiny"), long_prompt.read_bytes(), "the prompt is 6.0 s long; the limit is 5 s"))
    for query, body, message in cases:
        status, text, _ = post(url, body, **query)
        assert status == 400, (query, text)
        assert message in text.decode() and "\n" not in text.decode().strip()
    status, _, _ = post(url, prompt_file.read_bytes(), model=str(folder), seconds=0.5)
    assert status == 200  # any AudioLM folder by path


def test_serve_command_errors_are_one_line(tmp_path):
    result = CliRunner().invoke(build_app(), ["serve", "--model", str(tmp_path)])
    assert result.exit_code == 2 and "not an AudioLM folder" in result.output
    assert len(result.output.strip().splitlines()) == 1
    result = CliRunner().invoke(build_app(), ["serve", "--max-seconds", "0"])
    assert result.exit_code == 2 and "max-seconds must be a positive number" in result.output


@pytest.mark.requires("selenium", programs=("chromium", "chromedriver"))
def test_the_page_streams_a_continuation_in_headless_chromium(server, prompt_file):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    url, _ = server
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--mute-audio",
                     "--autoplay-policy=no-user-gesture-required", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        wait = WebDriverWait(driver, 60)
        driver.get(url)
        wait.until(lambda d: len(Select(d.find_element(By.ID, "model")).options) == 1)
        voice = Select(driver.find_element(By.ID, "voice_match"))  # the model's own setting unless asked
        assert [o.get_attribute("value") for o in voice.options] == ["", "1", "0"]
        assert voice.first_selected_option.get_attribute("value") == ""
        voice.select_by_value("1")
        driver.find_element(By.ID, "file").send_keys(str(prompt_file))
        wait.until(lambda d: "prompt ready" in d.find_element(By.ID, "prompt-info").text)
        seconds = driver.find_element(By.ID, "seconds")
        seconds.clear()
        seconds.send_keys("1.5")
        driver.find_element(By.ID, "generate").click()
        wait.until(lambda d: d.find_element(By.ID, "status").text.startswith(("Done", "The", "Upload")))
        status = driver.find_element(By.ID, "status").text
        assert status.startswith("Done: 1.5 s of audio"), status
        source = driver.find_element(By.ID, "output").get_attribute("src")
        assert source.startswith("blob:")
        wait.until(lambda d: d.execute_script("return document.getElementById('output').readyState") >= 1)
        duration = driver.execute_script("return document.getElementById('output').duration")
        assert duration == pytest.approx(1.5, abs=0.01)  # a playable source holding the whole continuation
        wait.until(lambda d: d.execute_script("const i = document.getElementById('spectrogram');"
                                              "return !i.hidden && i.complete && i.naturalWidth > 0"))
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []
    finally:
        driver.quit()


def test_a_model_that_adapts_to_each_prompt_is_kept_in_float(tmp_path):
    model = tiny_parallel_audiolm()
    model.config.prompt_adaptation_steps = 2
    folder = model.save_pretrained(tmp_path / "adapting")
    state = ServeState({"adapting": folder}, ServeLimits(), int8=True, work_dir=tmp_path / "work")
    loaded, _ = state.model("adapting")
    assert loaded.config.prompt_adaptation_steps == 2
    assert type(loaded.acoustic) is type(model.acoustic)  # not int8: the adapted copy fine-tunes its weights
    t = torch.arange(RATE // 2) / RATE
    chunks = list(loaded.stream(0.3 * torch.sin(2 * math.pi * 220 * t)[None], 0.5, sample_rate=RATE))
    assert sum(chunk.shape[-1] for chunk in chunks) == 25 * 320
