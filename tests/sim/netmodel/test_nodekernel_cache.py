"""The node kernel's stale-cache guard reads and clears the folder numba really caches in:
``__pycache__`` next to the source, or ``NUMBA_CACHE_DIR``'s folder when that is set (the
test suite sets one of its own, tests/conftest.py)."""

import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT


def _python(code, cache_dir):
    """Run ``code`` in a fresh interpreter (numba reads NUMBA_CACHE_DIR at import) with
    NUMBA_CACHE_DIR ``cache_dir`` (None: unset); its stdout."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("user_dir", [True, False], ids=["NUMBA_CACHE_DIR", "pycache"])
def test_the_cache_folder_is_where_numba_writes(tmp_path, user_dir):
    """A cached function of a module file lands in ``numba_cache_dir(file)``."""
    module = tmp_path / "src" / "cached_here.py"
    module.parent.mkdir()
    module.write_text("from numba import njit\n\n@njit(cache=True)\ndef f(x):\n"
                      "    return x + 1\n")
    cache = tmp_path / "numba-cache" if user_dir else None
    out = _python(f"""
        import sys
        sys.path.insert(0, {str(module.parent)!r})
        import cached_here
        from sim.netmodel.nodekernel import numba_cache_dir
        assert cached_here.f(1) == 2
        print(numba_cache_dir(cached_here.__file__))
        """, cache)
    folder = out.strip()
    names = sorted(os.listdir(folder))
    assert [n.split(".")[:2] for n in names] == [["cached_here", "f-3"]] * 2, names
    assert names[0].endswith(".nbc") and names[1].endswith(".nbi"), names
    if user_dir:
        assert folder.startswith(str(cache))
    else:
        assert folder == str(module.parent / "__pycache__")


def test_a_stale_node_kernel_cache_is_cleared_in_numba_cache_dir(tmp_path):
    """Under NUMBA_CACHE_DIR the guard keeps its digest there and clears the kernel's cache
    files there when the digest changes (before, it read ``__pycache__`` only, so a suite
    cache of its own would have kept a kernel compiled from old sources)."""
    cache = tmp_path / "numba-cache"
    where = _python("import sim.netmodel.nodekernel as nk; print(nk._CACHE)", cache).strip()
    assert where.startswith(str(cache))
    stamp = os.path.join(where, "nodekernel.sources.sha256")
    fresh = open(stamp).read()
    entries = [os.path.join(where, n) for n in ("nodekernel.run-1.py311.nbi",
                                                "nodekernel.run-1.py311.1.nbc")]
    for path in entries:
        open(path, "w").close()
    _python("import sim.netmodel.nodekernel", cache)             # same sources: kept
    assert all(os.path.exists(p) for p in entries)
    with open(stamp, "w") as f:
        f.write("the digest of older sources")
    _python("import sim.netmodel.nodekernel", cache)             # stale: cleared
    assert not any(os.path.exists(p) for p in entries)
    assert open(stamp).read() == fresh
