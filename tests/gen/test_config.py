"""Config validation: every error path names the key, the value and what is allowed."""

import subprocess
import sys

import pytest

from gen.config import ConfigError, config_from_dict, load_config, parse_override
from tests.conftest import CONFIGS, ROOT


def problems(raw, overrides=()):
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw, overrides)
    return info.value.problems


def test_defaults_fill_missing_keys():
    cfg = config_from_dict({"name": "tiny"})
    assert cfg.router.routing == "xy"
    assert cfg.die.nodes_x is None
    assert cfg.raw["traffic"]["timestamp_bits"] == 16


@pytest.mark.parametrize("section, key, value, expect", [
    ("router", "vcs", 5, "router.vcs: 5 is not allowed: must be an integer >= 1 and <= 4"),
    ("router", "vcs", 0, "router.vcs: 0 is not allowed: must be an integer >= 1 and <= 4"),
    ("router", "vcs", "two", "router.vcs: 'two' is not allowed: must be an integer >= 1 and <= 4"),
    ("router", "vcs", 2.5, "router.vcs: 2.5 is not allowed: must be an integer >= 1 and <= 4"),
    ("router", "routing", "zigzag", "router.routing: 'zigzag' is not allowed: must be one of 'xy', 'yx', 'table'"),
    ("clock", "f_ghz", 0, "clock.f_ghz: 0 is not allowed: must be a number > 0 and <= 20"),
    ("clock", "f_ghz", -1, "clock.f_ghz: -1 is not allowed: must be a number > 0 and <= 20"),
    ("wire", "model", "spice", "wire.model: 'spice' is not allowed: must be one of 'given', 'rc'"),
    ("die", "nodes_x", 0, "die.nodes_x: 0 is not allowed: must be null or an integer >= 1 and <= 64"),
    ("router", "allow_shallow_buffers", "yes", "router.allow_shallow_buffers: 'yes' is not allowed: must be true or false"),
])
def test_schema_errors_name_key_value_and_allowed(base_raw, section, key, value, expect):
    base_raw[section][key] = value
    assert problems(base_raw) == [expect]


def test_unknown_keys_listed_with_allowed(base_raw):
    base_raw["router"]["vc_count"] = 2
    base_raw["colour"] = "red"
    out = problems(base_raw)
    assert len(out) == 2
    assert out[0].startswith("colour: unknown key (allowed: clock, die, dielink, energy, name, node,")
    assert out[1].startswith("router.vc_count: unknown key (allowed: allow_shallow_buffers, buffer_depth,")


def test_section_must_be_mapping(base_raw):
    base_raw["router"] = 3
    assert problems(base_raw) == ["router: 3 is not allowed: must be a mapping"]


def test_several_problems_reported_together(base_raw):
    base_raw["router"]["vcs"] = 9
    base_raw["tile"]["dies_x"] = 0
    assert problems(base_raw) == [
        "router.vcs: 9 is not allowed: must be an integer >= 1 and <= 4",
        "tile.dies_x: 0 is not allowed: must be an integer >= 1 and <= 16",
    ]


def test_sram_banks(base_raw):
    base_raw["node"]["sram_banks"] = 3
    assert problems(base_raw) == [
        "node.sram_banks: 3 is not allowed: must be one of 1, 2, 4"]
    base_raw["node"].update(sram_banks=4, sram_kb=0.0234375)      # 3 lines of 64 bits
    assert problems(base_raw) == [
        "node.sram_banks: 4 is not allowed: the 3 lines of node.sram_kb=0.0234375 do not "
        "split into 4 equal banks (use 1)"]


def test_flit_too_narrow_for_head_fields(base_raw):
    base_raw["router"]["flit_bits"] = 32
    assert problems(base_raw) == [
        "router.flit_bits: 32 is not allowed: must be at least 58 to hold the head fields of a "
        "4x4 mesh (3-bit coordinates, 16-bit timestamps)"]


def test_buffer_shallower_than_credit_round_trip(base_raw):
    base_raw["router"]["buffer_depth"] = 2
    assert problems(base_raw) == [
        "router.buffer_depth: 2 is not allowed: the credit round trip is 3 cycles (0 link "
        "pipeline stages), so a VC needs at least 3 flits for full link rate "
        "(or set router.allow_shallow_buffers: true)"]
    base_raw["router"]["allow_shallow_buffers"] = True
    assert config_from_dict(base_raw).router.buffer_depth == 2


def test_pipelined_links_need_deeper_buffers(base_raw):
    base_raw["node"]["pitch_mm"] = 2.0        # reach is 1.26 mm -> 1 pipeline stage, RTT 5
    base_raw["die"]["edge_mm"] = 6.0
    out = problems(base_raw)
    assert len(out) == 1 and "credit round trip is 5 cycles (1 link pipeline stages)" in out[0]


