"""The energy model (gen/energy.py): hand-computed energies of tiny cases, the report,
and refused parameters."""

import json

import pytest

from dojo.cli import main
from gen.config import load_config
from gen.derive import derive
from gen.energy import EVENTS, energy_model, energy_of, peak_power

# round numbers so the hand computation below is exact: 1 V, every bit toggles, 64-bit
# flits, a 1 mm hop, wire capacitance only (model "given" places no repeaters)
_TINY = ["wire.model=given", "wire.c_ff_per_mm=200", "node.pitch_mm=1.0", "router.flit_bits=64",
         "energy.vdd_v=1.0", "energy.activity=1.0", "energy.router_buffer_fj_per_bit=15",
         "energy.crossbar_pitch_um=0.08", "energy.crossbar_layers=2",
         "energy.router_control_pj_per_flit=1.0", "energy.dielink_pj_per_bit=0.5",
         "energy.crc_fj_per_bit=2", "energy.mac_bf16_pj=0.3", "energy.mac_int8_pj=0.06"]


def _model(config="configs/default.yaml", *overrides):
    cfg = load_config(config, list(overrides))
    d = derive(cfg)
    return cfg, d, energy_model(cfg, d)


def test_one_flit_over_one_hop():
    _, _, m = _model("configs/default.yaml", *_TINY)
    wire = 1.0 * 200e-3 * 1.0 ** 2 / 2                    # pJ per bit per mm: a C V^2 / 2
    link = 64 * 1.0 * wire                                # 6.4 pJ
    buffer = 64 * 15e-3                                   # 0.96 pJ
    crossbar = 64 * (5 * 64 * 0.08e-3 / 2) * wire         # 64 bits over 12.8 um
    router = buffer + crossbar + 1.0
    j = energy_of(m, {"flit_hops": 1, "router_flits": 1}, cycles=0, nodes=0)
    assert j["flit_hops"] == pytest.approx(link * 1e-12)
    assert j["router_flits"] == pytest.approx(router * 1e-12)
    assert m.pj_per_byte_hop == pytest.approx((link + router) / 8)


def test_repeaters_add_their_capacitance():
    cfg, d, m = _model("configs/d1.yaml")
    w = d.wire
    reps = w.repeater_size * cfg.wire.c_in_ff * 2 / w.repeater_spacing_mm
    assert m.wire_ff_per_mm == pytest.approx(cfg.wire.c_ff_per_mm + reps)
    assert m.wire_pj_per_bit_mm == pytest.approx(0.5 * m.wire_ff_per_mm * 0.75 ** 2 / 2e3)


def test_one_dielink_crossing_with_and_without_a_replay():
    """One flit over a die link with the link layer, by hand: the codeword is the flit, its
    sequence number and CRC-8; the reverse lane's control word (the cumulative ACK, the
    2-bit NAK count, a pop counter per VC, CRC-8) carries the news back. Without errors
    the crossing sends one codeword and two control words with news (the codeword's
    acceptance: ACK; the flit leaving the RX buffer: a credit); a replay sends the codeword
    again and one more control word (the NAK)."""
    cfg, d, m = _model("configs/default.yaml", *_TINY, "tile.dies_x=2",
                       "dielink.link_layer=true")
    layer = d.dielink.link_layer
    seq, vcs = layer["seq_bits"], cfg.router.vcs
    bits = 64 + seq + 8                                   # the flit, the sequence number, CRC
    assert layer["wire_bits"] == bits
    ctl = seq + 2 + vcs * layer["count_bits"] + 8          # ACK, NAK count, pops, CRC
    assert layer["reverse_bits"] == m.dielink_control_bits == ctl
    pj_bit = 0.5 + 2e-3                                   # the PHY and the CRC logic per bit
    once, word = bits * pj_bit, ctl * pj_bit
    assert m.dielink_pj_per_flit == pytest.approx(once)
    assert m.dielink_control_pj_per_word == pytest.approx(word)

    def crossing(codewords, words):
        j = energy_of(m, {"dielink_codewords": codewords, "dielink_control_words": words},
                      cycles=0, nodes=0)
        return j["dielink_codewords"] + j["dielink_control_words"]
    assert crossing(1, 2) == pytest.approx((once + 2 * word) * 1e-12)
    # the replay: the codeword is paid again, and the NAK's control word
    assert crossing(2, 3) == pytest.approx((2 * once + 3 * word) * 1e-12)
    assert crossing(2, 3) - crossing(1, 2) == pytest.approx((once + word) * 1e-12)
    # a die-link flit counted by a router (no layer's counters) costs the codeword
    j1 = energy_of(m, {"dielink_flits": 1}, cycles=0, nodes=0)["dielink_flits"]
    assert j1 == pytest.approx(once * 1e-12)
    _, _, bare = _model("configs/default.yaml", *_TINY, "tile.dies_x=2")
    assert bare.dielink_pj_per_flit == pytest.approx(64 * 0.5)   # no layer, no CRC
    assert bare.dielink_control_bits == 0 and bare.dielink_control_pj_per_word == 0
    from gen.energy import format_energy
    assert any(line.split()[:3] == ["die-link", "control", "word"] and f"{ctl} bits" in line
               for line in format_energy(cfg, d, m))


