"""The node's SRAM scratchpad (:class:`rtl.node.sram.Scratchpad`) in the fast engine.

Two halves, kept apart so that a timing-only run skips the second:

* **Arbitration** (:func:`sram_grants`, control, no state): every physical read port grants
  its first requesting client (client 0 first); the write port grants, per bank, the first
  client writing that bank (banks are equal contiguous address ranges, so clients writing
  different banks are granted in the same cycle). Grants are combinational, as in the RTL:
  a client sees its grant in the cycle it asks.
* **Data** (:func:`sram_clock`): at the clock edge the granted writes land, then every port
  that granted a read loads the line into its data register, which all its clients see in
  the next cycle and which holds its value until the port's next read (the RTL's per-bank
  read registers behind a "bank read last" select behave as this one register). Writing
  before reading makes a read of a line written at the same edge return the new data: the
  RTL's read ports are transparent for the write port of their bank.

Lines are ``words`` uint64 words (least significant first). A node's lines live in pages
of ``page_lines`` lines allocated on the first write to the page, so SRAM that is never
written costs nothing (a line never written reads as zero, as the RTL's memory initialises
to zero): ``table[node, page]`` is the page's index in ``pool`` or -1. The kernel cannot
grow ``pool`` (it allocates nothing); :meth:`Scratchpads.reserve` grows it between calls,
and a write that finds the pool full is counted in ``used[POOL_OVERFLOWS]`` and dropped,
never silently (the caller must reserve ``nodes * banks`` free pages per cycle it runs).

Step functions take the node index ``n`` and the arrays with a leading node index, so the
composed node kernel calls them node by node.
"""

import numpy as np
from numba import njit

from sim.netmodel.node.fields import copy_row
__all__ = ["Scratchpads", "sram_grants", "sram_clock", "MUTANTS", "line_words",
           "words_to_int", "int_to_words"]

#: deliberately wrong variants, for the test that shows the RTL comparison catches them
MUTANTS = {"none": 0,
           "read_priority_reversed": 1,   # the last client of a read port wins
           "one_write_per_cycle": 2,      # banks ignored: one write in the whole SRAM
           "read_not_transparent": 3}     # a read at a write's edge returns the old line

#: fields of ``used``: pages handed out, writes dropped because the pool was full
POOL_USED, POOL_OVERFLOWS = 0, 1


