"""The traffic network of a config as flat arrays: geometry once, state per reset.

:class:`NetworkModel` holds what the RTL builds from a config (``gen.build.noc_design``
with ``kind="traffic"``): the global mesh of the tile, its link pipeline stages,
the DieLinks between dies and their buffers, every router, generator and sink,
and advances it with :func:`sim.netmodel.kernel.run`. Mesh size, VCs, depths,
ratio and latency are run-time values: nothing is compiled per configuration.

Fault-map mode (``router.routing: table``; the RTL's choices are docs/table_mode.md):
every head's route is ``gen.routing.output_port`` of the router's table (the tables of
:func:`fault_tables`, handed to the kernel as flat arrays), dead routers route
everything to their local port (their tables are zero: a flit that enters one is a
misroute at its sink); with a non-empty fault map the generators follow the live-node
rules (a source that is not live is off; uniform destinations ``live[(r * L) >> 22]``;
a deterministic destination that is not live is not generated but counted in
``gen.suppressed_dead``). Live mode is on with a fault map or with ``routing: table``
(then also on an empty map: uniform destinations then differ from plain XY's, the
deterministic patterns do not). Without either every array and number is what it was
before the mode existed.

Node ``n`` is global ``(n % mesh_x, n // mesh_x)``; :meth:`NetworkModel.rtl_order`
maps to the RTL's node order (die by die). Channel ``5 n + p`` is output port
``p`` of router ``n`` (ports as in ``rtl.router.PORTS``), ``5 N + n`` the generator
of node ``n``, ``6 N + k`` the output of DieLink ``k`` (the RTL's ``dielink<k>``): the
names of the link trace (:mod:`sim.netmodel.trace`).
"""

import numpy as np

from gen.faults import fault_map
from gen.routing import neighbour, source_vc, walk
from rtl.fabric.dielink import rx_depth_for
from rtl.fabric.dielink_layer import STAT_NAMES as DIELINK_STATS, lfsr_seed
from rtl.net.packet import LENGTH_BITS
from rtl.net.directions import NEIGHBOUR, PORTS
from rtl.net.router import turn_allowed
from rtl.measure.traffic import CONTROL_IDLE, DETERMINISTIC_PATTERNS, Pattern, destination
from . import kernel
from .kernel import CTRL, GEN_STATS, LINK_STATS, NEVER, SINK_STATS

__all__ = ["NetworkModel", "ctrl_vector", "stat_names", "fault_tables", "MAX_COORD"]

#: coordinates are 12-bit fields of the model's flit words
MAX_COORD = 1 << 12



def ctrl_vector(**fields):
    """The ctrl fields (``rtl.measure.traffic.control_value`` names, idle defaults
    ``CONTROL_IDLE``) as a kernel vector."""
    base = CONTROL_IDLE
    unknown = set(fields) - set(base)
    if unknown:
        raise ValueError(f"unknown ctrl field(s) {', '.join(sorted(unknown))} "
                         f"(allowed: {', '.join(base)})")
    values = {**base, **fields}
    out = np.zeros(len(CTRL), dtype=np.int64)
    for name, i in CTRL.items():
        v = values[name]
        out[i] = v.value if isinstance(v, Pattern) else int(v)
    return out


def stat_names(histogram_bins, live_mode=False):
    """The statistics words of a traffic node, in the RTL's order (``TrafficNode.stat_names``);
    live mode adds ``gen.suppressed_dead`` after the generator's other counters."""
    sink = [f"sink.{s}" for s in SINK_STATS if s != "latency_sum"]
    gen = list(GEN_STATS) + (["suppressed_dead"] if live_mode else [])
    return ([f"gen.{s}" for s in gen] + sink
            + [f"sink.hist[{i}]" for i in range(histogram_bins)]
            + ["sink.latency_sum.w0", "sink.latency_sum.w1"]
            + [f"link.{p}" for p in PORTS] + ["router.overflow"])


