"""Hierarchical Verilog emission: each distinct module once, whatever the instance count.

Amaranth elaborates every instance of a component into its own module, so a
19x19 mesh would hold 361 copies of the router. Instead, a parent asks a
:class:`ModuleLibrary` for an :class:`~amaranth.hdl.Instance` of a named
module; the library converts that module's component once and the parent wires
an interface object shaped by the component's signature, exactly as it would
wire the component itself (``wiring.connect`` works on it).
"""

import hashlib
import re

from amaranth.back import verilog
from amaranth.hdl import ClockSignal, Instance, ResetSignal
from amaranth.lib import wiring

__all__ = ["ModuleLibrary", "port_name", "digest", "icarus_safe"]

_TRIGGER = re.compile(r"^(\s*)reg (\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+) += 0;$",
                      re.MULTILINE)


def icarus_safe(text):
    """Make Yosys' time-zero trigger of ``always @*`` blocks fire under Icarus.

    Yosys declares ``reg \\$auto$verilog_backend...dump_module$N = 0;`` and names it
    in every ``always @*`` so that the block runs once at time zero. Icarus 11
    applies declaration initialisers before the blocks wait, so a block whose
    inputs are all initialised registers that do not change for a while (an FSM
    sitting in its first state) keeps X outputs. An explicit ``initial`` that
    changes the trigger after a ``#0`` runs every such block once; it is guarded
    by ``__ICARUS__`` (Verilator and synthesis never see the delay).
    """
    return _TRIGGER.sub(lambda mo: f"{mo.group(1)}reg {mo.group(2)} = 0;\n"
                                   f"`ifdef __ICARUS__\n"
                                   f"{mo.group(1)}initial #0 {mo.group(2)} = 1;\n"
                                   f"`endif", text)



def port_name(path):
    """Verilog port name Amaranth gives a signature member path."""
    return "__".join(str(p) for p in path)


class ModuleLibrary:
    """Distinct modules of one design, each converted to Verilog once."""

    def __init__(self, *, structural_dies=False):
        self._modules = {}      # name -> (component, verilog text)
        # dies of training nodes as structural text even when Amaranth could convert them
        self.structural_dies = structural_dies

    def __contains__(self, name):
        return name in self._modules

    def add(self, name, build):
        """Register module ``name``; ``build()`` makes its component on first use."""
        if name not in self._modules:
            component = build()
            self._modules[name] = (component, self._convert(component, name))
        return self._modules[name][0]

    def instance(self, m, name, build, *, inst_name, **ties):
        """Instantiate module ``name`` in ``m``; returns the interface to wire.

        ``ties`` connect top-level members directly (e.g. ``x=Const(3, 4)``).
        """
        component = self.add(name, build)
        shadow = component.signature.create(path=(inst_name,))
        ports = {}
        for path, member, value in component.signature.flatten(shadow):
            key = port_name(path)
            if len(path) == 1 and path[0] in ties:
                value = ties[path[0]]
            prefix = "i_" if member.flow == wiring.In else "o_"
            ports[prefix + key] = value
        text = self._modules[name][1]
        if "  input clk;" in text:
            ports["i_clk"] = ClockSignal()
        if "  input rst;" in text:
            ports["i_rst"] = ResetSignal()
        m.submodules[inst_name] = Instance(name, **ports)
        return shadow

    def verilog(self, top_name, top):
        """The whole design: library modules (sorted by name) then the top."""
        # the top first: elaborating it may add modules (instances made in elaborate())
        top_text = self._convert(top, top_name)
        return "".join([self._modules[n][1] for n in sorted(self._modules)] + [top_text])

    def _convert(self, component, name):
        """Amaranth's Verilog, or :mod:`gen.structural` text for a die too wide for it."""
        from rtl.fabric.die import Die
        from .structural import AMARANTH_INPUT_BITS, die_verilog, input_bits
        bits = input_bits(component)
        if isinstance(component, Die) and component.kind == "compute" and (
                self.structural_dies or bits > AMARANTH_INPUT_BITS):
            pipe = None
            if component.stages:
                from rtl.net.link import LinkPipe
                pipe = self.add("dojo_link_pipe", lambda: LinkPipe(
                    flit_bits=component.fmt.flit_bits, vcs=component.vcs,
                    stages=component.stages))
            component._MustUse__silence = True      # written as text, never elaborated
            return die_verilog(component, name, self._modules[component.node_module][0],
                               component.node_module, pipe, "dojo_link_pipe")
        if bits > AMARANTH_INPUT_BITS:
            component._MustUse__silence = True      # refused, never elaborated
            raise ValueError(f"module {name} has {bits} input bits; Amaranth converts at most "
                             f"{AMARANTH_INPUT_BITS} (only dies of training nodes are written "
                             f"structurally): use narrower router.flit_bits or fewer nodes")
        return icarus_safe(verilog.convert(component, name=name, emit_src=False))

    @property
    def names(self):
        return sorted(self._modules)


def digest(text):
    return hashlib.sha256(text.encode()).hexdigest()[:16]