def test_router_logic_longer_than_cycle(base_raw):
    base_raw["clock"]["t_router_ps"] = 450
    assert problems(base_raw) == [
        "clock.t_router_ps: 450 is not allowed: with flop overhead 90 ps it leaves no wire time "
        "in the 500 ps cycle (must be < 410)"]


def test_die_too_small_and_too_many_spares(base_raw):
    base_raw["die"]["edge_mm"] = 2.0
    assert problems(base_raw) == [
        "die.edge_mm: 2.0 is not allowed: the usable edge 0.8 mm fits no node of pitch 1.26 mm"]
    base_raw["die"]["edge_mm"] = 3.8
    base_raw["die"]["spare_rows"] = 2
    assert problems(base_raw) == [
        "die.spare_rows: 2 is not allowed: must be below the 2 nodes that fit on a die edge"]


@pytest.mark.parametrize("text, path, value", [
    ("router.vcs=2", ["router", "vcs"], 2),
    ("die.nodes_x=6", ["die", "nodes_x"], 6),
    ("node.pitch_mm=1.5", ["node", "pitch_mm"], 1.5),
    ("node.pitch_mm=null", ["node", "pitch_mm"], None),
    ("router.routing=yx", ["router", "routing"], "yx"),
    ("router.allow_shallow_buffers=true", ["router", "allow_shallow_buffers"], True),
    ("name=my run", ["name"], "my run"),
])
def test_parse_override(text, path, value):
    assert parse_override(text) == (path, value)


@pytest.mark.parametrize("text", ["router.vcs", "=3", "router.vcs=[1"])
def test_bad_override_syntax(text):
    with pytest.raises(ConfigError) as info:
        parse_override(text)
    assert len(info.value.problems) == 1 and "override" in info.value.problems[0]


def test_overrides_go_through_validation():
    cfg = load_config(CONFIGS / "default.yaml", ["router.vcs=3", "die.nodes_x=3"])
    assert cfg.router.vcs == 3 and cfg.die.nodes_x == 3
    with pytest.raises(ConfigError) as info:
        load_config(CONFIGS / "default.yaml", ["router.vcs=7", "router.bogus=1"])
    assert info.value.problems == [
        "router.bogus: unknown key (allowed: allow_shallow_buffers, buffer_depth, flit_bits, "
        "max_packet_flits, routing, table_base, vc_planes, vcs)",
        "router.vcs: 7 is not allowed: must be an integer >= 1 and <= 4"]


def test_override_into_non_section():
    with pytest.raises(ConfigError) as info:
        load_config(CONFIGS / "default.yaml", ["name.x=1"])
    assert info.value.problems == ["override name.x: name is not a section"]


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert "cannot read" in info.value.problems[0]
    bad = tmp_path / "bad.yaml"
    bad.write_text("router: {vcs: 2\n")
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    assert "invalid YAML" in info.value.problems[0]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "dojo", *args], cwd=ROOT, capture_output=True,
                          text=True)


def test_cli_bad_config_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("router:\n  vcs: 9\n  depth: 4\n")
    res = run_cli("derive", str(bad))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert res.stderr.splitlines() == [
        "error: router.depth: unknown key (allowed: allow_shallow_buffers, buffer_depth, "
        "flit_bits, max_packet_flits, routing, table_base, vc_planes, vcs)",
        "error: router.vcs: 9 is not allowed: must be an integer >= 1 and <= 4"]


def test_cli_bad_override_exits_2():
    res = run_cli("derive", "configs/default.yaml", "-s", "router.flit_bits=16")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.startswith("error: router.flit_bits: 16 is not allowed: must be at least 58")


@pytest.mark.parametrize("text, line", [
    ("", "empty (no sections)"),
    ("# a comment, no sections\n", "empty (no sections)"),
    ("name: x\nrouter:\n  vcs: 2\n  buffer_depth: 4\n  vcs: 1\n",
     "line 5: key 'vcs' given twice (first on line 3); allowed: each key once per section"),
    ("name: x\nname: y\n", "line 2: key 'name' given twice (first on line 1)"),
])
def test_empty_file_and_duplicate_keys_are_refused(tmp_path, text, line):
    """An empty file used to run as "unnamed" on the defaults, and a key given twice kept
    its last value without a word."""
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problem, = info.value.problems
    assert problem.startswith(f"config {str(path)!r}") and line in problem


def test_yaml_merge_keys_may_still_be_overridden(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: merged\nrouter: &r\n  vcs: 1\n  buffer_depth: 4\n"
                    "traffic:\n  enable: true\n")
    assert load_config(path).router.vcs == 1
    assert parse_override("router={<<: {vcs: 1}, vcs: 2}") == (["router"], {"vcs": 2})
    with pytest.raises(ConfigError, match=r"override router: cannot parse value .*\(key 'vcs' "
                                          r"given twice"):
        parse_override("router={vcs: 1, vcs: 2}")
