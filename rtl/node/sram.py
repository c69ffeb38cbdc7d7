"""The node's SRAM scratchpad (DESIGN.md section 6): one line per flit payload.

A :class:`Scratchpad` is one ``lib.memory`` array of ``lines`` x ``width`` bits
with ``read_ports`` synchronous read ports and one write port, shared by
several *clients* through fixed-priority arbitration:

* every physical read port ``p`` has ``read_clients`` client ports
  ``read[p][c]``; client 0 has the highest priority. A client asserts ``en``
  with ``addr``; ``grant`` answers in the same cycle (combinationally); the
  line is on the client's ``data`` in the next cycle, for a granted request
  only (every client of a port sees the same data bus);
* the write port has ``write_clients`` client ports ``write[c]``, client 0 first;
  a granted ``en`` writes ``data`` at ``addr`` at the clock edge.

With ``banks`` > 1 the lines are split into that many equal contiguous banks
(ranges of addresses, so software places regions in banks), each
a ``lib.memory`` array with its own write port: clients writing different banks
are granted in the same cycle, fixed priority decides only within a bank. Every
physical read port reads any bank (one read per port per cycle, as before), so
banking adds write bandwidth and nothing else. This is what lets the matrix
engine write its C tiles back while the network streams operands into the
other bank (Cannon's shifts); one bank, one write port, would stall the engine
for as long as the stream lasts, because the NI is never made to wait.

Read ports are transparent for the write port: a read of the line written in
the same cycle returns the new data. The network interface is client 0 of
everything (it never stalls on the SRAM), the matrix engine client 1 (it stalls
when the network uses a port it needs): network, DMA and engine share the SRAM
as Dojo's "one read and one write packet per cycle" plus the engine's operand
bandwidth.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["ReadPortSignature", "WritePortSignature", "Scratchpad", "sram_lines"]


def sram_lines(sram_kb, width):
    """Lines of a scratchpad of ``sram_kb`` KiB with ``width``-bit lines.

    Raises
    ------
    ValueError
        If the size is not a whole number of lines, or less than one line.
    """
    bits = sram_kb * 1024 * 8
    lines = int(bits // width)
    if lines < 1 or lines * width != bits:
        raise ValueError(f"sram_kb={sram_kb} is not a whole number of {width}-bit lines")
    return lines


class ReadPortSignature(wiring.Signature):
    """A client's read port, seen from the client.

    Members
    -------
    addr : Out(addr_bits)
        Line address.
    en : Out(1)
        Request a read this cycle.
    grant : In(1)
        The request wins the port this cycle (combinational from ``en`` of
        higher-priority clients).
    data : In(width)
        The line read by the granted request of the previous cycle.
    """

    def __init__(self, *, addr_bits, width):
        self._addr_bits, self._width = addr_bits, width
        super().__init__({"addr": Out(addr_bits), "en": Out(1), "grant": In(1),
                          "data": In(width)})

    def __eq__(self, other):
        return (isinstance(other, ReadPortSignature) and other._addr_bits == self._addr_bits
                and other._width == self._width)

    def __hash__(self):
        return hash((ReadPortSignature, self._addr_bits, self._width))

    def __repr__(self):
        return f"ReadPortSignature(addr_bits={self._addr_bits}, width={self._width})"


class WritePortSignature(wiring.Signature):
    """A client's write port, seen from the client.

    Members
    -------
    addr : Out(addr_bits)
    data : Out(width)
    en : Out(1)
        Request a write this cycle.
    grant : In(1)
        The write happens at the end of this cycle.
    """

    def __init__(self, *, addr_bits, width):
        self._addr_bits, self._width = addr_bits, width
        super().__init__({"addr": Out(addr_bits), "data": Out(width), "en": Out(1),
                          "grant": In(1)})

    def __eq__(self, other):
        return (isinstance(other, WritePortSignature) and other._addr_bits == self._addr_bits
                and other._width == self._width)

    def __hash__(self):
        return hash((WritePortSignature, self._addr_bits, self._width))

    def __repr__(self):
        return f"WritePortSignature(addr_bits={self._addr_bits}, width={self._width})"


class Scratchpad(wiring.Component):
    """Multi-client SRAM: ``read_ports`` read ports and one write port per bank, fixed
    priority.

    Parameters
    ----------
    lines : int
        Number of lines (at least 2).
    width : int
        Bits per line (the flit width).
    read_ports : int
        Physical read ports (1..4).
    read_clients : int
        Clients per read port (1..4).
    write_clients : int
        Clients of the write port (1..4).
    banks : int
        Write banks (1, 2 or 4), dividing ``lines``; bank ``b`` holds lines
        ``b * lines / banks`` up to the next bank's first.

    Attributes
    ----------
    addr_bits : int
        Width of a line address.

    Members
    -------
    read : In(ReadPortSignature).array(read_ports, read_clients)
        ``read[p][c]``: client ``c`` of physical read port ``p``; lower ``c`` wins.
    write : In(WritePortSignature).array(write_clients)
        ``write[c]``: client ``c`` of the write ports; lower ``c`` wins within a bank.

    Raises
    ------
    ValueError
        If a parameter is out of range.
    """

    def __init__(self, *, lines, width, read_ports=2, read_clients=2, write_clients=2, banks=1):
        for name, value, lo, hi in (("lines", lines, 2, 1 << 24), ("width", width, 1, 4096),
                                    ("read_ports", read_ports, 1, 4),
                                    ("read_clients", read_clients, 1, 4),
                                    ("write_clients", write_clients, 1, 4)):
            if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                raise ValueError(f"{name} must be an integer in {lo}..{hi}, not {value!r}")
        if banks not in (1, 2, 4) or lines % banks or lines // banks < 2:
            raise ValueError(f"banks must be 1, 2 or 4 and divide lines={lines} into banks "
                             f"of at least 2 lines, not {banks!r}")
        self._banks = banks
        self._lines, self._width = lines, width
        self._read_ports, self._read_clients = read_ports, read_clients
        self._write_clients = write_clients
        self._addr_bits = (lines - 1).bit_length()
        rsig = ReadPortSignature(addr_bits=self._addr_bits, width=width)
        wsig = WritePortSignature(addr_bits=self._addr_bits, width=width)
        super().__init__({"read": In(rsig).array(read_ports, read_clients),
                          "write": In(wsig).array(write_clients)})

    lines = property(lambda self: self._lines)
    width = property(lambda self: self._width)
    addr_bits = property(lambda self: self._addr_bits)

    def elaborate(self, platform):
        m = Module()
        nb, depth = self._banks, self._lines // self._banks
        low = max((depth - 1).bit_length(), 1)

        def in_bank(addr, b):
            """``addr`` lies in bank ``b`` (a range compare: banks need not be powers of 2)."""
            if nb == 1:
                return 1
            lo = addr >= b * depth if b else 1
            hi = addr < (b + 1) * depth if b < nb - 1 else 1
            return lo & hi

        def local(addr, b):
            return (addr - b * depth)[:low] if b else addr[:low]

        mems, wps = [], []
        for b in range(nb):
            mem = Memory(shape=self._width, depth=depth, init=[])
            m.submodules[f"mem{b}" if nb > 1 else "mem"] = mem
            mems.append(mem)
            wps.append(mem.write_port())

        # write ports: per bank, the first client requesting that bank wins
        taken = [None] * nb
        for c in range(self._write_clients):
            cl = self.write[c]
            grant = 0
            for b, wp in enumerate(wps):
                here = cl.en & in_bank(cl.addr, b) if nb > 1 else cl.en
                mine = here if taken[b] is None else here & ~taken[b]
                with m.If(mine):
                    m.d.comb += [wp.en.eq(1), wp.addr.eq(local(cl.addr, b) if nb > 1 else cl.addr),
                                 wp.data.eq(cl.data)]
                grant = grant | mine
                taken[b] = here if taken[b] is None else taken[b] | here
            m.d.comb += cl.grant.eq(grant)

        for p in range(self._read_ports):
            clients = [self.read[p][c] for c in range(self._read_clients)]
            en = self._grants(m, clients)
            addr = Signal(self._addr_bits, name=f"rd_addr_{p}")
            for c, cl in enumerate(clients):
                with (m.If(cl.en) if c == 0 else m.Elif(cl.en)):
                    m.d.comb += addr.eq(cl.addr)
            rps = [mem.read_port(transparent_for=(wp,)) for mem, wp in zip(mems, wps)]
            for b, rp in enumerate(rps):
                m.d.comb += [rp.en.eq(en & in_bank(addr, b) if nb > 1 else en),
                             rp.addr.eq(local(addr, b) if nb > 1 else addr)]
            if nb > 1:
                sel = Signal(range(nb), name=f"rd_bank_{p}")     # the bank read last cycle
                with m.If(en):
                    for b in range(1, nb):
                        with m.If(in_bank(addr, b)):
                            m.d.sync += sel.eq(b)
                    with m.If(in_bank(addr, 0)):
                        m.d.sync += sel.eq(0)
                data = rps[0].data
                for b in range(1, nb):
                    data = Mux(sel == b, rps[b].data, data)
            else:
                data = rps[0].data
            for cl in clients:
                m.d.comb += cl.data.eq(data)
        return m

    @staticmethod
    def _grants(m, clients):
        """Fixed priority: client ``c`` is granted when it requests and no lower index does.
        Returns "any client requests"."""
        taken = None
        for cl in clients:
            m.d.comb += cl.grant.eq(cl.en if taken is None else cl.en & ~taken)
            taken = cl.en if taken is None else taken | cl.en
        return taken