def test_one_exec():
    """A P x P x K EXEC of bf16 on one node: P*P*K MACs, the A and B panels' lines read,
    one C tile written."""
    cfg, _, m = _model("configs/default.yaml", *_TINY)
    p, k, width = cfg.node.matrix_p, 32, 64
    steps_per_line = width // (p * 16)
    reads = 2 * k // steps_per_line
    writes = p * p * 32 // width
    j = energy_of(m, {"macs_bf16": p * p * k, "sram_reads": reads, "sram_writes": writes},
                  cycles=0, nodes=0)
    assert j["macs_bf16"] == pytest.approx(p * p * k * 0.3e-12)
    assert j["sram_reads"] == pytest.approx(reads * m.sram_read_pj_per_line * 1e-12)
    assert j["sram_writes"] == pytest.approx(writes * m.sram_write_pj_per_line * 1e-12)


def test_static_power_is_charged_per_node_cycle():
    _, _, m = _model()
    j = energy_of(m, {}, cycles=m.f_hz, nodes=3)          # one second
    assert j["clock"] + j["leakage"] == pytest.approx(3 * m.static_w_per_node)
    with pytest.raises(ValueError, match="unknown energy events"):
        energy_of(m, {"flits": 1}, cycles=0, nodes=0)


def test_peak_power_counts_every_live_node():
    cfg, d, m = _model("configs/d1.yaml")
    watts, per_cycle = peak_power(cfg, d, m)
    nodes = d.die.live_nodes
    assert per_cycle["macs_bf16"] == cfg.node.matrix_units * cfg.node.matrix_p ** 2
    assert watts["macs_bf16"] == pytest.approx(nodes * per_cycle["macs_bf16"] * m.f_hz
                                               * cfg.energy.mac_bf16_pj * 1e-12)
    assert set(watts) <= set(EVENTS) | {"clock", "leakage"}


def test_derive_reports_energy_and_the_published_die(capsys):
    assert main(["derive", "configs/d1.yaml"]) == 0
    out = capsys.readouterr().out
    assert "pJ/B/hop" in out and "vs FlooNoC" in out and "vs published D1" in out
    assert "assumptions" in out and "every MAC" in out and "activity 0.5" in out
    assert main(["derive", "configs/default.yaml", "--json"]) == 0
    e = json.loads(capsys.readouterr().out)["energy"]
    assert e["hop_pj_per_flit"] > 0 and sum(e["die_peak_bf16_w"].values()) > 0