def fault_tables(cfg, derived):
    """``(table mode, tables, live mode, planes)`` of a config, from
    ``gen.build.fault_setup`` (the function the RTL's build uses: the same tables, the same
    config errors); ``planes`` the VC planes (``gen.routing.VcPlanes``) or None."""
    from gen.build import fault_setup
    setup = fault_setup(cfg, derived, kind="traffic")
    if setup is None:
        return False, None, False, None
    return setup.tables is not None, setup.tables, setup.live, setup.planes


def _pow2_at_least(n):
    return 1 << max(1, (int(n) - 1).bit_length())


class NetworkModel:
    """The traffic network of ``cfg``: geometry, parameters and state arrays.

    Parameters
    ----------
    cfg : gen.config.Config
        A validated config (the same YAML and overrides as the RTL).
    derived : gen.derive.Derivation
        ``gen.derive.derive(cfg)``, computed once by the caller.
    trace_capacity : int
        Flits the link trace can hold (0: no trace).
    mutant : str
        ``"none"``, or one of the deliberately wrong variants of ``kernel.MUTANTS``
        (tests show that the comparison with the RTL catches them).
    threads : int
        Threads of the cycle loop (``kernel.run_parallel`` when above 1): the same
        results; worth it from about a thousand nodes (a D1 tile), below that
        starting the threads every cycle costs more than they save.
    edge_rings : bool
        Give every tile-edge link a ring (the tile's host ports, ``boundary="ports"``):
        router ``n``'s edge output ``o`` delivers to flit ring :attr:`edge_ring`
        ``[(x, y, direction)]`` and takes its credits from credit ring ``6 n + o`` as
        any output; its edge input ``p`` takes flits from ring ``6 n + p`` and returns its
        credits on credit ring :attr:`edge_ring` ``[...]``. Whatever sits outside (a host
        model, :mod:`sim.netmodel.host`) reads and writes those rings. Off: the edge links
        are tied off, as in the traffic network.

    Raises
    ------
    ValueError
        If the mesh is too large for the model's 12-bit coordinate fields.
    """

    def __init__(self, cfg, derived, *, trace_capacity=0, mutant="none", threads=1,
                 edge_rings=False):
        if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
            raise ValueError(f"threads must be a positive integer, not {threads!r}")
        self.threads = threads
        self.edge_rings = bool(edge_rings)
        if mutant not in kernel.MUTANTS:
            raise ValueError(f"mutant must be one of {', '.join(kernel.MUTANTS)}, not {mutant!r}")
        self.mutant = mutant
        d = derived
        self.cfg = cfg
        self.nx, self.ny = d.die.nodes_x, d.die.nodes_y
        self.dies_x, self.dies_y = cfg.tile.dies_x, cfg.tile.dies_y
        self.mesh_x, self.mesh_y = d.tile.mesh_x, d.tile.mesh_y
        self._coords = tuple((n % self.mesh_x, n // self.mesh_x)
                             for n in range(self.mesh_x * self.mesh_y))
        if max(self.mesh_x, self.mesh_y) > MAX_COORD:
            raise ValueError(f"a {self.mesh_x}x{self.mesh_y} mesh is larger than the model's "
                             f"{MAX_COORD}-node coordinate range")
        self.vcs, self.depth = cfg.router.vcs, cfg.router.buffer_depth
        self.routing = cfg.router.routing
        self.fault_map = fault_map(cfg, d)
        # table routing, and the generators' live-node rules (docs/table_mode.md: a fault
        # map, or table mode)
        self.table_mode, self.tables, self.live_mode, self.planes = fault_tables(cfg, d)
        self.stages = d.link.pipeline_stages
        tiled = self.dies_x * self.dies_y > 1
        self.ratio = d.dielink.ratio if tiled else 1
        self.latency = d.dielink.latency if tiled else 0
        self.dielink = {"ratio": self.ratio, "latency": self.latency} if tiled else None
        ll = d.dielink.link_layer if tiled else None
        self.link_layer = ll
        if ll:
            from gen.build import LINK_LAYER_PARAMS
            self.dielink["layer"] = {k: ll[k] for k in LINK_LAYER_PARAMS}
        self.die_shape = (self.nx, self.ny) if tiled else None
        self.rx_depth = rx_depth_for(self.ratio, self.latency)
        # the RTL's histogram: the same derived width (gen.derive.latency_histogram)
        self.histogram_bins = d.traffic.histogram_bins
        self.bin_cycles = d.traffic.histogram_bin_cycles
        self.timestamp_bits = cfg.traffic.timestamp_bits
        self.queue_depth = cfg.traffic.source_queue
        self.max_packet_flits = cfg.router.max_packet_flits
        self.coord_bits = d.tile.coord_bits
        self.stat_names = stat_names(self.histogram_bins, self.live_mode)
        self._build_geometry()
        self.trace_capacity = trace_capacity
        self.reset(ctrl_vector())

    # -- geometry --------------------------------------------------------------------

    def node(self, x, y):
        return y * self.mesh_x + x

    def coords(self):
        """Global (x, y) of node ``n`` for every ``n`` (built once: callers index it per
        node, which on the D1 tile's 9025 nodes cost minutes when it was rebuilt per call)."""
        return self._coords

    def rtl_order(self):
        """Node ids in the RTL's order: die by die (row-major), row-major inside a die."""
        out = []
        for j in range(self.dies_y):
            for i in range(self.dies_x):
                for ly in range(self.ny):
                    for lx in range(self.nx):
                        out.append(self.node(i * self.nx + lx, j * self.ny + ly))
        return out

    def _die_of(self, x, y):
        return x // self.nx, y // self.ny

    def _dielinks(self):
        """``(src node, out port, dst node, in port)`` per DieLink, in the RTL's order."""
        links = []
        for j in range(self.dies_y):
            for i in range(self.dies_x):
                for direction in ("east", "south"):
                    dx, dy, opposite = NEIGHBOUR[direction]
                    if not (i + dx < self.dies_x and j + dy < self.dies_y):
                        continue
                    along = self.ny if direction == "east" else self.nx
                    for k in range(along):
                        if direction == "east":
                            a = (i * self.nx + self.nx - 1, j * self.ny + k)
                            b = ((i + 1) * self.nx, j * self.ny + k)
                        else:
                            a = (i * self.nx + k, j * self.ny + self.ny - 1)
                            b = (i * self.nx + k, (j + 1) * self.ny)
                        links.append((self.node(*a), direction, self.node(*b), opposite))
                        links.append((self.node(*b), opposite, self.node(*a), direction))
        return links

    def _build_geometry(self):
        N = self.n_nodes = self.mesh_x * self.mesh_y
        port = {p: i for i, p in enumerate(PORTS)}
        self.dielinks = self._dielinks()
        ND = self.n_dielinks = len(self.dielinks)
        # the tile-edge links (host ports), when they have rings: one flit ring (the edge
        # output's) and one credit ring (the edge input's) each, after the DieLinks'
        edges = [(n, direction) for n, (x, y) in enumerate(self.coords())
                 for direction, (dx, dy, _) in NEIGHBOUR.items()
                 if not (0 <= x + dx < self.mesh_x and 0 <= y + dy < self.mesh_y)] \
            if self.edge_rings else []
        if edges and self.stages:
            raise ValueError("edge rings with link pipeline stages are not modelled")
        rings = 6 * N + ND + len(edges)
        i64 = np.int64
        # flit rings: router n input p = 6n + p, sink n = 6n + 5, DieLink k's TX = 6N + k;
        # credit rings: router n output o = 6n + o, generator n = 6n + 5, DieLink k's RX
        # output = 6N + k. Stages: on-die router-to-router links only.
        ring_stg = np.zeros(rings, dtype=i64)
        cring_stg = np.zeros(rings, dtype=i64)
        out_ring = np.full(5 * N, -1, dtype=i64)      # where router output 5n + o delivers
        out_rcv = np.full(5 * N, -1, dtype=i64)       # ... the router receiving it, if any
        in_cring = np.full(5 * N, -1, dtype=i64)      # where input 5n + p's credits go
        in_csnd = np.full(5 * N, -1, dtype=i64)       # ... the router owning that ring
        ring_chan = np.full(rings, -1, dtype=i64)     # the channel (trace name) feeding a ring
        for n in range(N):
            out_ring[5 * n] = 6 * n + 5                # local output -> sink
            in_cring[5 * n] = 6 * n + 5                # local input's credits -> generator
            ring_chan[6 * n + 5] = 5 * n
            ring_chan[6 * n] = 5 * N + n
        crossing = {(a, da) for a, da, _, _ in self.dielinks}
        for n, (x, y) in enumerate(self.coords()):
            for direction, (dx, dy, opposite) in NEIGHBOUR.items():
                px, py = x + dx, y + dy
                if not (0 <= px < self.mesh_x and 0 <= py < self.mesh_y):
                    continue                                  # tile edge: tied off
                if (n, direction) in crossing:
                    continue                                  # through a DieLink below
                m, o, i = self.node(px, py), port[direction], port[opposite]
                out_ring[5 * n + o] = 6 * m + i
                ring_chan[6 * m + i] = 5 * n + o
                out_rcv[5 * n + o] = m
                in_cring[5 * m + i] = 6 * n + o
                in_csnd[5 * m + i] = n
                ring_stg[6 * m + i] = self.stages
                cring_stg[6 * n + o] = self.stages
        dl_in = np.zeros(max(ND, 1), dtype=i64)
        dl_out = np.zeros(max(ND, 1), dtype=i64)
        for k, (a, da, b, db) in enumerate(self.dielinks):
            dl_in[k] = 5 * a + port[da]
            dl_out[k] = 6 * b + port[db]
            out_ring[5 * a + port[da]] = 6 * N + k
            in_cring[5 * b + port[db]] = 6 * N + k
            ring_chan[6 * N + k] = 5 * a + port[da]
            ring_chan[6 * b + port[db]] = 6 * N + k
        #: (x, y, direction) of a tile-edge link -> its ring (see ``edge_rings``)
        self.edge_ring = {}
        for h, (n, direction) in enumerate(edges):
            ring, o = 6 * N + ND + h, port[direction]
            out_ring[5 * n + o] = ring
            in_cring[5 * n + o] = ring
            ring_chan[ring] = 5 * n + o
            self.edge_ring[(*self.coords()[n], direction)] = ring
        if self.table_mode:       # every path but the U-turns (unused: the tables route)
            turn = sum(1 << (5 * i + j) for i, s in enumerate(PORTS)
                       for j, o in enumerate(PORTS) if s == "local" or o != s)
        else:
            turn = sum(1 << (5 * i + j) for i, s in enumerate(PORTS)
                       for j, o in enumerate(PORTS) if turn_allowed(self.routing, s, o))
        det_x = np.zeros(8 * N, dtype=i64)
        det_y = np.zeros(8 * N, dtype=i64)
        for n, (x, y) in enumerate(self.coords()):
            for pat in Pattern:
                if pat in DETERMINISTIC_PATTERNS:
                    dx, dy = destination(pat, x, y, self.mesh_x, self.mesh_y)
                else:
                    dx, dy = x, y
                det_x[pat.value * N + n], det_y[pat.value * N + n] = dx, dy
        self.rings = rings
        self.slots = S = _pow2_at_least(self.stages + 2)
        ll = self.link_layer
        ratio_d = ll["ratio_degraded"] if ll else self.ratio
        land = _pow2_at_least(max(self.ratio, ratio_d) + self.latency + 2)
        cb = _pow2_at_least(self.latency + 3)
        rev = _pow2_at_least(self.latency + 2) if ll else 0
        fail = ll["lane_fail_cycle"] if ll else None
        values = {"nodes": N, "vcs": self.vcs, "depth": self.depth, "slot_mask": S - 1,
                  "slots": S, "yx": int(self.routing == "yx"), "mesh_x": self.mesh_x,
                  "mesh_y": self.mesh_y, "queue": self.queue_depth,
                  "max_len": self.max_packet_flits, "bins": self.histogram_bins,
                  "bin_cycles": self.bin_cycles, "ts_mask": (1 << self.timestamp_bits) - 1,
                  "ratio": self.ratio, "latency": self.latency, "rx_depth": self.rx_depth,
                  "tx_depth": self.depth, "dielinks": ND, "land_mask": land - 1,
                  "land_slots": land, "cb_mask": cb - 1, "cb_slots": cb,
                  "mutant": kernel.MUTANTS[self.mutant], "chunks": self.threads,
                  "ll": int(bool(ll)), "ratio_d": ratio_d,
                  "thr": ll["error_threshold"] if ll else 0,
                  "rthr": ll["reverse_error_threshold"] if ll else 0,
                  "fail_cycle": -1 if fail is None else fail,
                  "replay": ll["replay_depth"] if ll else 0,
                  "seq_mask": (1 << ll["seq_bits"]) - 1 if ll else 0,
                  "cnt_mask": (1 << ll["count_bits"]) - 1 if ll else 0,
                  "timeout": ll["timeout"] if ll else 0, "rev_mask": max(rev - 1, 0)}
        fault, fault_params = self._fault_arrays()
        values.update(fault_params)
        self.P = kernel.params(**values)
        self.lay = kernel.layout(self.vcs, self.depth, self.queue_depth, self.histogram_bins,
                                 self.depth, self.rx_depth, land, cb,
                                 replay=ll["replay_depth"] if ll else 0, rev_slots=rev,
                                 n_link_stats=len(DIELINK_STATS) if ll else 0)
        self.O = kernel.offsets(self.lay)
        xs = np.array([c[0] for c in self.coords()], dtype=i64)
        ys = np.array([c[1] for c in self.coords()], dtype=i64)
        first_bit = np.array([(m & -m).bit_length() - 1 for m in range(32)], dtype=i64)
        # plain tuples in the named tuples' order: numba types them faster on every call
        self.geometry = tuple(kernel.Geometry(
            turn=turn, node_x=xs, node_y=ys, det_x=det_x, det_y=det_y, ring_stg=ring_stg,
            cring_stg=cring_stg, out_ring=out_ring, out_rcv=out_rcv, in_cring=in_cring,
            in_csnd=in_csnd, dl_in=dl_in, dl_out=dl_out, first_bit=first_bit,
            ring_chan=ring_chan, **fault))

    def _fault_arrays(self):
        """The kernel's fault-map arrays and parameters (one-element dummies without)."""
        i64, N = np.int64, self.n_nodes
        dummy = np.zeros(1, dtype=i64)
        out = {"die_tab": dummy, "node_tab": dummy, "own_die": dummy, "live_xy": dummy,
               "node_live": dummy, "vc_sel": dummy}
        params = {"table": int(self.table_mode), "live": int(self.live_mode),
                  "planes": int(self.planes is not None),
                  "dies_x": self.dies_x, "die_nx": self.nx, "die_ny": self.ny,
                  "dies": self.dies_x * self.dies_y, "die_nodes": self.nx * self.ny,
                  "n_live": 0}
        if self.table_mode:
            t = self.tables
            die = t.die.reshape(N, -1).astype(i64).copy()
            node = t.node.reshape(N, -1).astype(i64).copy()
            if self.mutant == "table_entry_off_by_one":
                self._mutate(die, node)
            if self.planes is not None:
                # VC planes: VC v's tables follow plane 0's (v * N rows on); the sources'
                # choice per router: its own die's nodes, then the dies
                die = np.concatenate([die] + [p.die.reshape(N, -1).astype(i64)
                                              for p in self.planes.tables[1:]])
                node = np.concatenate([node] + [p.node.reshape(N, -1).astype(i64)
                                                for p in self.planes.tables[1:]])
                out["vc_sel"] = np.concatenate(
                    [self.planes.select_node.reshape(N, -1),
                     self.planes.select_die.reshape(N, -1)], axis=1).astype(i64).reshape(-1)
                if self.mutant == "vc_choice_flipped":
                    self._flip_choice(out["vc_sel"])
            out["die_tab"], out["node_tab"] = die.reshape(-1), node.reshape(-1)
            # the kernel's copies (router n's entries at n * dies + d, n * die_nodes + l;
            # with VC planes, VC v's at (v * N + n) * dies + d, (v * N + n) * die_nodes + l)
            self.die_tab, self.node_tab = out["die_tab"], out["node_tab"]
            out["own_die"] = np.array([(y // self.ny) * self.dies_x + x // self.nx
                                       for x, y in self.coords()], dtype=i64)
        if self.live_mode:
            live = self.fault_map.live_nodes
            out["live_xy"] = np.array([x | (y << 12) for x, y in live], dtype=i64)
            out["node_live"] = np.array([int(self.fault_map.is_live(x, y))
                                         for x, y in self.coords()], dtype=i64)
            params["n_live"] = len(live)
        return out, params

    def _flip_choice(self, vc_sel):
        """The ``vc_choice_flipped`` mutant: the first live source's choice for the first
        other live node of its die moves to the next VC. Changes ``vc_sel`` in place."""
        live = self.fault_map.live_nodes
        src = live[0]
        dst = next(t for t in live if t != src and (t[0] // self.nx, t[1] // self.ny)
                   == (src[0] // self.nx, src[1] // self.ny))
        n = src[1] * self.mesh_x + src[0]
        k = n * (self.nx * self.ny + self.dies_x * self.dies_y) \
            + (dst[1] % self.ny) * self.nx + dst[0] % self.nx
        vc_sel[k] = (vc_sel[k] + 1) % self.vcs
        self.mutated = (src, dst, int(vc_sel[k]))

    def _mutate(self, die, node):
        """The ``table_entry_off_by_one`` mutant: the first node entry (router by id, then
        destination) whose next port (north -> east -> south -> west -> north) still
        delivers -- to a live router whose own route does not come back -- is moved there:
        the flits still arrive, by another path (with VC planes: an entry of plane 0 that the
        router's own source uses). Changes ``node`` in place."""
        t = self.tables
        for n, (x, y) in enumerate(self.coords()):
            if not t.is_live(x, y):
                continue
            for l in range(node.shape[1]):
                p = int(node[n, l])
                if p == 0:                   # local
                    continue
                q = p % 4 + 1
                nx_, ny_ = neighbour((x, y), q)
                dst = ((x // self.nx) * self.nx + l % self.nx,
                       (y // self.ny) * self.ny + l // self.nx)
                if not t.is_live(nx_, ny_) or not self.fault_map.is_live(*dst):
                    continue
                if self.planes is not None and source_vc(self.planes, (x, y), dst) != 0:
                    continue        # VC planes: plane 0's entry is used by this source's flits
                try:
                    path = walk(t, (nx_, ny_), dst)
                except ValueError:
                    continue
                if (x, y) in path:
                    continue
                node[n, l] = q
                self.mutated = ((x, y), dst, PORTS[p], PORTS[q])
                return
        raise ValueError("no table entry can be mutated")

    # -- state -----------------------------------------------------------------------

    def reset(self, idle_ctrl):
        """The state after reset. ``idle_ctrl`` is the ctrl word written before the reset:
        the mesh's input register has no reset and holds it; the generators' is cleared."""
        N, V, D, S, lay = self.n_nodes, self.vcs, self.depth, self.slots, self.lay
        ND = max(self.n_dielinks, 1)
        i64 = np.int64
        self.t = 0
        self.top = np.array(idle_ctrl, dtype=i64)
        self.q1 = np.array(idle_ctrl, dtype=i64)
        self.q2 = np.zeros(len(CTRL), dtype=i64)
        cap = max(self.trace_capacity, 1)
        self.trace = tuple(kernel.Trace(self.trace_capacity > 0, np.zeros(2, dtype=i64),
                                        *(np.zeros(cap, dtype=i64) for _ in range(4))))
        ring = np.zeros((self.rings * S, 3), dtype=i64)
        ring[:, 0] = NEVER
        cring = np.zeros((self.rings * S, 2), dtype=i64)
        cring[:, 0] = NEVER
        R = np.zeros((N, lay["rw"]), dtype=np.int32)
        F = np.zeros(N * 5 * V * D * 2, dtype=i64)
        for o in range(5):                        # credits: the downstream buffer depth
            for v in range(V):
                R[:, lay["ov0"] + 2 * (o * V + v)] = D
        G = np.zeros((N, lay["gw"]), dtype=i64)
        G[:, lay["gcred"]:lay["gcred"] + V] = D
        K = np.zeros((N, lay["kw"]), dtype=i64)
        L = np.zeros((ND, lay["lw"]), dtype=i64)
        L[:, lay["rem0"]:lay["rem0"] + V] = self.rx_depth
        L[:, lay["down0"]:lay["down0"] + V] = D
        for k in range(self.P[kernel.LAND_SLOTS]):
            L[:, lay["land0"] + 3 * k] = NEVER
        for k in range(self.P[kernel.CB_SLOTS]):
            L[:, lay["cb0"] + kernel.CB_W * k + kernel.CB_TAG] = NEVER
        if self.link_layer:
            ll, f = self.link_layer, lay["ll0"]
            for k in range(self.n_dielinks):
                L[k, f + kernel.LL_FWD_SEED] = lfsr_seed(ll["seed"], k, 0)
                L[k, f + kernel.LL_REV_SEED] = lfsr_seed(ll["seed"], k, 1)
                L[k, f + kernel.LL_HERE] = int(ll["lane_fail_link"] is None
                                               or ll["lane_fail_link"] == k)
                L[k, f + kernel.LL_WINDOW] = 1     # count every cycle unless a loop says

        g_xs = np.full(N, 0x9E3779B97F4A7C15, dtype=np.uint64)
        # the sinks' per-source order memories (last sequence number, seen)
        s_last = np.zeros(N * N, dtype=np.uint16)
        s_seen = np.zeros(N * N, dtype=np.int8)
        self.R, self.G, self.K, self.L = R, G, K, L
        # the kernel indexes flat views of the same memory
        self.state = tuple(kernel.State(ring=ring.reshape(-1), cring=cring.reshape(-1),
                                        R=R.reshape(-1), F=F, G=G.reshape(-1), g_xs=g_xs,
                                        K=K.reshape(-1), s_last=s_last, s_seen=s_seen,
                                        L=L.reshape(-1)))
        self.scratch = np.zeros(kernel.SCRATCH * self.threads, dtype=i64)

    def run(self, steps, ctrl=None):
        """Advance ``steps`` cycles with ``ctrl`` (a :func:`ctrl_vector`) at the top input."""
        if ctrl is not None:
            self.top[:] = ctrl
        if steps <= 0:
            return self.t
        loop = kernel.run if self.threads == 1 else kernel.run_parallel
        self.t = loop(steps, self.t, self.P, self.O, self.top, self.q1, self.q2, self.geometry,
                      self.state, self.trace, self.scratch)
        return self.t

    def run_idle(self, steps):
        """Advance ``steps`` cycles of a quiescent network: the few cycles in which credits
        still fly and the DieLink serialisers count down are simulated, the rest (in which
        nothing but the cycle counter changes) is skipped. Raises if not quiescent."""
        if not self.quiescent():
            raise RuntimeError("run_idle() needs a quiescent network")
        settle = min(steps, self.latency + self.ratio + 2 * self.stages + 4)
        self.run(settle)
        self.t += steps - settle
        return self.t

    def quiescent(self):
        if self.link_layer:
            return False          # the injectors step, and count, in every cycle
        return bool(kernel.quiescent(self.t, self.P, self.O, self.q1, self.q2, self.top,
                                     self.geometry, self.state))

    # -- observation ------------------------------------------------------------------

    def node_stats(self):
        """``{stat name: int64 array over nodes (global id)}``, RTL widths applied."""
        lay, m32 = self.lay, 0xFFFFFFFF
        G, K, R = self.G, self.K, self.R
        gen = list(GEN_STATS) + (["suppressed_dead"] if self.live_mode else [])
        out = {f"gen.{name}": G[:, lay["gstat"] + i] & m32 for i, name in enumerate(gen)}
        for i, name in enumerate(SINK_STATS):
            col = K[:, lay["kstat"] + i]
            if name == "latency_sum":
                total = col & ((1 << 48) - 1)
                out["sink.latency_sum.w0"] = total & m32
                out["sink.latency_sum.w1"] = total >> 32
            else:
                out[f"sink.{name}"] = col & m32
        for b in range(self.histogram_bins):
            out[f"sink.hist[{b}]"] = K[:, lay["khist"] + b] & m32
        for i, p in enumerate(PORTS):
            out[f"link.{p}"] = R[:, lay["fl0"] + i].astype(np.int64) & m32
        out["router.overflow"] = R[:, lay["ovf"]].astype(np.int64)
        return out

    def dielink_stats(self):
        """``{counter: [value per die link]}`` of the link layer (RTL widths), or None."""
        if not self.link_layer:
            return None
        base = self.lay["llst"]
        return {n: [int(v) & 0xFFFFFFFF for v in self.L[:self.n_dielinks, base + i]]
                for i, n in enumerate(DIELINK_STATS)}

    def buffer_counts(self):
        """Flits in every router input FIFO, ``(node, input, VC)``."""
        V, pv = self.vcs, kernel.PV
        cols = [(p * V + v) * pv + kernel.IV_COUNT for p in range(5) for v in range(V)]
        return self.R[:, cols].reshape(self.n_nodes, 5, V)

    def fault_geo(self):
        """``dead_routers`` and ``disabled_nodes`` as the RTL manifest has them (fault-map
        mode only; sorted by id), for ``sweep.json``."""
        if not self.live_mode:
            return {}
        f = self.fault_map
        return {k: [list(p) for p in sorted(v, key=lambda p: (p[1], p[0]))]
                for k, v in (("dead_routers", f.dead_routers),
                             ("disabled_nodes", f.disabled_nodes))}

    def live_flags(self):
        """Per node in the RTL's order: is it live (``verif.traffic_stats.live_flags``);
        None without the live-node rules."""
        if not self.live_mode:
            return None
        return [bool(self.fault_map.is_live(*self.coords()[n])) for n in self.rtl_order()]

    def marked_totals(self):
        """``(marked_generated, marked_received)`` as the top-level ports show them (32 bits)."""
        gen = int(self.G[:, self.lay["gstat"] + kernel.GS_GENERATED_MARKED].sum())
        received = int(self.K[:, self.lay["kstat"] + kernel.KS_MARKED_PACKETS].sum())
        return gen & 0xFFFFFFFF, received & 0xFFFFFFFF

    def error_port(self):
        """The top-level ``error`` output: a sink error counter non-zero or any overflow."""
        k = self.lay["kstat"]
        errors = self.K[:, k + kernel.KS_MISROUTES:k + kernel.KS_ORDER_ERRORS + 1].any() \
            or self.R[:, self.lay["ovf"]].any()
        dielinks = self.L[:self.n_dielinks, self.lay["misc0"] + kernel.DL_OVERFLOW].any()
        return int(bool(errors) or bool(dielinks))

    def trace_records(self):
        """``(cycle, channel, w0, w1)`` arrays of every flit the trace holds; raises if it
        overflowed."""
        on, n, tt, tc, t0, t1 = self.trace
        if n[1]:
            raise RuntimeError(f"the link trace overflowed its {self.trace_capacity} records")
        k = int(n[0])
        return tt[:k], tc[:k], t0[:k], t1[:k]

    def state_bytes(self):
        arrays = [*self.geometry, *self.state, *self.trace[1:]]
        return (sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))
                + 8 * (len(self.P) + len(self.O)))


assert LENGTH_BITS == 8          # the model's flit words keep length and index in 8 bits
# the kernel keeps its own copy of the link layer's statistics order (numba's cache would not
# see a change in another file)
assert LINK_STATS == DIELINK_STATS
