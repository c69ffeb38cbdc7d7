"""The step's timeline from the run's cycle records, and its Chrome trace-event JSON.

The records (:class:`verif.tb_step.StatusMonitor`) are, per node, every change of
``(q0 status, q1 status, NI status bits, mesh valid bits)`` with its cycle. From them:

- one span per descriptor a queue ran: from the cycle its program counter showed the
  descriptor (its fetch included) to the cycle it showed the next one, or the queue
  halted; named by the descriptor's opcode (EXEC, PUSH, PULL, WAIT, SIGNAL, LOOP) with the
  GEMM or all-reduce it belongs to and, for a WAIT, the cycles it was short
  (``WAITING``). A LOOP whose body is one descriptor shows its iterations as one span
  (the program counter does not change; the compiler makes no such loop);
- the engine's and the DMA's busy spans (NI status bits 0 and 1);
- per node: ``compute_cycles`` (engine busy), ``communication_cycles`` (DMA busy),
  ``overlapped_cycles`` (both), ``exposed_communication_cycles`` (DMA busy while the
  engine is not: the communication not hidden behind compute), ``waiting_cycles`` (the
  compute queue in a short WAIT);
- link utilisation: the valid flits on each mesh output per window of cycles.

Trace events: one process per node (``sys[i] (x,y)``), threads ``comm queue``,
``compute queue``, ``engine``, ``DMA``; ``X`` events in microseconds of the config's
clock with ``args.cycle_start``/``cycle_end`` (cycles from the first start write);
``C`` events ``links`` per node (utilisation of N, E, S, W per window).
"""

from rtl.net.directions import MESH_PORTS

__all__ = ["queue_spans", "busy_spans", "node_breakdown", "trace_events", "plot_timeline",
           "WINDOW"]

#: cycles per link-utilisation sample
WINDOW = 64
QUEUE_NAMES = {0: "comm queue", 1: "compute queue"}
UNIT_NAMES = {0: "engine", 1: "DMA"}


def _decode_ops(mdl, descs):
    from verif.node_model import CmdOp
    out = []
    for d in descs:
        word = sum(line << (mdl.width * i) for i, line in enumerate(d))
        out.append(CmdOp(mdl.lay.decode("cmd_desc", word)["op"]).name)
    return out


def queue_spans(mdl, records, t0, t_end, q, start_pc, descs, labels=None):
    """The spans of queue ``q`` of one node: ``[{"name", "label", "start", "end",
    "waiting"}]`` in cycles from ``t0`` (``descs``: its program, at ``start_pc``)."""
    from verif.node_model import CmdState
    ops = _decode_ops(mdl, descs)
    spans, cur, last = [], None, None
    for rec in records:
        cycle, value = rec[0] - t0, rec[1 + q]
        if value == last:
            continue
        last = value
        st = mdl.status(value)
        running = st["state"] in (CmdState.RUNNING, CmdState.WAITING)
        if cur is not None and (not running or st["pc"] != cur["pc"]):
            cur["end"] = cycle
            spans.append(cur)
            cur = None
        if running and cur is None:
            i = (st["pc"] - start_pc) // mdl.cmd_lines
            cur = {"pc": st["pc"], "index": i, "name": ops[i],
                   "label": labels[i] if labels else "", "start": cycle, "waiting": 0,
                   "_w": None}
        if cur is not None:
            if st["state"] == CmdState.WAITING and cur["_w"] is None:
                cur["_w"] = cycle
            elif st["state"] != CmdState.WAITING and cur["_w"] is not None:
                cur["waiting"] += cycle - cur["_w"]
                cur["_w"] = None
    if cur is not None:
        cur["end"] = t_end - t0
        spans.append(cur)
    for s in spans:
        if s.pop("_w") is not None:
            s["waiting"] = s["end"] - s["start"]       # never left WAITING (cannot happen)
    return spans


def busy_spans(records, t0, t_end, bit):
    """Spans (cycles from ``t0``) where NI status bit ``bit`` was 1."""
    spans, since = [], None
    for rec in records:
        on = bool(rec[3] >> bit & 1)
        c = rec[0] - t0
        if on and since is None:
            since = c
        elif not on and since is not None:
            spans.append((since, c))
            since = None
    if since is not None:
        spans.append((since, t_end - t0))
    return spans


def _integrate(records, t0, t_end):
    """Cycles with (engine, DMA) = each of the four combinations, and flits per window
    and mesh port."""
    both = {(e, d): 0 for e in (0, 1) for d in (0, 1)}
    windows = {}
    for k, rec in enumerate(records):
        c0 = rec[0] - t0
        c1 = (records[k + 1][0] if k + 1 < len(records) else t_end) - t0
        if c1 <= c0:
            continue
        both[(rec[3] & 1, rec[3] >> 1 & 1)] += c1 - c0
        valid = rec[4]
        if valid:
            c = c0
            while c < c1:
                w = c // WINDOW
                n = min(c1, (w + 1) * WINDOW) - c
                row = windows.setdefault(w, [0] * len(MESH_PORTS))
                for p in range(len(MESH_PORTS)):
                    if valid >> p & 1:
                        row[p] += n
                c += n
    return both, windows


