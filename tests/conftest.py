import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture
def base_raw():
    """A small, valid config dict built on the default preset."""
    import yaml
    return yaml.safe_load((CONFIGS / "default.yaml").read_text())


# Verilator builds the traffic/bare node once as a hierarchical block (sim.runner: about
# half the build time of a mesh, slower simulation, the same cycles): the suite builds
# many small configurations and runs each for a few thousand cycles
os.environ.setdefault("DOJO_FAST_BUILD", "1")
