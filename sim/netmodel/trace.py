"""Per-cycle link traces of the fast model, named and encoded like the RTL's, and their comparison.

A trace maps a link name to ``[(cycle, vc, last, data), ...]``, one entry per
cycle in which the link's output register holds a flit. Names (the contract with
``verif.tb_link_trace``): ``r<x>_<y>.<port>`` the router output register of node
(x, y) (``port`` of ``rtl.router.PORTS``; ``local`` feeds the sink), ``g<x>_<y>``
the traffic generator's output register, ``d<k>`` the output register of DieLink
``k``. ``data`` is the flit as the RTL carries it: a TRAFFIC head encoded with
``PacketFormat`` from the model's fields, a body flit as ``payload_word``.
"""

from rtl.net.packet import MsgClass, Opcode
from rtl.net.directions import PORTS
from rtl.measure.traffic import payload_word

__all__ = ["channel_names", "model_link_trace", "first_difference"]


def channel_names(model):
    """Link name of every channel of ``model`` (see :mod:`sim.netmodel.network`)."""
    N = model.n_nodes
    names = []
    for n, (x, y) in enumerate(model.coords()):
        names += [f"r{x}_{y}.{p}" for p in PORTS]
    names += [f"g{x}_{y}" for x, y in model.coords()]
    names += [f"d{k}" for k in range(model.n_dielinks)]
    assert len(names) == 6 * N + model.n_dielinks
    return names


def _flit_data(fmt, w0, w1):
    dst = (w0 & 0xFFF, (w0 >> 12) & 0xFFF)
    index, length = (w0 >> 24) & 0xFF, (w0 >> 32) & 0xFF
    marked, seq = (w0 >> 40) & 1, (w0 >> 41) & 0xFFFF
    src = (w1 & 0xFFF, (w1 >> 12) & 0xFFF)
    if index:
        return payload_word(src[0], src[1], seq, index, fmt.flit_bits)
    info = fmt.encode_traffic_info(marked=marked, seq=seq, timestamp=w1 >> 24)
    return fmt.encode_head(dst=dst, src=src, opcode=Opcode.TRAFFIC, length=length,
                           mclass=MsgClass.REQUEST, info=info)


def _vector(fields):
    from rtl.measure.traffic import Pattern
    from .network import ctrl_vector
    fields = dict(fields)
    if isinstance(fields.get("pattern"), str):
        fields["pattern"] = Pattern[fields["pattern"].upper()]
    return ctrl_vector(**fields)


def model_link_trace(model, fmt, *, cycles, ctrl_schedule, ctrl_idle=None):
    """Run ``model`` from reset for ``cycles`` cycles and return its link trace.

    The arguments are those of ``sim.link_trace.run_link_trace`` (the RTL side):
    ``ctrl_schedule`` is ``[(cycle, {control_value fields}), ...]``, each word written
    at the falling edge at which the cycle counter reads ``cycle`` (so it is at the
    top-level input from that cycle on); ``ctrl_idle`` the fields written before the
    reset (``enable`` 0; default: the first entry's). The model needs a
    ``trace_capacity``.
    """
    schedule = sorted(ctrl_schedule, key=lambda e: e[0])
    idle = dict(ctrl_idle if ctrl_idle is not None else (schedule[0][1] if schedule else {}))
    idle["enable"] = 0
    current = _vector(idle)
    model.reset(current)
    for cycle, fields in schedule:
        model.run(cycle - model.t, current)
        current = _vector(fields)
    # the register values of cycle c are written in step c - 1
    model.run(cycles - 1 - model.t, current)
    names = channel_names(model)
    out = {}
    for t, c, w0, w1 in zip(*model.trace_records()):
        w0, w1 = int(w0), int(w1)
        out.setdefault(names[int(c)], []).append(
            (int(t), (w0 >> 58) & 7, (w0 >> 57) & 1, _flit_data(fmt, w0, w1)))
    for flits in out.values():
        flits.sort()
    return out


def first_difference(reference, model):
    """``None`` when the traces are equal, else a sentence naming the first differing
    cycle and link with both values (``reference`` is the RTL)."""
    events = {}
    for side, trace in (("rtl", reference), ("model", model)):
        for name, flits in trace.items():
            for cycle, vc, last, data in flits:
                events.setdefault((cycle, name), {})[side] = (vc, last, data)
    for (cycle, name) in sorted(events):
        e = events[(cycle, name)]
        if e.get("rtl") != e.get("model"):
            def show(v):
                return "no flit" if v is None else f"vc {v[0]} last {v[1]} data {v[2]:#x}"
            return (f"cycle {cycle}, link {name}: RTL {show(e.get('rtl'))}, "
                    f"model {show(e.get('model'))}")
    return None
