import subprocess
import sys


def test_import_has_no_side_effects_and_is_lazy():
    code = (
        "import warnings, logging, sys, time;"
        "import torch;"  # torch itself installs warning filters; only audiolm_lib's import is checked
        "filters = list(warnings.filters); handlers = list(logging.root.handlers); level = logging.root.level;"
        "t = time.perf_counter(); import audiolm_lib; dt = time.perf_counter() - t;"
        "assert warnings.filters == filters, 'warning filters changed';"
        "assert logging.root.handlers == handlers and logging.root.level == level, 'logging changed';"
        "assert 'transformers' not in sys.modules and 'sklearn' not in sys.modules;"
        "print(dt)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout.strip()) < 2.0


def test_every_public_name_resolves_and_the_shipped_parts_are_exported():
    import audiolm_lib

    for name in audiolm_lib.__all__:
        assert getattr(audiolm_lib, name) is not None, name
    from audiolm_lib import ParallelAcousticLM, SpectralCodec  # the shipped codec and acoustic generator
    from audiolm_lib.codecs.spectral import SpectralCodec as Direct

    assert SpectralCodec is Direct and ParallelAcousticLM.__name__ == "ParallelAcousticLM"
