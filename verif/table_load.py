"""Loading the table router's tables and the generators' live list (docs/table_mode.md).

The manifest of a design in fault-map mode carries ``routing_tables`` (table mode) and
``live_nodes`` (:meth:`gen.design.FaultSetup.manifest`); :func:`config_writes` turns them into
the writes of the configuration port (:func:`rtl.net.routing_table.config_layout`, one
per cycle) and :func:`load_config_port` drives them, meant to run while reset is held so
that the cycle counter starts from the same reset as without tables.
"""

from cocotb.triggers import FallingEdge

from rtl.net.routing_table import DIE_ENTRY_BITS, NODE_ENTRY_BITS, ConfigTarget, config_layout

__all__ = ["config_writes", "load_config_port", "fault_mode"]


def fault_mode(man):
    """The design has a configuration port to load (table routing or live rules)."""
    return bool(man.get("live_mode")) or man.get("routing") == "table"


def config_writes(man):
    """The packed ``cfg`` words that load a design of manifest ``man`` (empty when it has
    no fault-map mode): every router's die and node entries (dead routers' zeros too),
    then the live count and the live list."""
    if not fault_mode(man):
        return []
    cb = man["format"]["coord_bits"]
    mx, my = man["mesh_x"], man["mesh_y"]
    die_shape = man.get("die_shape") or (mx, my)
    shape = (mx // die_shape[0], my // die_shape[1], die_shape[0], die_shape[1])
    tables = man.get("routing_tables")
    planes = (tables or {}).get("vc_planes")
    if planes is not None:
        shape += (len(planes["node"]),)
    layout = config_layout(cb, shape)

    def word(target, x=0, y=0, addr=0, data=0):
        return layout.const({"valid": 1, "target": target, "x": x, "y": y, "addr": addr,
                             "data": data}).as_value().value

    out = []
    if tables is not None:
        # one table set per VC (VC v's entries at v * entries + index) with VC planes, else
        # one set and no choice; plane 0's writes carry the source's VC choice above the
        # entry (rtl.net.routing_table)
        if planes is None:
            zero = lambda a: [[[0] * len(a[0][0])] * mx] * my
            planes = {"die": [tables["die"]], "node": [tables["node"]],
                      "select_die": zero(tables["die"]), "select_node": zero(tables["node"])}
        dies, nodes = shape[0] * shape[1], shape[2] * shape[3]
        for y in range(my):
            for x in range(mx):
                for v in range(len(planes["node"])):
                    if dies > 1:
                        out += [word(ConfigTarget.DIE, x, y, v * dies + d, e | (
                            planes["select_die"][y][x][d] << DIE_ENTRY_BITS if v == 0 else 0))
                            for d, e in enumerate(planes["die"][v][y][x])]
                    out += [word(ConfigTarget.NODE, x, y, v * nodes + l, e | (
                        planes["select_node"][y][x][l] << NODE_ENTRY_BITS if v == 0 else 0))
                        for l, e in enumerate(planes["node"][v][y][x])]
    if man.get("live_mode"):
        live = man["live_nodes"]
        out.append(word(ConfigTarget.COUNT, data=len(live)))
        out += [word(ConfigTarget.LIVE, addr=k, data=(y << cb) | x)
                for k, (x, y) in enumerate(live)]
    return out


async def load_config_port(dut, man):
    """Drive :func:`config_writes` on ``dut.cfg``, one per cycle from a falling edge, then
    idle long enough for the mesh's and die's input registers to pass the last one."""
    writes = config_writes(man)
    if not writes:
        return 0
    for w in writes:
        await FallingEdge(dut.clk)
        dut.cfg.value = w
    await FallingEdge(dut.clk)
    dut.cfg.value = 0
    for _ in range(3):
        await FallingEdge(dut.clk)
    return len(writes)
