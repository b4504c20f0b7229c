"""Runs the C unit tests (parsers and pure logic) built by make."""
import os
import subprocess

import pytest

from conftest import ROOT


@pytest.mark.parametrize("name", ["unit", "control"])
def test_c_unit_tests_pass(name):
    binary = os.path.join(ROOT, "tests", "unit", name)
    r = subprocess.run([binary], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert " 0 failed" in r.stdout