@pytest.mark.parametrize("override, words", [
    ("energy.activity=1.5", ["energy.activity", "1.5", "<= 1"]),
    ("energy.vdd_v=0", ["energy.vdd_v", "0", "> 0"]),
    ("energy.crossbar_layers=0", ["energy.crossbar_layers", ">= 1"]),
    ("energy.picojoules=1", ["energy", "picojoules"]),
])
def test_bad_energy_parameters_are_refused_in_one_line(override, words, capsys):
    assert main(["derive", "configs/default.yaml", "-s", override]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    for w in words:
        assert w in err


def test_a_sweep_point_is_priced_from_its_link_counters():
    """Two nodes, each its own die: the east/west links are die links."""
    from sim.energy import point_energy
    _, _, m = _model("configs/default.yaml", *_TINY)
    result = {"mesh": [2, 1], "nodes": [[0, 0], [1, 0]], "die_shape": [1, 1],
              "dielink": {"ratio": 1}}
    zero = [0, 0]
    point = {"window": 10, "link_flits": {"link.east": [3, 0], "link.west": [0, 2],
                                          "link.north": zero, "link.south": zero,
                                          "link.local": [2, 3]}}
    e = point_energy(result, point, m)
    j = e["joules"]
    assert j["flit_hops"] == 0
    assert j["dielink_flits"] == pytest.approx(5 * m.dielink_pj_per_flit * 1e-12)
    assert j["router_flits"] == pytest.approx(10 * m.router_pj_per_flit * 1e-12)
    static = 2 * m.static_w_per_node * 10 / m.f_hz
    assert j["clock"] + j["leakage"] == pytest.approx(static)
    assert e["delivered_flits"] == 5
    assert e["pj_per_delivered_flit"] == pytest.approx(e["total_j"] * 1e12 / 5)
    assert e["watts"] == pytest.approx(e["total_j"] * m.f_hz / 10)


def test_the_breakdown_plot_is_written(tmp_path):
    from sim.sweep import plot_energy
    joules = {"flit_hops": 2e-12, "router_flits": 1e-12, "dielink_flits": 0.0,
              "clock": 3e-12, "leakage": 1e-12}
    points = [{"offered": r, "energy": {"joules": joules, "delivered_flits": 2, "watts": 1.0}}
              for r in (0.1, 0.2)]
    points.append({"offered": 0.3, "energy": {"joules": joules, "delivered_flits": 0,
                                              "watts": 1.0}})     # nothing delivered: no bar
    plot_energy({"points": points, "mesh": [2, 1], "config": "t", "pattern": "uniform"},
                tmp_path / "energy.png")
    assert (tmp_path / "energy.png").stat().st_size > 1000


def test_a_workload_run_is_priced_from_the_node_counters():
    """Two nodes on two dies of one node each: the east/west flits are die-link flits."""
    from rtl.node.layouts import COUNTER_NAMES
    from sim.energy import run_energy
    _, _, m = _model("configs/default.yaml", *_TINY)
    zero = dict.fromkeys(COUNTER_NAMES, 0)
    counters = {(0, 0): {**zero, "flits_east": 3, "flits_local": 1, "sram_reads": 4,
                         "mac_steps_bf16": 10},
                (1, 0): {**zero, "flits_west": 1, "flits_local": 3, "sram_writes": 2,
                         "mac_steps_int8": 5}}
    e = run_energy(m, counters, die_shape=[1, 1], cycles=100, matrix_p=4, flops=2 * 16 * 10)
    j, pj = e["joules"], 1e-12
    assert j["dielink_flits"] == pytest.approx(4 * m.dielink_pj_per_flit * pj)
    assert j["flit_hops"] == 0
    assert j["router_flits"] == pytest.approx(8 * m.router_pj_per_flit * pj)
    assert j["sram_reads"] == pytest.approx(4 * m.sram_read_pj_per_line * pj)
    assert j["sram_writes"] == pytest.approx(2 * m.sram_write_pj_per_line * pj)
    assert j["macs_bf16"] == pytest.approx(160 * 0.3 * pj)
    assert j["macs_int8"] == pytest.approx(80 * 0.06 * pj)
    assert j["clock"] + j["leakage"] == pytest.approx(2 * m.static_w_per_node * 100 / m.f_hz)
    watts = e["total_j"] * m.f_hz / 100
    assert e["watts"] == pytest.approx(watts)
    assert e["tflops_per_w"] == pytest.approx(320 / (100 / m.f_hz) / 1e12 / watts)


@pytest.mark.parametrize("watts, verdict", [(296.7, "outside"), (330.0, "within"),
                                            (500.0, "within"), (501.0, "outside")])
def test_the_d1_comparison_names_the_contradicted_figure(watts, verdict):
    """Within 25% of the published 400 W: one line; outside: a second line naming the
    published figure the defaults contradict, by how much, and what the model leaves out."""
    from gen.energy import NOT_MODELLED, d1_comparison
    lines = d1_comparison(watts)
    assert f"{watts:.1f} W is {(watts - 400) / 400:+.1%}, {verdict} 25%" in lines[0]
    assert "400 W per die" in lines[0]
    if verdict == "within":
        assert len(lines) == 1
    else:
        assert len(lines) == 2
        assert f"contradict the published 400 W per die by {watts - 400:+.1f} W" in lines[1]
        assert all(part in lines[1] for part in NOT_MODELLED)


def test_derive_states_the_d1_contradiction(capsys):
    """The D1 preset at its defaults (297 W, BENCHMARKS.md): the report says which published
    figure they contradict and by how much."""
    assert main(["derive", "configs/d1.yaml"]) == 0
    out = capsys.readouterr().out
    assert "contradict the published 400 W per die" in out and "outside 25%" in out


def _layer_point():
    """Two nodes, each its own die, joined by one die link each way with the link layer."""
    result = {"mesh": [2, 1], "nodes": [[0, 0], [1, 0]], "die_shape": [1, 1]}
    zero = [0, 0]
    point = {"window": 10, "link_flits": {"link.east": [3, 0], "link.west": [0, 2],
                                          "link.north": zero, "link.south": zero,
                                          "link.local": [2, 3]},
             "dielink": {"totals": {"sent": 30, "replayed_flits": 6, "window_sent": 7,
                                    "window_replayed": 2, "window_control": 11}}}
    return result, point


def test_a_point_prices_the_windows_die_link_codewords_and_control_words():
    """In the window the two links sent 7 codewords, 2 of them replays (30 and 6 over the
    whole point, which are not priced), and 11 control words with news: the window's energy
    per delivered flit includes them, in place of the 5 die-link flits the routers sent."""
    from sim.energy import point_counts, point_energy
    _, d, m = _model("configs/default.yaml", *_TINY, "tile.dies_x=2",
                     "dielink.link_layer=true")
    layer = d.dielink.link_layer
    result, point = _layer_point()
    c = point_counts(result, point, m)
    assert c == {"flit_hops": 0, "dielink_flits": 5, "router_flits": 10, "delivered_flits": 5,
                 "dielink_codewords": 7, "dielink_replayed": 2,
                 "dielink_lane_bits": 7 * layer["wire_bits"],
                 "dielink_crc_bits": 7 * layer["crc_bits"],
                 "dielink_control_words": 11,
                 "dielink_control_bits": 11 * layer["reverse_bits"]}
    e = point_energy(result, point, m)
    once = layer["wire_bits"] * (0.5 + 2e-3)              # pJ: the PHY and the CRC per bit
    word = layer["reverse_bits"] * (0.5 + 2e-3)
    j = e["joules"]
    assert j["dielink_codewords"] == pytest.approx(7 * once * 1e-12)
    assert j["dielink_control_words"] == pytest.approx(11 * word * 1e-12)
    assert j["dielink_flits"] == 0                        # not paid twice
    assert e["replay_j"] == pytest.approx(2 * once * 1e-12)
    routers = 10 * m.router_pj_per_flit
    static = 2 * m.static_w_per_node * 10 / m.f_hz * 1e12
    total = 7 * once + 11 * word + routers + static
    assert e["total_j"] == pytest.approx(total * 1e-12)
    assert e["pj_per_delivered_flit"] == pytest.approx(total / 5)
    assert e["counts"] == c


def test_a_point_without_the_link_layer_has_no_codeword_counts():
    from sim.energy import point_counts
    _, _, m = _model("configs/default.yaml", *_TINY)
    result, point = _layer_point()
    del point["dielink"]
    assert set(point_counts(result, point, m)) == {"flit_hops", "dielink_flits",
                                                    "router_flits", "delivered_flits"}


def test_counts_that_cannot_be_priced_are_refused_in_one_line():
    from rtl.node.layouts import COUNTER_NAMES
    from sim.energy import point_energy, run_energy
    _, _, m = _model("configs/default.yaml", *_TINY)
    result, point = _layer_point()
    point["link_flits"] = {}
    with pytest.raises(ValueError) as err:
        point_energy(result, point, m)
    assert len(str(err.value).splitlines()) == 1 and "no link counters" in str(err.value)
    counters = {(0, 0): {k: 0 for k in COUNTER_NAMES if k != "sram_reads"}}
    with pytest.raises(ValueError) as err:
        run_energy(m, counters, die_shape=None, cycles=10, matrix_p=4)
    assert str(err.value) == "run_energy: the counters of node (0, 0) lack sram_reads"


def test_the_workload_breakdown_plot_is_written(tmp_path):
    from sim.energy import plot_workload_energy
    joules = {"macs_bf16": 2e-9, "sram_reads": 1e-9, "flit_hops": 0.5e-9, "clock": 3e-9,
              "leakage": 1e-9}
    runs = [("GEMM", {"joules": joules, "watts": 1.5}), ("ring", {"joules": joules,
                                                                  "watts": 2.0})]
    plot_workload_energy(runs, tmp_path / "w.png", "t")
    assert (tmp_path / "w.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="at least one run"):
        plot_workload_energy([], tmp_path / "none.png", "t")