def line_words(width):
    """uint64 words of a ``width``-bit line."""
    return -(-width // 64)


_M64 = (1 << 64) - 1


def int_to_words(value, words):
    """A line as an int -> its uint64 words, least significant first."""
    return np.array([(value >> (64 * i)) & ((1 << 64) - 1) for i in range(words)],
                    dtype=np.uint64)


def words_to_int(words):
    """uint64 words, least significant first -> the line as an int."""
    return sum(int(w) << (64 * i) for i, w in enumerate(words))


@njit(cache=True, _nrt=False, forceinline=True)
def sram_grants(n, bank_lines, rd_en, rd_grant, wr_en, wr_addr, wr_grant, mutant):
    """Node ``n``'s grants this cycle: ``rd_grant[n, port, client]``, ``wr_grant[n, client]``
    from the requests ``rd_en[n, port, client]``, ``wr_en``/``wr_addr[n, client]``."""
    ports, clients = rd_en.shape[1], rd_en.shape[2]
    for p in range(ports):
        taken = False
        for k in range(clients):
            c = clients - 1 - k if mutant == 1 else k
            wins = rd_en[n, p, c] != 0 and not taken
            rd_grant[n, p, c] = 1 if wins else 0
            taken = taken or rd_en[n, p, c] != 0
    busy = 0                                  # bit b: a client writes bank b already
    for c in range(wr_en.shape[1]):
        bank = 0 if mutant == 2 else wr_addr[n, c] // bank_lines
        wins = wr_en[n, c] != 0 and (busy >> bank) & 1 == 0
        wr_grant[n, c] = 1 if wins else 0
        if wr_en[n, c]:
            busy |= 1 << bank


@njit(cache=True, _nrt=False, inline="always")
def _page(n, addr, page_shift, table, pool, used, allocate):
    """The pool index of the page holding line ``addr`` of node ``n`` (allocated when
    ``allocate``), or -1."""
    page = table[n, addr >> page_shift]
    if page < 0 and allocate:
        if used[POOL_USED] < pool.shape[0]:
            page = used[POOL_USED]
            used[POOL_USED] += 1
            table[n, addr >> page_shift] = page
            pool[page] = 0
        else:
            used[POOL_OVERFLOWS] += 1
    return page


@njit(cache=True, _nrt=False, inline="always")
def _writes(n, wr_grant, wr_addr, wr_data, page_shift, table, pool, used):
    mask = (1 << page_shift) - 1
    for c in range(wr_grant.shape[1]):
        if wr_grant[n, c]:
            page = _page(n, wr_addr[n, c], page_shift, table, pool, used, True)
            if page >= 0:
                copy_row(pool[page, wr_addr[n, c] & mask], wr_data[n, c])


@njit(cache=True, _nrt=False, inline="always")
def _reads(n, rd_grant, rd_addr, rd_data, page_shift, table, pool, used):
    mask = (1 << page_shift) - 1
    for p in range(rd_grant.shape[1]):
        for c in range(rd_grant.shape[2]):
            if rd_grant[n, p, c]:
                page = _page(n, rd_addr[n, p, c], page_shift, table, pool, used, False)
                if page >= 0:
                    copy_row(rd_data[n, p], pool[page, rd_addr[n, p, c] & mask])
                else:
                    rd_data[n, p] = 0


@njit(cache=True, _nrt=False, forceinline=True)
def sram_clock(n, rd_grant, rd_addr, rd_data, wr_grant, wr_addr, wr_data, page_shift, table,
               pool, used, mutant):
    """Node ``n``'s clock edge: the granted writes, then the granted reads into
    ``rd_data[n, port]`` (see the module docstring)."""
    if mutant == 3:
        _reads(n, rd_grant, rd_addr, rd_data, page_shift, table, pool, used)
        _writes(n, wr_grant, wr_addr, wr_data, page_shift, table, pool, used)
    else:
        _writes(n, wr_grant, wr_addr, wr_data, page_shift, table, pool, used)
        _reads(n, rd_grant, rd_addr, rd_data, page_shift, table, pool, used)


@njit(cache=True, _nrt=False)
def _grants_all(bank_lines, rd_en, rd_grant, wr_en, wr_addr, wr_grant, mutant):
    for n in range(rd_en.shape[0]):
        sram_grants(n, bank_lines, rd_en, rd_grant, wr_en, wr_addr, wr_grant, mutant)


@njit(cache=True, _nrt=False)
def _clock_all(rd_grant, rd_addr, rd_data, wr_grant, wr_addr, wr_data, page_shift, table, pool,
               used, mutant):
    for n in range(rd_grant.shape[0]):
        sram_clock(n, rd_grant, rd_addr, rd_data, wr_grant, wr_addr, wr_data, page_shift,
                   table, pool, used, mutant)


class Scratchpads:
    """The scratchpads of ``nodes`` nodes: requests, grants, read registers and paged lines.

    Parameters
    ----------
    nodes : int
    lines, width, read_ports, read_clients, write_clients, banks : int
        As :class:`rtl.node.sram.Scratchpad`'s.
    page_lines : int
        Lines per page (a power of two).
    data : bool
        Keep line values (False: no pages, no read registers' values).
    words : int, optional
        uint64 words kept of each line, least significant first (all by default; a
        timing-only node keeps its control slice, :func:`.fields.control_words`).
    mutant : str
        One of :data:`MUTANTS` (tests only).

    Attributes
    ----------
    rd_en, rd_addr : ndarray (nodes, read_ports, read_clients)
        The read requests of the cycle (set by the clients).
    wr_en, wr_addr : ndarray (nodes, write_clients); wr_data : (nodes, write_clients, words)
        The write requests of the cycle.
    rd_grant, wr_grant : ndarray
        The grants (after :meth:`grants`).
    rd_data : ndarray (nodes, read_ports, words)
        Each port's data register: the line its last granted read returned.
    """

    def __init__(self, *, nodes, lines, width, read_ports=2, read_clients=2, write_clients=2,
                 banks=1, page_lines=64, data=True, words=None, mutant="none"):
        if banks not in (1, 2, 4) or lines % banks or lines // banks < 2:
            raise ValueError(f"banks must be 1, 2 or 4 and divide lines={lines} into banks "
                             f"of at least 2 lines, not {banks!r}")
        if page_lines < 1 or page_lines & (page_lines - 1):
            raise ValueError(f"page_lines must be a power of two, not {page_lines!r}")
        self.nodes, self.lines, self.width, self.banks = nodes, lines, width, banks
        self.words = words or line_words(width)
        self.bank_lines = lines // banks
        self.page_shift = page_lines.bit_length() - 1
        self.data = data
        self.mutant = MUTANTS[mutant]
        self.rd_en = np.zeros((nodes, read_ports, read_clients), np.uint8)
        self.rd_addr = np.zeros((nodes, read_ports, read_clients), np.int64)
        self.rd_grant = np.zeros((nodes, read_ports, read_clients), np.uint8)
        self.wr_en = np.zeros((nodes, write_clients), np.uint8)
        self.wr_addr = np.zeros((nodes, write_clients), np.int64)
        self.wr_grant = np.zeros((nodes, write_clients), np.uint8)
        words = self.words if data else 0
        self.wr_data = np.zeros((nodes, write_clients, words), np.uint64)
        self.rd_data = np.zeros((nodes, read_ports, words), np.uint64)
        pages = -(-lines // page_lines) if data else 0
        self.table = np.full((nodes, pages), -1, np.int64)
        self.pool = np.zeros((0, page_lines, words), np.uint64)
        self.used = np.zeros(2, np.int64)

    def reserve(self, pages):
        """Grow the pool (doubling) until ``pages`` pages are free, never past the pages
        that can still be allocated (one per node and page of the address space), so a
        long run's worst-case reservation stays within what its nodes can write."""
        used, most = int(self.used[POOL_USED]), self.table.size
        need = used + min(pages, most - used)
        if need > len(self.pool):
            grown = np.zeros((min(max(need, 2 * len(self.pool)), most),) + self.pool.shape[1:],
                             np.uint64)
            grown[:len(self.pool)] = self.pool
            self.pool = grown

    def grants(self):
        """Every node's grants from the requests set for this cycle."""
        _grants_all(self.bank_lines, self.rd_en, self.rd_grant, self.wr_en, self.wr_addr,
                    self.wr_grant, self.mutant)

    def clock(self):
        """Every node's clock edge (data only: nothing to do in a timing-only run)."""
        if not self.data:
            return
        self.reserve(self.nodes * self.wr_en.shape[1])
        _clock_all(self.rd_grant, self.rd_addr, self.rd_data, self.wr_grant, self.wr_addr,
                   self.wr_data, self.page_shift, self.table, self.pool, self.used, self.mutant)
        if self.used[POOL_OVERFLOWS]:
            raise AssertionError("a write found the page pool full")

    def write(self, node, addr, value):
        """Line ``addr`` of ``node`` <- ``value`` (an int, its first :attr:`words` words
        kept), as a granted write lands it: its page allocated on first write."""
        mask = (1 << self.page_shift) - 1
        page = self.table[node, addr >> self.page_shift]
        if page < 0:
            self.reserve(1)
            page = int(self.used[POOL_USED])
            self.used[POOL_USED] += 1
            self.table[node, addr >> self.page_shift] = page
            self.pool[page] = 0
        self.pool[page, addr & mask] = int_to_words(value, self.words)

    def write_lines(self, node, addrs, values):
        """Lines ``addrs`` of ``node`` <- ``values`` (ints), as :meth:`write` lands each in
        turn (pages allocated in the order their first line comes), in one array
        assignment: a D1 tile's preload writes millions of lines."""
        addrs = np.asarray(addrs, np.int64)
        if not addrs.size:
            return
        pages = addrs >> self.page_shift
        for page in dict.fromkeys(pages.tolist()):
            if self.table[node, page] < 0:
                self.reserve(1)
                self.table[node, page] = int(self.used[POOL_USED])
                self.pool[self.table[node, page]] = 0
                self.used[POOL_USED] += 1
        words = np.empty((addrs.size, self.words), np.uint64)
        for i in range(self.words):
            words[:, i] = [(v >> (64 * i)) & _M64 for v in values]
        self.pool[self.table[node, pages], addrs & ((1 << self.page_shift) - 1)] = words

    def line(self, node, addr):
        """Line ``addr`` of ``node`` as an int (0 when never written)."""
        page = self.table[node, addr >> self.page_shift]
        if page < 0:
            return 0
        return words_to_int(self.pool[page, addr & ((1 << self.page_shift) - 1)])

    def pages_used(self):
        """Pages allocated so far (over all nodes)."""
        return int(self.used[POOL_USED])
