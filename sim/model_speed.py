"""Speed of a Verilated traffic mesh on its own, without cocotb.

The benchmark's cocotb speed mixes the model with cocotb's scheduling. This
links a ten-line C++ loop (clock, ``eval()``) against the very objects of the
cached cocotb build, so it costs a link, not a build, and answers two
questions the cocotb number cannot:

- how fast is the model alone (cycles per second)?
- how many instructions does one node cost per cycle (callgrind, when
  ``valgrind`` is installed)? That count, divided into the machine's
  instruction rate, bounds what any driver can reach.

The run is also checked: the generators' ``marked_generated`` count must match
the offered load and no sink may report an error.
"""

import re
import shutil
import subprocess
from pathlib import Path

__all__ = ["harness", "model_speed", "instructions_per_node_cycle", "measure"]

_MAIN = r"""
#include "Vtop.h"
#include "verilated.h"
#include <chrono>
#include <cstdio>
#include <cstdlib>

static void tick(Vtop& top) { top.clk = 1; top.eval(); top.clk = 0; top.eval(); }

int main(int argc, char** argv) {
    VerilatedContext ctx;
    Vtop top{&ctx};
    long cycles = argc > 1 ? atol(argv[1]) : 10000;
    top.clk = 0; top.rst = 1; top.stat_node = 0; top.stat_index = 0;
    SET_CTRL
    top.eval();
    for (int i = 0; i < 4; i++) tick(top);
    top.rst = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < cycles; i++) tick(top);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    printf("cycles %ld seconds %.6f generated %u received %u error %u\n", cycles, s,
           (unsigned)top.marked_generated, (unsigned)top.marked_received, (unsigned)top.error);
    top.final();
    return 0;
}
"""

#: the runtime objects cocotb's Verilator build compiled next to the model
_OBJECTS = ("Vtop__ALL.a", "verilated.o", "verilated_dpi.o", "verilated_vpi.o",
            "verilated_threads.o")


def _set_ctrl(value, width):
    if width <= 64:
        return f"top.ctrl = {value}ULL;"
    words = [(value >> (32 * i)) & 0xFFFFFFFF for i in range((width + 31) // 32)]
    return " ".join(f"top.ctrl[{i}] = {w}U;" for i, w in enumerate(words))


def harness(build_dir, ctrl_value, ctrl_width):
    """Link the C++ loop against the cocotb build in ``build_dir``; returns the executable.

    ``ctrl_value`` is the packed ``ctrl`` register (:func:`rtl.measure.traffic.control_layout`).
    """
    from gen.tools import setup_verilator
    build_dir = Path(build_dir)
    missing = [o for o in _OBJECTS if not (build_dir / o).exists()]
    if missing:
        raise FileNotFoundError(f"{build_dir} is not a finished Verilator build "
                                f"(missing {', '.join(missing)})")
    root = setup_verilator()
    exe = build_dir / f"model_speed_{ctrl_value:x}"
    if exe.exists():
        return exe
    src = build_dir / "model_speed_main.cpp"
    src.write_text(_MAIN.replace("SET_CTRL", _set_ctrl(ctrl_value, ctrl_width)))
    subprocess.run(["g++", "-O2", "-std=c++17", f"-I{build_dir}", f"-I{root / 'include'}",
                    f"-I{root / 'include' / 'vltstd'}", str(src),
                    *[str(build_dir / o) for o in _OBJECTS], "-lpthread", "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    return exe


def _parse(text):
    m = re.search(r"cycles (\d+) seconds ([\d.]+) generated (\d+) received (\d+) error (\d+)", text)
    if not m:
        raise RuntimeError(f"unexpected harness output: {text!r}")
    cycles, seconds, generated, received, error = m.groups()
    return {"cycles": int(cycles), "seconds": float(seconds), "generated": int(generated),
            "received": int(received), "error": int(error)}


def model_speed(exe, cycles=20000, repeats=3):
    """Cycles per second of the model alone, with the generators' and sinks' counts.

    The best of ``repeats`` runs: a shared machine only ever slows a run down, so the
    fastest is the least disturbed estimate (every run's speed is kept in
    ``"runs_cycles_per_s"``)."""
    runs = [_parse(subprocess.run([str(exe), str(cycles)], check=True, capture_output=True,
                                  text=True).stdout) for _ in range(repeats)]
    if len({(r["generated"], r["received"], r["error"]) for r in runs}) != 1:
        raise RuntimeError(f"{exe}: runs of the same model disagree: {runs}")
    best = min(runs, key=lambda r: r["seconds"])
    return {**best, "cycles_per_s": best["cycles"] / best["seconds"],
            "runs_cycles_per_s": [round(r["cycles"] / r["seconds"]) for r in runs]}


def instructions_per_node_cycle(exe, n_nodes, cycles=(300, 1300)):
    """Instructions the model executes per node per cycle (callgrind, difference of two
    run lengths so start-up cancels out); ``None`` when valgrind is not installed."""
    if not shutil.which("valgrind"):
        return None
    counts = []
    for n in cycles:
        run = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                              str(exe), str(n)], check=True, capture_output=True, text=True)
        counts.append(int(re.search(r"Collected : (\d+)", run.stderr).group(1)))
    return (counts[1] - counts[0]) / (cycles[1] - cycles[0]) / n_nodes


def measure(design, rate, *, cycles=20000, pattern="uniform", packet_len=1, callgrind=True):
    """The model alone on a traffic-mesh design whose flat cocotb Verilator build exists
    (the one sweeps and benchmarks run, never the test suite's fast build):
    generators enabled (and marking) at ``rate`` flits/node/cycle from reset on."""
    from rtl.measure.traffic import Pattern, control_value, rate_threshold
    from sim.runner import build_dir_of
    from verif.tb_common import packet_format
    man = design.manifest()
    ctrl = control_value(packet_format(man).coord_bits, enable=1, mark=1,
                         rate=rate_threshold(rate, packet_len), packet_len=packet_len,
                         pattern=Pattern[pattern.upper()])
    width = next(p["width"] for p in man["ports"] if p["name"] == "ctrl")
    exe = harness(build_dir_of(design, "verilator", fast_build=False), ctrl, width)
    speed = model_speed(exe, cycles)
    n_nodes = len(design.nodes)
    speed["offered_packets"] = rate / packet_len * n_nodes * cycles
    speed["instructions_per_node_cycle"] = (instructions_per_node_cycle(exe, n_nodes)
                                            if callgrind else None)
    return speed
