"""Structural Verilog for a die of training nodes, written without Amaranth's netlist.

Amaranth numbers the bits of a design's top-level inputs in one 16-bit space,
so a module with more than 65533 input bits cannot be converted: a D1-scale
die (19 x 19 nodes, 76 edge links of 1024-bit flits) has about 78k. A die of
training nodes is pure structure (node instances, wires, link pipes, and a
reduction of three status outputs), so it is written here as text from the
same geometry (:meth:`rtl.fabric.mesh.Mesh.internal_links`, :meth:`~rtl.fabric.mesh.Mesh.edge_ports`)
and the same port names the Amaranth die has; the library uses it whenever a
compute die is too wide for Amaranth (:func:`die_writer`, a writer of
:class:`gen.emit.ModuleLibrary`), and the tests simulate a tile built from it.
"""

from rtl.fabric.die import Die
from rtl.net.link import LinkPipe
from .emit import AMARANTH_INPUT_BITS, ModuleText, input_bits, members as _members

__all__ = ["die_verilog", "die_writer"]

#: the clock-domain inputs die_verilog declares (as ModuleText.clocks)
_CLOCKS = (("clk", "clk", "sync"), ("rst", "rst", "sync"))


def die_writer(*, always=False):
    """A :class:`gen.emit.ModuleLibrary` writer: a die of training nodes as structural
    text when it is too wide for Amaranth, or always with ``always=True``."""
    def write(lib, component, name):
        if not (isinstance(component, Die) and component.kind == "compute"):
            return None
        if not always and input_bits(component) <= AMARANTH_INPUT_BITS:
            return None
        pipe = None
        if component.stages:
            pipe = lib.add("dojo_link_pipe", lambda: LinkPipe(
                flit_bits=component.fmt.flit_bits, vcs=component.vcs,
                stages=component.stages))
        text = die_verilog(component, name, lib.component(component.node_module),
                           component.node_module, pipe, "dojo_link_pipe")
        return ModuleText(text, _CLOCKS)
    return write


def _decl(direction, width, name):
    return f"  {direction} {'' if width == 1 else f'[{width - 1}:0] '}{name};"


def die_verilog(die, name, node, node_name, pipe=None, pipe_name=None):
    """Verilog of :class:`rtl.fabric.die.Die` ``die`` (``kind="compute"``) as module ``name``.

    ``node`` is the node component (module ``node_name``), ``pipe`` the link
    pipe component (module ``pipe_name``) when the die has link pipeline stages.
    """
    if die.kind != "compute":
        raise ValueError("structural emission covers dies of training nodes (kind 'compute')")
    link_fields = [(f, w) for f, is_in, w in _members(node) if f.startswith("in_north__")]
    link_fields = [(f.split("__", 1)[1], w) for f, w in link_fields]
    cb = die.fmt.coord_bits
    ports = _members(die)
    lines = [f"module {name}(clk, rst, {', '.join(p for p, _, _ in ports)});"]
    lines += [_decl("input", 1, "clk"), _decl("input", 1, "rst")]
    lines += [_decl("input" if is_in else "output", w, p) for p, is_in, w in ports]

    # what every node port connects to: "<x>_<y>" -> {port: net}
    conn = {f"{x}_{y}": {} for x, y in die.local_coords()}
    for x, y in die.local_coords():
        k = f"{x}_{y}"
        for coord, origin in (("x", "x0"), ("y", "y0")):
            offset = x if coord == "x" else y
            lines.append(f"  wire [{cb - 1}:0] {coord}_{k} = {origin} + {cb}'d{offset};")
            conn[k][coord] = f"{coord}_{k}"
        for out in ("errors", "busy", "overflow"):
            width = 32 if out == "errors" else 1
            lines.append(_decl("wire", width, f"{out}_{k}"))
            conn[k][out] = f"{out}_{k}"
    insts = []
    for lname, (src, d_out), (dst, d_in) in die.internal_links():
        s, d = "_".join(map(str, src)), "_".join(map(str, dst))
        ends = [(lname + "_a", s, d_out), (lname + "_b", d, d_in)] if die.stages else \
            [(lname, s, d_out), (lname, d, d_in)]
        for net, _, _ in ends[:1 + bool(die.stages)]:
            lines += [_decl("wire", w, f"{net}__{f}") for f, w in link_fields]
        (na, sa, da), (nb, sb, db) = ends
        for f, _ in link_fields:
            conn[sa][f"out_{da}__{f}"] = f"{na}__{f}"
            conn[sb][f"in_{db}__{f}"] = f"{nb}__{f}"
        if die.stages:
            pconn = {f"i__{f}": f"{na}__{f}" for f, _ in link_fields}
            pconn.update({f"o__{f}": f"{nb}__{f}" for f, _ in link_fields})
            insts.append((pipe_name, lname, pconn))
    for pname, (x, y), direction in die.edge_ports():
        k = f"{x}_{y}"
        for f, _ in link_fields:
            conn[k][f"in_{direction}__{f}"] = f"in_{pname}__{f}"
            conn[k][f"out_{direction}__{f}"] = f"out_{pname}__{f}"
    for x, y in die.local_coords():
        insts.append((node_name, f"node_{x}_{y}", conn[f"{x}_{y}"]))
    for module, inst, c in insts:
        pins = [".clk(clk)", ".rst(rst)"] + [f".{p}({net})" for p, net in c.items()]
        lines.append(f"  {module} {inst} (\n    " + ",\n    ".join(pins) + "\n  );")
    keys = [f"{x}_{y}" for x, y in die.local_coords()]
    lines.append(f"  assign errors = {' + '.join(f'errors_{k}' for k in keys)};")
    lines.append(f"  assign busy = {' | '.join(f'busy_{k}' for k in keys)};")
    lines.append(f"  assign overflow = {' | '.join(f'overflow_{k}' for k in keys)};")
    lines.append("endmodule\n")
    return "\n".join(lines) + "\n"
