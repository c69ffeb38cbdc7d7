"""The timeline from cycle records (no simulation): spans, busy cycles, link windows and
the trace-event JSON read back against the records it came from."""

import json

from gen.config import load_config
from gen.derive import derive
from sim.step.timeline import WINDOW, busy_spans, node_breakdown, queue_spans, trace_events
from tests.conftest import CONFIGS
from verif.node_model import CmdState, NodeModel


def _mdl():
    cfg = load_config(CONFIGS / "default.yaml")
    return NodeModel.from_config(cfg, derive(cfg))


def _status(mdl, state, pc):
    return mdl.lay.encode("cmd_status", state=state.value, code=0, pc=pc)


def test_spans_follow_the_program_counter_and_waiting_state():
    mdl = _mdl()
    start = 400
    prog = [mdl.cmd_wait(0, 1), mdl.cmd_exec(m=4, n=4, k=4, dtype="bf16", a_addr=0, b_addr=8,
                                              c_addr=16, accumulate=False), mdl.cmd_halt(0)]
    L = mdl.cmd_lines
    idle = _status(mdl, CmdState.IDLE, 0)
    run = lambda pc: _status(mdl, CmdState.RUNNING, pc)            # noqa: E731
    wait = _status(mdl, CmdState.WAITING, start)
    # [cycle, q0, q1, ni bits, valid bits]
    recs = [[100, idle, idle, 0, 0], [105, idle, run(start), 0, 0], [109, idle, wait, 0, 0],
            [130, idle, run(start), 0, 0], [133, idle, run(start + L), 0, 0],
            [137, idle, run(start + L), 1, 0b0010], [161, idle, run(start + L), 0, 0],
            [165, idle, run(start + 2 * L), 0, 0],
            [166, idle, _status(mdl, CmdState.HALTED, start + 2 * L), 0, 0]]
    spans = queue_spans(mdl, recs, 100, 170, 1, start, prog, ["x", "g", "end"])
    assert [(s["name"], s["start"], s["end"], s["waiting"]) for s in spans] == [
        ("WAIT", 5, 33, 21), ("EXEC", 33, 65, 0), ("HALT", 65, 66, 0)]
    assert spans[1]["label"] == "g"
    assert busy_spans(recs, 100, 170, 0) == [(37, 61)]
    b = node_breakdown(recs, 100, 170, spans)
    assert b["compute_cycles"] == 24 and b["communication_cycles"] == 0
    assert b["waiting_cycles"] == 21
    # the east output carried a flit every cycle from 137 to 161: 24 flits in window 0
    assert b["link_windows"] == {"0": [0, 24, 0, 0]} and WINDOW >= 61


def test_trace_events_read_back_equal_the_spans(tmp_path):
    tl = {"workload": "t", "cycles": 70, "nodes": [{
        "node": [1, 0], "queues": [[], [{"pc": 400, "index": 0, "name": "EXEC", "label": "g",
                                         "start": 33, "end": 65, "waiting": 0}]],
        "engine": [(37, 61)], "dma": [(40, 50)], "link_windows": {"0": [0, 24, 0, 0]}}]}
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(trace_events(tl, 2.0)))
    ev = json.loads(path.read_text())["traceEvents"]
    x = [e for e in ev if e["ph"] == "X"]
    assert [(e["tid"], e["name"], e["args"]["cycle_start"], e["args"]["cycle_end"]) for e in x] \
        == [(1, "EXEC", 33, 65), (2, "busy", 37, 61), (3, "busy", 40, 50)]
    assert x[0]["ts"] == 33 * 0.5e-3 and x[0]["dur"] == 32 * 0.5e-3   # 2 GHz, microseconds
    c = [e for e in ev if e["ph"] == "C"]
    assert c[0]["args"]["E"] == 24 / WINDOW
    names = {e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
    assert names == {"comm queue", "compute queue", "engine", "DMA"}
