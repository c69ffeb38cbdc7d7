"""Physical derivation (DESIGN.md section 3): clock + wire -> reach -> pitch ->
mesh shape, link pipelining, die and tile totals, die-to-die link.

The result is a :class:`Derivation`: one frozen record per section (``clock``, ``wire``,
``node``, ``link``, ``die``, ``dielink``, ``tile``, ``traffic``, ``faults``) whose fields are
plain numbers, read by attribute (``derived.tile.coord_bits``);
:meth:`Derivation.as_dict` gives the nested dict the report and the JSON print, so the
report, the JSON and the generators read the same values.
"""

import dataclasses
import math
from dataclasses import dataclass

from rtl.fabric.dielink import rx_depth_for
from rtl.fabric.dielink_layer import link_layer_geometry, word_error_threshold
from rtl.net.packet import PacketFormat, coord_bits_for
from rtl.node.sram import sram_lines

from .faults import cut_links, defect_report, fault_map, fault_problems
from .units import binary_bytes, si

__all__ = ["derive", "Derivation", "Clock", "Wire", "Node", "Link", "Die", "DieLink", "Tile",
           "Traffic", "Faults", "consistency_problems", "credit_round_trip", "PUBLISHED_D1",
           "format_report", "bakoglu_ps_per_mm"]

class _Section:
    """A section of the derivation: a frozen record of plain values."""

    def as_dict(self):
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class Clock(_Section):
    """The cycle and how it splits: flop overhead, router logic, the wire's share (ps)."""
    f_ghz: float
    period_ps: float
    t_flop_ps: float
    t_router_ps: float
    t_wire_ps: float


@dataclass(frozen=True)
class Wire(_Section):
    """The wire delay (``model`` ``"rc"``: Bakoglu's repeated line, with the repeaters'
    spacing and size; else given)."""
    model: str
    ps_per_mm: float
    repeater_spacing_mm: float = None
    repeater_size: float = None

    def as_dict(self):
        # the repeaters exist only on an RC wire
        return {k: v for k, v in super().as_dict().items()
                if v is not None or k not in ("repeater_spacing_mm", "repeater_size")}


@dataclass(frozen=True)
class Node(_Section):
    """One node: its one-cycle reach, pitch, peak rates and SRAM."""
    reach_mm: float
    pitch_mm: float
    pitch_forced: bool
    peak_bf16_gflops: float
    peak_fp32_gflops: float
    sram_kb: float


@dataclass(frozen=True)
class Link(_Section):
    """A mesh link: pipeline registers, cycles per hop, credit round trip, bandwidth."""
    pipeline_stages: int
    hop_cycles: int
    credit_round_trip: int
    gbytes_per_s: float


@dataclass(frozen=True)
class Die(_Section):
    """One die: its node array, totals and bisection; the ``live_*`` fields, the dead
    and disabled counts and ``bisection_*_live`` / ``bisection_tbps_per_dir`` are of the
    worst die of the fault map (None in the geometry alone)."""
    usable_edge_mm: float
    geometric_nodes_per_edge: int
    nodes_x: int
    nodes_y: int
    nodes: int
    shape_overridden: bool
    peak_bf16_tflops: float
    peak_fp32_tflops: float
    sram_mb: float
    bisection_links: int
    bisection_tbps: float
    offdie_tbps_per_edge: float
    live_nodes: int = None
    disabled_nodes: int = None
    dead_routers: int = None
    live_peak_bf16_tflops: float = None
    live_peak_fp32_tflops: float = None
    live_sram_mb: float = None
    bisection_links_live: int = None
    bisection_tbps_per_dir: float = None


@dataclass(frozen=True)
class DieLink(_Section):
    """The die-to-die link: serialisation ratio, latency (and its parts, ps), buffers;
    ``link_layer`` the link layer's sizes and injected errors (a dict of
    :func:`rtl.fabric.dielink_layer.link_layer_geometry`'s keys and more), or None."""
    bits_per_cycle_per_link: float
    ratio: int
    ratio_derived: int
    latency_ps: float
    latency_parts_ps: dict
    latency: int
    latency_derived: int
    credit_round_trip: int
    buffer_depth: int
    rx_buffer_bytes: float
    lanes_per_link: float
    ratio_degraded: int
    link_layer: dict


@dataclass(frozen=True)
class Tile(_Section):
    """The tile: dies, the global mesh, coordinates, totals and bisection; the ``live_*``
    fields and ``bisection_*_live`` / ``bisection_cut`` / ``bisection_tbps_per_dir`` are
    of the fault map (None in the geometry alone)."""
    dies_x: int
    dies_y: int
    dies: int
    mesh_x: int
    mesh_y: int
    nodes: int
    coord_bits: int
    peak_bf16_pflops: float
    sram_gb: float
    bisection_tbps: float
    offtile_tbps_per_edge: float
    live_nodes: int = None
    live_peak_bf16_pflops: float = None
    live_peak_fp32_pflops: float = None
    live_sram_gb: float = None
    bisection_links_live: int = None
    bisection_cut: str = None
    bisection_tbps_per_dir: float = None


