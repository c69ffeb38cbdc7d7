"""Each test's start, wall and CPU per pytest process, and the run's summary of them.

``make test`` / ``make check`` load this plugin (``-p tests.timeline``): every process
(each xdist worker, or the one process without xdist) appends one JSON line per test to
``build/pytest-timeline.jsonl`` (worker, test id, start, wall and CPU seconds: the
process's and its finished children's, so Verilator's compiler and the proofs' solvers
count); the controller truncates the file at the start and prints at the end, per
worker, the busy wall against the CPU, and the tests that waited longest (wall minus
CPU: a lock, a build another worker makes, a machine busy elsewhere). JUnit XML
(``build/pytest-times.xml``) has no start times and no CPU: this is what says whether a
slow test computed or waited."""

import json
import os
import resource
import time
from pathlib import Path

import pytest

TIMELINE = Path(__file__).resolve().parent.parent / "build" / "pytest-timeline.jsonl"


def cpu_seconds():
    """User and system CPU of this process and of its children that have been waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def pytest_configure(config):
    if not hasattr(config, "workerinput"):
        TIMELINE.parent.mkdir(parents=True, exist_ok=True)
        TIMELINE.write_text("")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start, cpu = time.time(), cpu_seconds()
    yield
    row = {"worker": os.environ.get("PYTEST_XDIST_WORKER", "main"), "test": item.nodeid,
           "start": round(start, 3), "wall": round(time.time() - start, 3),
           "cpu": round(cpu_seconds() - cpu, 3)}
    with open(TIMELINE, "a") as out:            # one short write per line: no interleaving
        out.write(json.dumps(row) + "\n")


def summary(rows, top=10):
    """The summary's lines for the timeline ``rows`` (dicts as written above)."""
    if not rows:
        return []
    t0 = min(r["start"] for r in rows)
    lines = []
    for worker in sorted({r["worker"] for r in rows}):
        mine = [r for r in rows if r["worker"] == worker]
        wall = sum(r["wall"] for r in mine)
        cpu = sum(r["cpu"] for r in mine)
        end = max(r["start"] + r["wall"] for r in mine) - t0
        lines.append(f"{worker}: {len(mine)} tests, {wall:.0f} s in tests of which "
                     f"{cpu:.0f} s CPU, last test ended at {end:.0f} s")
    waits = sorted(rows, key=lambda r: r["wall"] - r["cpu"], reverse=True)[:top]
    lines.append(f"longest waits (wall - CPU), of {len(rows)} tests:")
    lines += [f"  {r['wall'] - r['cpu']:6.1f} s of {r['wall']:6.1f} s  at {r['start'] - t0:5.0f} s"
              f"  {r['worker']}  {r['test']}" for r in waits]
    return lines


def pytest_terminal_summary(terminalreporter, config):
    if hasattr(config, "workerinput") or not TIMELINE.exists():
        return
    rows = [json.loads(line) for line in TIMELINE.read_text().splitlines() if line]
    lines = summary(rows)
    if lines:
        terminalreporter.section("timeline (build/pytest-timeline.jsonl)")
        for line in lines:
            terminalreporter.write_line(line)