def node_breakdown(records, t0, t_end, queue1_spans):
    """Per node figures of the module docstring."""
    both, windows = _integrate(records, t0, t_end)
    compute = both[(1, 0)] + both[(1, 1)]
    comm = both[(0, 1)] + both[(1, 1)]
    return {"compute_cycles": compute, "communication_cycles": comm,
            "overlapped_cycles": both[(1, 1)], "exposed_communication_cycles": both[(0, 1)],
            "idle_cycles": both[(0, 0)],
            "waiting_cycles": sum(s["waiting"] for s in queue1_spans if s["name"] == "WAIT"),
            "link_windows": {str(w): v for w, v in sorted(windows.items())}}


def trace_events(timeline, f_ghz):
    """The Chrome trace-event JSON object of a step's timeline (``result.json``'s
    ``timeline``: per node its ``queues``, ``engine``, ``dma`` spans and its link
    windows)."""
    us = 1e-3 / f_ghz
    ev = []
    for i, nd in enumerate(timeline["nodes"]):
        x, y = nd["node"]
        ev.append({"ph": "M", "name": "process_name", "pid": i,
                   "args": {"name": f"sys[{i}] ({x},{y})"}})
        ev.append({"ph": "M", "name": "process_sort_index", "pid": i, "args": {"sort_index": i}})
        for tid, name in [*QUEUE_NAMES.items(), *((2 + k, v) for k, v in UNIT_NAMES.items())]:
            ev.append({"ph": "M", "name": "thread_name", "pid": i, "tid": tid,
                       "args": {"name": name}})
        for q, spans in enumerate(nd["queues"]):
            for s in spans:
                ev.append({"ph": "X", "pid": i, "tid": q, "name": s["name"],
                           "cat": s["label"] or "control", "ts": s["start"] * us,
                           "dur": (s["end"] - s["start"]) * us,
                           "args": {"cycle_start": s["start"], "cycle_end": s["end"],
                                    "label": s["label"], "waiting_cycles": s["waiting"],
                                    "pc": s["pc"]}})
        for tid, key in ((2, "engine"), (3, "dma")):
            for a, b in nd[key]:
                ev.append({"ph": "X", "pid": i, "tid": tid,
                           "name": "busy", "cat": key, "ts": a * us, "dur": (b - a) * us,
                           "args": {"cycle_start": a, "cycle_end": b}})
        for w, flits in sorted(nd["link_windows"].items(), key=lambda kv: int(kv[0])):
            ev.append({"ph": "C", "pid": i, "name": "link utilisation",
                       "ts": int(w) * WINDOW * us,
                       "args": {p[0].upper(): f / WINDOW for p, f in zip(MESH_PORTS, flits)}})
    return {"traceEvents": ev, "displayTimeUnit": "ns",
            "otherData": {"workload": timeline["workload"], "cycles": timeline["cycles"],
                          "f_ghz": f_ghz, "window_cycles": WINDOW}}


def plot_timeline(timeline, path, nodes=None):
    """A picture of the timeline (what Perfetto shows of ``trace.json``): per node its two
    queues' descriptor spans coloured by opcode, and its engine and DMA busy spans."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    colours = {"EXEC": "tab:green", "PUSH": "tab:blue", "PULL": "tab:cyan",
               "WAIT": "tab:red", "SIGNAL": "tab:orange", "LOOP": "tab:gray",
               "HALT": "black"}
    rows = timeline["nodes"] if nodes is None else [timeline["nodes"][i] for i in nodes]
    fig, ax = plt.subplots(figsize=(12, 0.9 + 0.62 * len(rows)))
    labels, y = [], 0
    for nd in rows:
        x, yy = nd["node"]
        tracks = [(f"({x},{yy}) DMA", [(a, b, "tab:purple") for a, b in nd["dma"]]),
                  (f"({x},{yy}) engine", [(a, b, "darkgreen") for a, b in nd["engine"]]),
                  (f"({x},{yy}) comm q", [(s["start"], s["end"], colours[s["name"]])
                                          for s in nd["queues"][0]]),
                  (f"({x},{yy}) compute q", [(s["start"], s["end"], colours[s["name"]])
                                             for s in nd["queues"][1]])]
        for name, spans in tracks:
            for a, b, c in spans:
                ax.broken_barh([(a, max(b - a, 0.5))], (y - 0.4, 0.8), color=c)
            labels.append(name)
            y += 1
        y += 0.5
        labels.append("")
    ax.set_yticks(_positions(rows), [lb for lb in labels if lb])
    ax.set_xlabel("cycle from the first start write")
    ax.set_xlim(0, timeline["cycles"])
    handles = [matplotlib.patches.Patch(color=c, label=k) for k, c in colours.items()
               if k not in ("PULL",)]
    handles += [matplotlib.patches.Patch(color="darkgreen", label="engine busy"),
                matplotlib.patches.Patch(color="tab:purple", label="DMA busy")]
    ax.legend(handles=handles, ncol=9, fontsize=7, loc="upper center",
              bbox_to_anchor=(0.5, 1.02 + 0.6 / len(rows)))
    ax.set_title(f"{timeline['workload']}: {timeline['cycles']} cycles", pad=28)
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _positions(rows):
    out, y = [], 0
    for _ in rows:
        out += [y, y + 1, y + 2, y + 3]
        y += 4.5
    return out