@dataclass(frozen=True)
class Traffic(_Section):
    """The sinks' latency histogram (:func:`latency_histogram`)."""
    histogram_bins: int
    histogram_bin_cycles: int
    histogram_range_cycles: int
    diameter_latency: int
    histogram_bin_cycles_derived: bool


@dataclass(frozen=True)
class Faults(_Section):
    """The fault map in numbers; ``defects`` the yield report
    (:func:`gen.faults.defect_report`, a dict) or None."""
    dead_routers: int
    disabled_nodes: int
    live_nodes: int
    live_per_die_min: int
    live_per_die_max: int
    defects: dict


@dataclass(frozen=True)
class Derivation:
    """The physical derivation of a config (:func:`derive`), one record per section;
    ``traffic`` and ``faults`` are None in the geometry alone."""
    clock: Clock
    wire: Wire
    node: Node
    link: Link
    die: Die
    dielink: DieLink
    tile: Tile
    traffic: Traffic = None
    faults: Faults = None

    def as_dict(self):
        """The nested dict of every section (``dojo derive --json``, ``derive.json``)."""
        return {f.name: None if getattr(self, f.name) is None else getattr(self, f.name).as_dict()
                for f in dataclasses.fields(self)}


# Published figures (Hot Chips 34; IEEE Micro 43(3); AI Day 2021) the d1 preset is compared
# with. Totals are of the live (addressable) nodes; bandwidths are one direction, as
# published: "10 TBps/dir" on chip, 4 TB/s per edge = 2 TB/s each way, 10 TB/s on-tile
# bisection = 5 die edges x 2 TB/s each way.
PUBLISHED_D1 = {
    "die.live_nodes": 354,
    "die.live_peak_bf16_tflops": 362.0,
    "die.live_peak_fp32_tflops": 22.6,
    "die.live_sram_mb": 440.0,
    "die.bisection_tbps_per_dir": 10.0,
    "die.offdie_tbps_per_edge": 2.0,
    "tile.dies": 25,
    "tile.live_peak_bf16_pflops": 9.0,
    "tile.live_sram_gb": 11.0,
    "tile.bisection_tbps_per_dir": 10.0,
    "tile.offtile_tbps_per_edge": 9.0,
}

# Bakoglu's optimally repeated RC line: per-unit-length delay
#   0.7 R0 c / h + 0.7 R0 C0 / s + 0.4 r c s + 0.7 r h C0
# minimised over repeater size h and spacing s.
_ELMORE_DRIVER = 0.7
_ELMORE_WIRE = 0.4


def bakoglu_ps_per_mm(r_ohm_per_mm, c_ff_per_mm, r_drv_ohm, c_in_ff):
    """Optimal repeated-wire delay (ps/mm), repeater spacing (mm) and size (x minimum)."""
    r, c, r0, c0 = r_ohm_per_mm, c_ff_per_mm, r_drv_ohm, c_in_ff
    h = math.sqrt(r0 * c / (r * c0))
    s = math.sqrt(_ELMORE_DRIVER * r0 * c0 / (_ELMORE_WIRE * r * c))
    fs_per_mm = (_ELMORE_DRIVER * r0 * c / h + _ELMORE_DRIVER * r0 * c0 / s
                 + _ELMORE_WIRE * r * c * s + _ELMORE_DRIVER * r * h * c0)   # ohm * fF = fs
    return fs_per_mm / 1000.0, s, h


def credit_round_trip(pipeline_stages):
    """Cycles from sending a flit to reusing its credit, as the router implements it.

    1 cycle for the flit on the (registered) link, 1 for the registered credit
    return, 1 for the counter update, plus one cycle each way per link pipeline
    register. A VC streams at full rate iff its buffer holds this many flits.
    """
    return 3 + 2 * pipeline_stages


def _eps_floor(x):
    return math.floor(x + 1e-9)


def _eps_ceil(x):
    return math.ceil(x - 1e-9)


def vcs_rx_bytes(rt, ratio, latency):
    """Bytes of one die link's RX buffer (all VCs, payload + last bit) at full rate."""
    return rt.vcs * rx_depth_for(ratio, latency) * (rt.flit_bits + 1) / 8


