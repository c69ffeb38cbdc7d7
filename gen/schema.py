"""The config schema: every key, its type, range and default, in one place.

Validation is JSON Schema (draft 2020-12) through ``jsonschema``; defaults are
taken from the ``default`` keyword so a preset only states what it changes.
"""

from rtl.net.link import MAX_VCS

__all__ = ["SCHEMA"]


def _num(default, minimum=None, maximum=None, exclusive_min=None, desc=""):
    s = {"type": "number", "default": default, "description": desc}
    if minimum is not None:
        s["minimum"] = minimum
    if maximum is not None:
        s["maximum"] = maximum
    if exclusive_min is not None:
        s["exclusiveMinimum"] = exclusive_min
    return s


def _int(default, minimum=None, maximum=None, desc="", nullable=False):
    s = {"type": ["integer", "null"] if nullable else "integer", "default": default,
         "description": desc}
    if minimum is not None:
        s["minimum"] = minimum
    if maximum is not None:
        s["maximum"] = maximum
    return s


def _coords(desc):
    """A list of die-local ``[x, y]`` node coordinates; no default: absent = none."""
    pair = {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 2,
            "maxItems": 2, "x-allowed": "an [x, y] pair of integers >= 0"}
    return {"type": "array", "items": pair, "description": desc + " (absent: none)",
            "x-allowed": "a list of die-local [x, y] pairs"}


# Fault maps and the defect model have no "default": a config without them keeps the same
# default-filled ``cfg.raw`` (build and sweep caches are keyed by it) and derives as before.
_FAULTS = {
    "disabled_nodes": _coords("nodes whose compute is fused off: the router still forwards, "
                              "the node is not addressable"),
    "dead_routers": _coords("nodes that are gone entirely: nothing enters or leaves them"),
}

_DEFECTS = {
    "type": ["object", "null"], "additionalProperties": False, "required": ["density_per_cm2"],
    "description": "seeded defect model (absent: none): draws which nodes fail on every die and "
                   "gives the die's yield with and without spares (gen/faults.py)",
    "properties": {
        "density_per_cm2": _num(0.1, minimum=0, maximum=100,
                                desc="defect density D0, defects per cm^2 (required)"),
        "model": {"enum": ["poisson", "negbin"], "default": "poisson",
                  "description": "'poisson': Y = exp(-A D); 'negbin' (clustered): "
                                 "Y = (1 + A D / alpha)^-alpha"},
        "alpha": _num(2.0, exclusive_min=0, maximum=1000,
                      desc="clustering parameter of the negative binomial model"),
        "seed": _int(1, 0, 0xFFFFFFFF, desc="seed of the draw (mixed with each die's position)"),
        "router_fraction": _num(0.1, minimum=0, maximum=1,
                                desc="fraction of a node's area that is router: a defect there "
                                     "kills the node (dead router), elsewhere only its compute "
                                     "(disabled node)"),
        "draw": {"type": "boolean", "default": True,
                 "description": "draw which nodes fail (false: the model only feeds the yield "
                                "report; the map is the listed nodes)"},
        "required_live": _int(None, 1, 4096, nullable=True,
                              desc="live nodes a die must provide to be usable; the rest of its "
                                   "nodes are spares (null: the live nodes of the listed map)"),
    },
}

_TILE_FAULT_MAP = {
    "type": "array",
    "description": "per-die fault maps (absent: every die uses die.disabled_nodes / "
                   "die.dead_routers); an entry replaces the die-level lists for its die",
    "x-allowed": "a list of {die: [dx, dy], disabled_nodes: [...], dead_routers: [...]}",
    "items": {"type": "object", "additionalProperties": False, "required": ["die"],
              "x-allowed": "a mapping {die: [dx, dy], disabled_nodes: [...], dead_routers: [...]}",
              "properties": {
                  "die": {"type": "array", "items": {"type": "integer", "minimum": 0},
                          "minItems": 2, "maxItems": 2,
                          "x-allowed": "a [dx, dy] pair of integers >= 0",
                          "description": "the die's position in the tile"},
                  **_FAULTS}},
}


