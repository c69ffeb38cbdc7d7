"""Point functions that fail on purpose, importable by Dask workers (tests only)."""

import os
from pathlib import Path

from sim.sweep import measure_point


def fail_at(prepared, spec, timing, *, rate):
    """A point function whose point at ``rate`` raises (a deterministic failure)."""
    if spec["rate"] == rate:
        raise RuntimeError(f"injected failure at offered {rate}")
    return measure_point(prepared, spec, timing)


def die_once(prepared, spec, timing, *, rate, marker):
    """Kills its worker process the first time it runs the point at ``rate`` (as a
    crash or an out-of-memory kill would), then measures normally when retried."""
    if spec["rate"] == rate and not Path(marker).exists():
        Path(marker).write_text(str(os.getpid()))
        os._exit(17)
    return measure_point(prepared, spec, timing)


def never(prepared, spec, timing):
    raise AssertionError(f"point {spec} was measured again although it was finished")
