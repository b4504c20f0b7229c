"""Runs the C unit tests (parsers and pure logic) built by make."""
import os
import subprocess

from conftest import ROOT


def test_c_unit_tests_pass():
    binary = os.path.join(ROOT, "tests", "unit", "unit")
    r = subprocess.run([binary], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert " 0 failed" in r.stdout
