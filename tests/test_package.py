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
