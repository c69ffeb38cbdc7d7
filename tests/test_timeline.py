"""The suite's timeline summary (tests/timeline.py): per worker the busy wall and CPU, and
the tests that waited longest."""

from tests.timeline import cpu_seconds, summary


def test_summary_gives_each_workers_wall_and_cpu_and_the_longest_waits():
    rows = [{"worker": "gw0", "test": "a", "start": 100.0, "wall": 10.0, "cpu": 9.0},
            {"worker": "gw0", "test": "b", "start": 110.0, "wall": 50.0, "cpu": 5.0},
            {"worker": "gw1", "test": "c", "start": 101.0, "wall": 30.0, "cpu": 28.0}]
    lines = summary(rows, top=2)
    assert lines[0] == "gw0: 2 tests, 60 s in tests of which 14 s CPU, last test ended at 60 s"
    assert lines[1] == "gw1: 1 tests, 30 s in tests of which 28 s CPU, last test ended at 31 s"
    assert lines[2] == "longest waits (wall - CPU), of 3 tests:"
    assert lines[3].split() == ["45.0", "s", "of", "50.0", "s", "at", "10", "s", "gw0", "b"]
    assert lines[4].split()[-1] == "c" and len(lines) == 5
    assert summary([]) == []


def test_cpu_seconds_counts_this_process():
    before = cpu_seconds()
    sum(i * i for i in range(300_000))
    assert cpu_seconds() > before
