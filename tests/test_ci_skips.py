"""tests/conftest.py: a test whose optional dependency is missing skips locally and fails under CI=true."""
from pathlib import Path

CONFTEST = Path(__file__).parent / "conftest.py"

INNER_TESTS = '''
import pytest

@pytest.mark.requires("no_such_module_for_audiolm_tests")
def test_missing_module():
    pass

@pytest.mark.requires(programs=["no-such-program-for-audiolm-tests"], paths=["/no/such/path"])
def test_missing_program():
    pass

def test_importorskip():
    pytest.importorskip("no_such_module_for_audiolm_tests")

@pytest.mark.requires("json", programs=["sh"], paths=["/"])
def test_present():
    pass

def test_other_skip():
    pytest.skip("not a missing dependency")
'''


def test_missing_dependency_skips_locally_and_fails_under_ci(pytester, monkeypatch):
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(test_inner=INNER_TESTS)
    monkeypatch.delenv("CI", raising=False)
    local = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-rs")
    local.assert_outcomes(passed=1, skipped=4)
    local.stdout.fnmatch_lines(["*missing optional dependency: program no-such-program-for-audiolm-tests, path /no/such/path*"])

    monkeypatch.setenv("CI", "true")
    ci = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    ci.assert_outcomes(passed=1, failed=1, errors=2, skipped=1)  # a marker's skip happens at setup: an error
    assert ci.ret != 0
    ci.stdout.fnmatch_lines(["*CI=true and an optional dependency is missing*"])