def _obj(props, desc=""):
    return {"type": "object", "additionalProperties": False, "properties": props,
            "default": {}, "description": desc}


SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "default": "unnamed", "description": "preset name"},
        "clock": _obj({
            "f_ghz": _num(2.0, exclusive_min=0, maximum=20, desc="core clock, GHz"),
            "t_clk_q_ps": _num(35.0, minimum=0, desc="flop clock-to-q, ps"),
            "t_setup_ps": _num(25.0, minimum=0, desc="flop setup, ps"),
            "t_skew_ps": _num(30.0, minimum=0, desc="clock skew + jitter budget, ps"),
            "t_router_ps": _num(300.0, minimum=0,
                                desc="router logic in the hop's cycle (route + arbitrate + crossbar), ps"),
        }),
        "wire": _obj({
            "model": {"enum": ["given", "rc"], "default": "rc",
                      "description": "'given' uses ps_per_mm; 'rc' derives it (Bakoglu optimal repeaters)"},
            "ps_per_mm": _num(70.0, exclusive_min=0, desc="repeated-wire delay, ps/mm (model: given)"),
            "r_ohm_per_mm": _num(1500.0, exclusive_min=0, desc="wire resistance, ohm/mm (model: rc)"),
            "c_ff_per_mm": _num(200.0, exclusive_min=0, desc="wire capacitance, fF/mm (model: rc)"),
            "r_drv_ohm": _num(2500.0, exclusive_min=0, desc="minimum repeater output resistance, ohm"),
            "c_in_ff": _num(1.0, exclusive_min=0, desc="minimum repeater input capacitance, fF"),
        }),
        "node": _obj({
            "pitch_mm": {"type": ["number", "null"], "default": None, "exclusiveMinimum": 0,
                         "description": "force the node pitch (mm); null = one-cycle reach"},
            "sram_kb": _num(64, exclusive_min=0, desc="scratchpad per node, KiB"),
            "sram_banks": {"enum": [1, 2, 4], "default": 2,
                           "description": "write banks of the scratchpad (contiguous halves or "
                                          "quarters, one write port each)"},
            "matrix_p": _int(8, 1, 64, desc="P of the P x P multiply-accumulate array"),
            "matrix_units": _int(1, 1, 16, desc="matrix units per node (Dojo: 4 x 8x8)"),
            "fp32_flops_per_cycle": _int(32, 1, 4096, desc="SIMD FP32 FLOP per cycle"),
        }),
        "die": _obj({
            "edge_mm": _num(5.0, exclusive_min=0, desc="die edge (square die), mm"),
            "io_ring_mm": _num(0.5, minimum=0, desc="I/O ring width on each side, mm"),
            "spare_rows": _int(0, 0, 64, desc="spare node rows for yield harvesting"),
            "spare_cols": _int(0, 0, 64, desc="spare node columns for yield harvesting"),
            "nodes_x": _int(None, 1, 64, nullable=True, desc="override the derived mesh width"),
            "nodes_y": _int(None, 1, 64, nullable=True, desc="override the derived mesh height"),
            **_FAULTS,
            "defects": _DEFECTS,
        }),
        "router": _obj({
            "flit_bits": _int(64, 16, 2048, desc="flit payload width, bits"),
            "vcs": _int(2, 1, MAX_VCS, desc="virtual channels per link"),
            "buffer_depth": _int(4, 1, 64, desc="input buffer depth per VC, flits"),
            "routing": {"enum": ["xy", "yx", "table"], "default": "xy",
                        "description": "dimension-order routing (xy, yx) or run-time routing "
                                       "tables computed from the fault map (table; required "
                                       "when routers are dead)"},
            # no "default": absent means xy, and a config without it keeps its cfg.raw
            "table_base": {"enum": ["xy", "yx"],
                           "description": "table mode: the dimension order the tables "
                                          "reproduce when no router is dead (absent: xy)"},
            # no "default" either: absent means on where it applies
            "vc_planes": {"type": "boolean",
                          "description": "table mode with dead routers: one table set per VC "
                                         "and each source's VC per destination, chosen to "
                                         "balance the links (gen/vc_planes.py; absent: on "
                                         "where it applies, false: one table set for every VC)"},
            "max_packet_flits": _int(8, 1, 255, desc="longest packet, flits"),
            "allow_shallow_buffers": {"type": "boolean", "default": False,
                                      "description": "accept buffers shallower than the credit round trip"},
        }),
        "dielink": _obj({
            "wire_mm": _num(2.0, minimum=0, desc="die-to-die wire length on the package, mm"),
            "wire_ps_per_mm": _num(8.0, minimum=0, desc="package (RDL) wire delay, ps/mm"),
            "lanes_per_edge": _int(16, 1, 100000, desc="lanes per die edge, each direction"),
            "lane_gbps": _num(16.0, exclusive_min=0, desc="lane rate, Gb/s"),
            "phy_latency_ns": _num(2.0, minimum=0, desc="PHY (serialise + deserialise) latency, ns"),
            "check_ns": _num(0.0, minimum=0,
                             desc="FEC decode / CRC check in the receiving PHY, ns (each way)"),
            "retime_ns": _num(0.0, minimum=0,
                              desc="retiming and clock-domain crossing into the core clock, ns"),
            "ratio": _int(None, 1, 64, nullable=True, desc="override: core cycles per flit"),
            "latency": _int(None, 0, 256, nullable=True, desc="override: pipeline cycles each way"),
            "link_layer": {"type": "boolean", "default": False,
                           "description": "reliable link layer: sequence numbers, CRC, ACK/NAK and "
                                          "go-back-N replay (rtl/fabric/dielink_layer.py); its bits "
                                          "count in the derived ratio"},
            "crc_bits": {"enum": [8, 16], "default": 8,
                         "description": "CRC width per codeword (8: 0x07, 16: 0x1021; link_layer)"},
            "ber": _num(0.0, minimum=0, maximum=0.1,
                        desc="injected bit error rate on the flit direction (needs link_layer)"),
            "ber_reverse": _num(0.0, minimum=0, maximum=0.1,
                                desc="injected bit error rate on the ACK/credit direction"),
            "burst_len": _int(1, 1, 16, desc="bits flipped by one error event (<= crc_bits)"),
            "seed": _int(1, 0, 0xFFFFFFFF, desc="seed of the error injectors (mixed per link)"),
            "lane_fail_cycle": _int(None, 0, 0xFFFFFFFE, nullable=True,
                                    desc="cycle after reset in which a lane fails (null: never)"),
            "lane_fail_link": _int(None, 0, 65535, nullable=True,
                                   desc="die link (tile instance number) that loses the lane; "
                                        "null: every link"),
            "ratio_degraded": _int(None, 1, 256, nullable=True,
                                   desc="override: cycles per flit after the lane failure"),
        }),
        "tile": _obj({
            "dies_x": _int(1, 1, 16, desc="dies across the tile"),
            "dies_y": _int(1, 1, 16, desc="dies down the tile"),
            "fault_maps": _TILE_FAULT_MAP,
        }),
        # Energy per event (gen/energy.py). Defaults are for a 7 nm process at 2 GHz; each
        # says where it comes from. "assumed" marks an engineering estimate, not a publication.
        "energy": _obj({
            "vdd_v": _num(0.75, exclusive_min=0, maximum=2,
                          desc="core supply, V (TSMC N7's nominal 0.75 V)"),
            "activity": _num(0.5, minimum=0, maximum=1,
                             desc="fraction of a transfer's bits that toggle (0.5: random data)"),
            "repeater_output_ratio": _num(1.0, minimum=0, maximum=10,
                                          desc="a repeater's output (drain) capacitance over its "
                                               "input capacitance (the usual gamma ~ 1; assumed)"),
            "router_buffer_fj_per_bit": _num(15.0, minimum=0, maximum=10000,
                                             desc="input-buffer write + read per bit, fJ (assumed: "
                                                  "ORION 2.0-class 45 nm ~80 fJ/bit scaled 1/5 "
                                                  "to 7 nm)"),
            "crossbar_pitch_um": _num(0.08, minimum=0, maximum=10,
                                      desc="track pitch of the crossbar's wires, um (assumed: "
                                           "7 nm intermediate metal)"),
            "crossbar_layers": _int(2, 1, 16, desc="metal layers the crossbar's tracks share "
                                                   "(assumed)"),
            "router_control_pj_per_flit": _num(1.0, minimum=0, maximum=10000,
                                               desc="route, VC and switch allocation and credits "
                                                    "per flit, pJ (width-independent; assumed)"),
            "dielink_pj_per_bit": _num(0.5, minimum=0, maximum=100,
                                       desc="die-to-die PHY energy per lane bit, pJ (assumed: "
                                            "short-reach package SerDes, OIF CEI-112G-XSR class, "
                                            "~0.5-1 pJ/bit)"),
            "crc_fj_per_bit": _num(2.0, minimum=0, maximum=1000,
                                   desc="link-layer CRC encode + check per lane bit, fJ (an "
                                        "XOR tree; assumed)"),
            "sram_cell_um2": _num(0.027, exclusive_min=0, maximum=10,
                                  desc="SRAM bit cell, um^2 (TSMC N7 high-density 6T cell, "
                                       "IEDM 2016)"),
            "sram_array_efficiency": _num(0.7, exclusive_min=0, maximum=1,
                                          desc="cell area over macro area (assumed)"),
            "sram_array_fj_per_bit": _num(20.0, minimum=0, maximum=10000,
                                          desc="sub-array access per bit (bit lines, sense "
                                               "amplifier), fJ (assumed); the H-tree is added "
                                               "from the wire model"),
            "sram_write_ratio": _num(1.0, minimum=0, maximum=10,
                                     desc="write energy over read energy (assumed)"),
            "mac_bf16_pj": _num(0.3, minimum=0, maximum=100,
                                desc="bf16 x bf16 + fp32 MAC, pJ (Horowitz, ISSCC 2014, 45 nm: "
                                     "~0.6 pJ bf16-size multiply + 0.9 pJ fp32 add, scaled 1/5 "
                                     "to 7 nm; assumed scaling)"),
            "mac_int8_pj": _num(0.06, minimum=0, maximum=100,
                                desc="int8 x int8 + int32 MAC, pJ (Horowitz 2014: 0.2 + 0.1 pJ "
                                     "at 45 nm, scaled 1/5)"),
            "clock_fj_per_flop": _num(1.0, minimum=0, maximum=1000,
                                      desc="clock energy per flop per cycle, fJ (assumed: ~1.5 fF "
                                           "of clock pin and local tree at 0.75 V, no gating)"),
            "leakage_w_per_mm2": _num(0.05, minimum=0, maximum=10,
                                      desc="leakage per mm^2 of die, W (assumed: 7 nm high-"
                                           "performance logic and SRAM)"),
            "peak_link_load": _num(0.1, minimum=0, maximum=1,
                                   desc="fraction of cycles each mesh link carries a flit in the "
                                        "die-power-at-peak figure of dojo derive (stated "
                                        "activity; assumed)"),
        }),
        "traffic": _obj({
            "enable": {"type": "boolean", "default": True,
                       "description": "instantiate a traffic generator and sink per node"},
            "timestamp_bits": _int(16, 8, 32, desc="timestamp width in head flits"),
            "histogram_bins": _int(16, 2, 64, desc="latency histogram bins per sink"),
            "histogram_bin_cycles": _int(None, 1, 1024, nullable=True,
                                         desc="latency histogram bin width, cycles (null: "
                                              "from the mesh, so the histogram spans twice "
                                              "the zero-load latency of its longest route, "
                                              "gen.derive.latency_histogram)"),
            "source_queue": _int(16, 2, 1024, desc="source queue depth (timestamps)"),
        }),
    },
}