def derive(cfg):
    """Config -> :class:`Derivation` (see ``format_report``).

    The totals of ``die.nodes`` / ``tile.nodes`` count the physical array; the ``live_*``
    keys count the addressable nodes of the fault map (gen/faults.py), the worst die for
    ``die.*``; ``faults`` summarises the map and, with ``die.defects``, the yield.
    """
    return _add_faults(cfg, _derive_geometry(cfg))


def _add_faults(cfg, d):
    """The geometry ``d`` with the fault map's live counts, bisection and yield."""
    fmap = fault_map(cfg, d)
    node, die, t = d.node, d.die, d.tile
    nx, ny = die.nodes_x, die.nodes_y
    dies = list(fmap.per_die.values())
    worst = min(dies, key=lambda f: len(f.live_nodes))
    live_die = len(worst.live_nodes)
    live_tile = len(fmap.live_nodes)
    link = d.link.gbytes_per_s * 1e9
    die_links = min(cut_links(f.dead_routers, nx, ny) for f in dies)
    die = dataclasses.replace(
        die, live_nodes=live_die, disabled_nodes=len(worst.disabled_nodes),
        dead_routers=len(worst.dead_routers),
        live_peak_bf16_tflops=live_die * node.peak_bf16_gflops / 1e3,
        live_peak_fp32_tflops=live_die * node.peak_fp32_gflops / 1e3,
        live_sram_mb=live_die * node.sram_kb / 1024,
        bisection_links_live=die_links,
        bisection_tbps_per_dir=die_links * link / 1e12)
    # the tile's narrowest cut: between dies the die links carry it, inside one die the mesh
    gx, gy = fmap.mesh
    dead = fmap.dead_routers
    die_link = link / d.dielink.ratio
    cuts = []
    for across, n_dies, size, kw in ((t.dies_x, t.dies_x, nx, "cuts_x"),
                                     (t.dies_y, t.dies_y, ny, "cuts_y")):
        at = [b * size for b in range(1, n_dies)] if across > 1 else [max(1, n_dies * size // 2)]
        links = cut_links(dead, gx, gy, **{kw: at})
        cuts.append((links * (die_link if across > 1 else link), links, across > 1))
    bw, links, between = min(cuts)
    t = dataclasses.replace(
        t, live_nodes=live_tile,
        live_peak_bf16_pflops=live_tile * node.peak_bf16_gflops / 1e6,
        live_peak_fp32_pflops=live_tile * node.peak_fp32_gflops / 1e6,
        live_sram_gb=live_tile * node.sram_kb / 1024 / 1024,
        bisection_links_live=links,
        bisection_cut="die links" if between else "mesh links",
        bisection_tbps_per_dir=bw / 1e12)
    faults = Faults(dead_routers=len(fmap.dead_routers),
                    disabled_nodes=len(fmap.disabled_nodes), live_nodes=live_tile,
                    live_per_die_min=live_die,
                    live_per_die_max=max(len(f.live_nodes) for f in dies),
                    defects=defect_report(cfg, d, fmap))
    return dataclasses.replace(d, die=die, tile=t, faults=faults)


def _derive_geometry(cfg):
    clk, wire, node, die, rt, dl, tile = (cfg.clock, cfg.wire, cfg.node, cfg.die, cfg.router,
                                          cfg.dielink, cfg.tile)
    period_ps = 1000.0 / clk.f_ghz
    t_flop = clk.t_clk_q_ps + clk.t_setup_ps + clk.t_skew_ps
    t_wire = period_ps - t_flop - clk.t_router_ps
    if wire.model == "rc":
        ps_per_mm, spacing, size = bakoglu_ps_per_mm(wire.r_ohm_per_mm, wire.c_ff_per_mm,
                                                     wire.r_drv_ohm, wire.c_in_ff)
        w = Wire(model=wire.model, ps_per_mm=ps_per_mm, repeater_spacing_mm=spacing,
                 repeater_size=size)
    else:
        ps_per_mm = wire.ps_per_mm
        w = Wire(model=wire.model, ps_per_mm=ps_per_mm)
    reach = t_wire / ps_per_mm if t_wire > 0 else 0.0
    pitch = node.pitch_mm if node.pitch_mm is not None else reach
    stages = max(0, _eps_ceil(pitch / reach) - 1) if reach > 0 else 0

    usable = die.edge_mm - 2 * die.io_ring_mm
    geom = _eps_floor(usable / pitch) if pitch > 0 else 0
    active_x = geom - die.spare_cols
    active_y = geom - die.spare_rows
    nx = die.nodes_x if die.nodes_x is not None else active_x
    ny = die.nodes_y if die.nodes_y is not None else active_y
    nodes = max(nx, 0) * max(ny, 0)

    f_hz = clk.f_ghz * 1e9
    flop_per_cycle_bf16 = 2 * node.matrix_p ** 2 * node.matrix_units
    link_bytes_per_s = rt.flit_bits / 8 * f_hz
    bisection_links = min(nx, ny)
    offdie_tbps = dl.lanes_per_edge * dl.lane_gbps / 8 / 1000

    # die-to-die: each mesh link crossing an edge gets its share of the edge's lanes
    links_on_edge = max(nx, ny, 1)
    bits_per_cycle = dl.lanes_per_edge * dl.lane_gbps / clk.f_ghz / links_on_edge
    ratio_derived = max(1, _eps_ceil(rt.flit_bits / bits_per_cycle))
    # die-to-die latency from its parts: flight on the package, serialiser + deserialiser,
    # FEC / CRC check, retiming into the core clock
    latency_parts_ps = {"flight": dl.wire_mm * dl.wire_ps_per_mm, "serdes": dl.phy_latency_ns * 1000,
                        "check": dl.check_ns * 1000, "retime": dl.retime_ns * 1000}
    latency_ps = sum(latency_parts_ps.values())
    latency_derived = _eps_ceil(latency_ps / period_ps)
    latency = dl.latency if dl.latency is not None else latency_derived
    layer = None
    if dl.link_layer:
        # the codeword carries seq + CRC too; seq width depends on the replay window, which
        # depends on the ratio: iterate to the fixed point (more bits -> higher ratio ->
        # smaller window -> never more seq bits, so it settles in a few steps)
        wire_bits = rt.flit_bits
        for _ in range(8):
            r = dl.ratio if dl.ratio is not None else max(1, _eps_ceil(wire_bits / bits_per_cycle))
            geo = link_layer_geometry(flit_bits=rt.flit_bits, vcs=rt.vcs, ratio=r,
                                      latency=latency, crc_bits=dl.crc_bits)
            if rt.flit_bits + geo["overhead_bits"] == wire_bits:
                break
            wire_bits = rt.flit_bits + geo["overhead_bits"]
        ratio_derived = max(1, _eps_ceil(wire_bits / bits_per_cycle))
    ratio = dl.ratio if dl.ratio is not None else ratio_derived
    dielink_rtt = ratio + 2 * latency + 3          # see rtl/fabric/dielink.py
    lanes_per_link = dl.lanes_per_edge / links_on_edge
    if dl.ratio_degraded is not None:
        ratio_degraded = dl.ratio_degraded
    elif lanes_per_link > 1:
        # one lane of the link's share is lost: the rest carries the same codeword
        ratio_degraded = max(ratio, _eps_ceil(ratio * lanes_per_link / (lanes_per_link - 1)))
    else:
        ratio_degraded = None                      # a link with one lane cannot degrade
    if dl.link_layer:
        rd = ratio_degraded if ratio_degraded is not None else ratio
        geo = link_layer_geometry(flit_bits=rt.flit_bits, vcs=rt.vcs, ratio=ratio,
                                  latency=latency, crc_bits=dl.crc_bits, ratio_degraded=rd)
        rx_depth = rx_depth_for(ratio, latency)
        layer = {**geo, "crc_bits": dl.crc_bits, "wire_bits": rt.flit_bits + geo["overhead_bits"],
                 "overhead": geo["overhead_bits"] / rt.flit_bits,
                 "ratio_without_layer": max(1, _eps_ceil(rt.flit_bits / bits_per_cycle)),
                 "ratio_degraded": rd,
                 "replay_bytes": geo["replay_depth"] * geo["payload_bits"] / 8,
                 "rx_bytes": rt.vcs * rx_depth * (rt.flit_bits + 1) / 8,
                 "error_threshold": word_error_threshold(dl.ber, geo["codeword_bits"],
                                                         dl.burst_len),
                 "reverse_error_threshold": word_error_threshold(dl.ber_reverse,
                                                                 geo["reverse_bits"],
                                                                 dl.burst_len),
                 "ber": dl.ber, "ber_reverse": dl.ber_reverse, "burst_len": dl.burst_len,
                 "seed": dl.seed, "lane_fail_cycle": dl.lane_fail_cycle,
                 "lane_fail_link": dl.lane_fail_link}

    dies = tile.dies_x * tile.dies_y
    gx, gy = tile.dies_x * nx, tile.dies_y * ny
    die_link_bytes = link_bytes_per_s / ratio

    def cut(dies_across, links):
        # a cut between dies is limited by the die links; inside one die by mesh links
        per_link = die_link_bytes if dies_across > 1 else link_bytes_per_s
        return 2 * links * per_link / 1e12

    tile_bisection = min(cut(tile.dies_x, tile.dies_y * ny), cut(tile.dies_y, tile.dies_x * nx))
    # one more row and column: host models just outside the south and east tile
    # edges have addresses (x = mesh_x or y = mesh_y) that responses route to
    coord_bits = coord_bits_for(gx + 1, gy + 1)

    out = Derivation(
        clock=Clock(f_ghz=clk.f_ghz, period_ps=period_ps, t_flop_ps=t_flop,
                    t_router_ps=clk.t_router_ps, t_wire_ps=t_wire),
        wire=w,
        node=Node(reach_mm=reach, pitch_mm=pitch, pitch_forced=node.pitch_mm is not None,
                  peak_bf16_gflops=flop_per_cycle_bf16 * f_hz / 1e9,
                  peak_fp32_gflops=node.fp32_flops_per_cycle * f_hz / 1e9,
                  sram_kb=node.sram_kb),
        link=Link(pipeline_stages=stages, hop_cycles=1 + stages,
                  credit_round_trip=credit_round_trip(stages),
                  gbytes_per_s=link_bytes_per_s / 1e9),
        die=Die(usable_edge_mm=usable, geometric_nodes_per_edge=geom,
                nodes_x=nx, nodes_y=ny, nodes=nodes,
                shape_overridden=die.nodes_x is not None or die.nodes_y is not None,
                peak_bf16_tflops=nodes * flop_per_cycle_bf16 * f_hz / 1e12,
                peak_fp32_tflops=nodes * node.fp32_flops_per_cycle * f_hz / 1e12,
                sram_mb=nodes * node.sram_kb / 1024,
                bisection_links=bisection_links,
                bisection_tbps=2 * bisection_links * link_bytes_per_s / 1e12,
                offdie_tbps_per_edge=offdie_tbps),
        dielink=DieLink(bits_per_cycle_per_link=bits_per_cycle, ratio=ratio,
                        ratio_derived=ratio_derived, latency_ps=latency_ps,
                        latency_parts_ps=latency_parts_ps,
                        latency=latency, latency_derived=latency_derived,
                        credit_round_trip=dielink_rtt,
                        buffer_depth=rx_depth_for(ratio, latency),
                        rx_buffer_bytes=vcs_rx_bytes(rt, ratio, latency),
                        lanes_per_link=lanes_per_link, ratio_degraded=ratio_degraded,
                        link_layer=layer),
        tile=Tile(dies_x=tile.dies_x, dies_y=tile.dies_y, dies=dies,
                  mesh_x=gx, mesh_y=gy, nodes=gx * gy, coord_bits=coord_bits,
                  peak_bf16_pflops=dies * nodes * flop_per_cycle_bf16 * f_hz / 1e15,
                  sram_gb=dies * nodes * node.sram_kb / 1024 / 1024,
                  bisection_tbps=tile_bisection,
                  offtile_tbps_per_edge=max(tile.dies_x, tile.dies_y) * offdie_tbps))
    return dataclasses.replace(out, traffic=latency_histogram(cfg, out))


#: the derived latency histogram covers this many times the zero-load latency of the
#: longest route, and its bins are never narrower than this many cycles
HISTOGRAM_SPAN = 2
HISTOGRAM_MIN_BIN = 4


def latency_histogram(cfg, d):
    """The sinks' latency histogram: ``traffic.histogram_bins`` bins of
    ``traffic.histogram_bin_cycles`` cycles, or, where the config leaves the width out
    (null), a width from the mesh: the histogram spans :data:`HISTOGRAM_SPAN` times the
    zero-load latency of the longest route (``diameter_latency``: the diameter's hops at
    ``link.hop_cycles`` each, every die boundary it crosses at the die link's latency
    plus one flit's serialisation, the tail of the longest packet and the 2 cycles of
    generation and ejection), in bins of at least :data:`HISTOGRAM_MIN_BIN` cycles.
    The RTL and the fast model both take the width from here."""
    t = d.tile
    tiled = t.dies > 1
    ratio = d.dielink.ratio if tiled else 1
    crossings = (t.dies_x - 1) + (t.dies_y - 1)
    diameter = ((t.mesh_x - 1 + t.mesh_y - 1) * d.link.hop_cycles
                + crossings * (d.dielink.latency + ratio)
                + (cfg.router.max_packet_flits - 1) * ratio + 2)
    bins = cfg.traffic.histogram_bins
    given = cfg.traffic.histogram_bin_cycles
    width = given if given is not None else max(
        HISTOGRAM_MIN_BIN, math.ceil(HISTOGRAM_SPAN * diameter / bins))
    return Traffic(histogram_bins=bins, histogram_bin_cycles=width,
                   histogram_range_cycles=bins * width, diameter_latency=diameter,
                   histogram_bin_cycles_derived=given is None)


def consistency_problems(cfg):
    """Cross-key checks the schema cannot express; one message per problem."""
    problems = []
    planes = getattr(cfg.router, "vc_planes", None)
    if planes and cfg.router.routing != "table":
        problems.append(f"router.vc_planes: true needs router.routing: table (not "
                        f"{cfg.router.routing!r}); allowed: false, or leave it out")
    if planes and cfg.router.vcs < 2:
        problems.append(f"router.vc_planes: true needs at least 2 VCs (router.vcs is "
                        f"{cfg.router.vcs}); allowed: false, or leave it out")
    d = _derive_geometry(cfg)
    clk = d.clock
    if clk.t_wire_ps <= 0:
        limit = clk.period_ps - clk.t_flop_ps
        problems.append(
            f"clock.t_router_ps: {cfg.clock.t_router_ps} is not allowed: with flop overhead "
            f"{clk.t_flop_ps:g} ps it leaves no wire time in the {clk.period_ps:g} ps "
            f"cycle (must be < {limit:g})")
        return problems
    die = d.die
    if die.geometric_nodes_per_edge < 1:
        problems.append(
            f"die.edge_mm: {cfg.die.edge_mm} is not allowed: the usable edge "
            f"{die.usable_edge_mm:.3g} mm fits no node of pitch {d.node.pitch_mm:.3g} mm")
    for key, axis in (("spare_cols", "nodes_x"), ("spare_rows", "nodes_y")):
        if not problems and cfg.die.__dict__[axis] is None and getattr(die, axis) < 1:
            problems.append(
                f"die.{key}: {cfg.die.__dict__[key]} is not allowed: must be below the "
                f"{die.geometric_nodes_per_edge} nodes that fit on a die edge")
    if problems:
        return problems
    t = d.tile
    need = PacketFormat.min_flit_bits(coord_bits=t.coord_bits,
                                      timestamp_bits=cfg.traffic.timestamp_bits)
    if cfg.router.flit_bits < need:
        problems.append(
            f"router.flit_bits: {cfg.router.flit_bits} is not allowed: must be at least {need} "
            f"to hold the head fields of a {t.mesh_x}x{t.mesh_y} mesh "
            f"({t.coord_bits}-bit coordinates, {cfg.traffic.timestamp_bits}-bit timestamps)")
    banks = cfg.node.sram_banks
    try:
        lines = sram_lines(cfg.node.sram_kb, cfg.router.flit_bits)
    except ValueError:               # not whole lines: the node build says so
        lines = None
    if lines and banks > 1 and (lines % banks or lines < 2 * banks):
        problems.append(f"node.sram_banks: {banks} is not allowed: the {lines} lines of "
                        f"node.sram_kb={cfg.node.sram_kb:g} do not split into {banks} equal "
                        f"banks (use 1)")
    dl = cfg.dielink
    if not dl.link_layer:
        for key in ("ber", "ber_reverse"):
            if getattr(dl, key):
                problems.append(f"dielink.{key}: {getattr(dl, key)!r} is not allowed without "
                                f"the link layer: set dielink.link_layer: true")
        if dl.lane_fail_cycle is not None:
            problems.append(f"dielink.lane_fail_cycle: {dl.lane_fail_cycle!r} is not allowed "
                            f"without the link layer: set dielink.link_layer: true")
    if dl.burst_len > dl.crc_bits:
        problems.append(f"dielink.burst_len: {dl.burst_len} is not allowed: must be <= "
                        f"dielink.crc_bits ({dl.crc_bits}), the longest burst the CRC detects")
    dd = d.dielink
    if dl.lane_fail_cycle is not None and dd.ratio_degraded is None:
        problems.append(f"dielink.lane_fail_cycle: {dl.lane_fail_cycle!r} is not allowed: a die "
                        f"link has {dd.lanes_per_link:g} lane(s), so it cannot lose one "
                        f"(give more dielink.lanes_per_edge or set dielink.ratio_degraded)")
    if dl.ratio_degraded is not None and dl.ratio_degraded < dd.ratio:
        problems.append(f"dielink.ratio_degraded: {dl.ratio_degraded} is not allowed: must be "
                        f">= dielink ratio {dd.ratio}")
    rtt = d.link.credit_round_trip
    if cfg.router.buffer_depth < rtt and not cfg.router.allow_shallow_buffers:
        problems.append(
            f"router.buffer_depth: {cfg.router.buffer_depth} is not allowed: the credit round "
            f"trip is {rtt} cycles ({d.link.pipeline_stages} link pipeline stages), so a "
            f"VC needs at least {rtt} flits for full link rate "
            f"(or set router.allow_shallow_buffers: true)")
    problems += fault_problems(cfg, d)
    return problems


def _flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _fault_lines(die, t, f):
    lines = ["faults and yield"]
    lines.append(f"  live nodes per die       {die.live_nodes} of {die.nodes} "
                 f"({die.disabled_nodes} disabled, {die.dead_routers} dead routers; "
                 f"worst die)")
    lines.append(f"  tile                     {t.live_nodes} live of {t.nodes} "
                 f"({f.disabled_nodes} disabled, {f.dead_routers} dead routers; per die "
                 f"{f.live_per_die_min}..{f.live_per_die_max} live)")
    lines.append(f"  live peak                {si(die.live_peak_bf16_tflops * 1e12, 'FLOPS')} "
                 f"BF16, {si(die.live_peak_fp32_tflops * 1e12, 'FLOPS')} FP32, "
                 f"{binary_bytes(die.live_sram_mb * 2 ** 20)} per die; tile "
                 f"{si(t.live_peak_bf16_pflops * 1e15, 'FLOPS')} BF16, "
                 f"{binary_bytes(t.live_sram_gb * 2 ** 30)}")
    y = f.defects
    if not y:
        return lines
    model = ("Poisson" if y["model"] == "poisson"
             else f"negative binomial, alpha {y['alpha']:g}")
    lines.append(f"  defect model             {model}, D0 {y['density_per_cm2']:g}/cm^2; node "
                 f"{y['node_area_mm2']:.3f} mm^2, array {y['array_area_cm2']:.2f} cm^2 "
                 f"(die {y['die_area_cm2']:.2f} cm^2)")
    lines.append(f"  yield without spares     {100 * y['yield_no_spares']:.2f}% (node array), "
                 f"{100 * y['yield_die_area']:.2f}% (whole die area)")
    lines.append(f"  yield with {y['spares']} spares     ".ljust(27)
                 + f"{100 * y['yield_with_spares']:.4f}% (at most {y['spares']} of "
                 f"{y['array_nodes']} nodes fail: {y['required_live']} live)")
    lines.append(f"  expected live nodes      {y['expected_live_nodes']:.2f} of {y['array_nodes']}")
    if y["draw"]:
        lines.append(f"  drawn (seed {y['seed']})".ljust(27)
                     + f"{y['drawn_failures']} failed nodes on the tile; "
                     f"{y['dies_below_required']} dies below {y['required_live']} live")
    return lines


def format_report(cfg, d, compare=None):
    """Readable derivation report; ``compare`` (default: the d1 preset) adds published D1."""
    if compare is None:
        compare = cfg.name == "d1"
    c, w, n, l, die, dl, t = (d.clock, d.wire, d.node, d.link, d.die,
                              d.dielink, d.tile)
    lines = [f"Physical derivation: {cfg.name}", ""]
    lines.append("clock and wire")
    lines.append(f"  f_clk {c.f_ghz:g} GHz -> cycle {c.period_ps:.1f} ps; flop overhead "
                 f"{c.t_flop_ps:.1f} ps; router logic {c.t_router_ps:.1f} ps")
    lines.append(f"  time left for the wire   {c.t_wire_ps:.1f} ps")
    if w.model == "rc":
        lines.append(f"  wire (RC, Bakoglu)       {w.ps_per_mm:.1f} ps/mm with repeaters every "
                     f"{w.repeater_spacing_mm:.3f} mm, {w.repeater_size:.0f}x minimum size")
    else:
        lines.append(f"  wire (given)             {w.ps_per_mm:.1f} ps/mm")
    lines.append("node and link")
    lines.append(f"  one-cycle reach          {n.reach_mm:.3f} mm")
    lines.append(f"  node pitch               {n.pitch_mm:.3f} mm"
                 + (" (forced)" if n.pitch_forced else " (= reach)"))
    lines.append(f"  link pipeline stages     {l.pipeline_stages} -> {l.hop_cycles} cycle(s) "
                 f"per hop; credit round trip {l.credit_round_trip} cycles")
    lines.append(f"  link bandwidth           {si(l.gbytes_per_s * 1e9, 'B/s')} per direction")
    lines.append(f"  node peak                {si(n.peak_bf16_gflops * 1e9, 'FLOPS')} BF16, "
                 f"{si(n.peak_fp32_gflops * 1e9, 'FLOPS')} FP32, "
                 f"{binary_bytes(n.sram_kb * 2 ** 10)} SRAM")
    lines.append("die")
    lines.append(f"  usable edge              {die.usable_edge_mm:.2f} mm -> "
                 f"{die.geometric_nodes_per_edge} nodes per edge (geometric)")
    lines.append(f"  mesh                     {die.nodes_x} x {die.nodes_y} = {die.nodes} "
                 f"nodes" + (" (overridden)" if die.shape_overridden else ""))
    lines.append(f"  peak                     {si(die.peak_bf16_tflops * 1e12, 'FLOPS')} BF16, "
                 f"{si(die.peak_fp32_tflops * 1e12, 'FLOPS')} FP32")
    lines.append(f"  SRAM                     {binary_bytes(die.sram_mb * 2 ** 20)}")
    lines.append(f"  bisection                {si(die.bisection_tbps * 1e12, 'B/s')} "
                 f"({die.bisection_links} links x 2 directions) = "
                 f"{si(die.bisection_tbps_per_dir * 1e12, 'B/s')} per direction"
                 + (f" over {die.bisection_links_live} live links"
                    if die.bisection_links_live != die.bisection_links else ""))
    lines.append(f"  off-die per edge         {si(die.offdie_tbps_per_edge * 1e12, 'B/s')} "
                 f"each way")
    lines.append("die-to-die link")
    lines.append(f"  lane share per mesh link {dl.bits_per_cycle_per_link:.1f} bits/cycle -> "
                 f"ratio {dl.ratio} cycles/flit (derived {dl.ratio_derived})")
    parts = dl.latency_parts_ps
    lines.append("  latency parts            " + ", ".join(f"{k} {v / 1000:g} ns"
                                                         for k, v in parts.items()))
    lines.append(f"  latency                  {dl.latency_ps:.0f} ps -> {dl.latency} cycles "
                 f"each way (derived {dl.latency_derived}); receive buffer "
                 f"{dl.buffer_depth} flits per VC ({dl.rx_buffer_bytes:.0f} bytes per link)")
    ll = dl.link_layer
    if ll:
        lines.append(f"  link layer               {ll['seq_bits']}-bit seq + CRC-{ll['crc_bits']}: "
                     f"{ll['wire_bits']} bits per flit on the wire (+{100 * ll['overhead']:.1f}%), "
                     f"ratio {dl.ratio} (without the layer {ll['ratio_without_layer']})")
        lines.append(f"  replay buffer            {ll['replay_depth']} flits ({ll['replay_bytes']:.0f} "
                     f"bytes per link); timeout {ll['timeout']} cycles; degraded ratio "
                     f"{ll['ratio_degraded']}")
        if ll["ber"] or ll["ber_reverse"] or ll["lane_fail_cycle"] is not None:
            lines.append(f"  injected errors          BER {ll['ber']:g} forward, "
                         f"{ll['ber_reverse']:g} reverse, bursts of {ll['burst_len']}, seed "
                         f"{ll['seed']}; lane failure at cycle {ll['lane_fail_cycle']} on link "
                         f"{'every' if ll['lane_fail_link'] is None else ll['lane_fail_link']}")
    lines.append("tile")
    lines.append(f"  dies                     {t.dies_x} x {t.dies_y} = {t.dies}; global "
                 f"mesh {t.mesh_x} x {t.mesh_y} ({t.coord_bits}-bit coordinates)")
    lines.append(f"  peak                     {si(t.peak_bf16_pflops * 1e15, 'FLOPS')} BF16; "
                 f"SRAM {binary_bytes(t.sram_gb * 2 ** 30)}")
    lines.append(f"  bisection                {si(t.bisection_tbps * 1e12, 'B/s')}; off-tile "
                 f"per edge {si(t.offtile_tbps_per_edge * 1e12, 'B/s')}")
    per = (f"{si(l.gbytes_per_s * 1e9 / dl.ratio, 'B/s')} (a flit per {dl.ratio} "
           f"cycles)" if t.bisection_cut == "die links" else si(l.gbytes_per_s * 1e9, 'B/s'))
    lines.append(f"  bisection per direction  {si(t.bisection_tbps_per_dir * 1e12, 'B/s')}: "
                 f"{t.bisection_links_live} {t.bisection_cut} across the narrowest cut, "
                 f"{per} each")
    f = d.faults
    if f.dead_routers or f.disabled_nodes or f.defects:
        lines += _fault_lines(die, t, f)
    if not compare:
        return "\n".join(lines)
    lines.append("")
    lines.append("published D1 / tile vs derived")
    flat = _flatten(d.as_dict())
    lines.append(f"  {'quantity':28s} {'published':>10s} {'derived':>10s} {'delta':>8s}")
    for key, pub in PUBLISHED_D1.items():
        got = flat[key]
        delta = (got - pub) / pub * 100
        lines.append(f"  {key:28s} {pub:10.4g} {got:10.4g} {delta:+7.1f}%")
    lines.append("  (keys as in --json: *_mb / *_gb are MiB / GiB, 2^20 / 2^30 bytes, beside "
                 "Tesla's \"MB\"/\"GB\"; *_tbps are 10^12 bytes/s)")
    return "\n".join(lines)
