"""The command line: verilog emission (determinism, hierarchy, manifest) and sweeps."""

import json
import subprocess
import sys

import pytest

from tests.conftest import CONFIGS, ROOT

#: a test whose ``dojo`` subprocess runs the fast model: it starts once the numba warm-up is
#: done (tests/conftest.py); the others (derive, verilog, refused arguments) do not wait
MODEL = pytest.mark.model_in_subprocess

SMALL = ["-s", "tile.dies_x=1", "-s", "tile.dies_y=1", "-s", "die.nodes_x=3", "-s", "die.nodes_y=3"]


def dojo(*args):
    res = subprocess.run([sys.executable, "-m", "dojo", *args], cwd=ROOT, capture_output=True,
                         text=True)
    assert "Traceback" not in res.stderr, res.stderr
    return res


def test_derive_json_has_the_promised_keys():
    res = dojo("derive", "configs/d1.yaml", "--json")
    assert res.returncode == 0
    d = json.loads(res.stdout)
    for section, key in [("node", "reach_mm"), ("node", "pitch_mm"), ("link", "pipeline_stages"),
                         ("die", "nodes_x"), ("die", "nodes_y"), ("die", "nodes"),
                         ("die", "peak_bf16_tflops"), ("die", "sram_mb"), ("die", "bisection_tbps"),
                         ("tile", "dies"), ("tile", "peak_bf16_pflops")]:
        assert isinstance(d[section][key], (int, float)), (section, key)


def test_derive_report_compares_d1_with_published():
    res = dojo("derive", "configs/d1.yaml")
    assert res.returncode == 0
    assert "published D1 / tile vs derived" in res.stdout
    rows = {line.split()[0]: line.split()[1:] for line in res.stdout.splitlines()
            if line.startswith("  die.") or line.startswith("  tile.")}
    assert rows["die.live_nodes"][:2] == ["354", "354"]          # published, derived
    assert "tile.bisection_tbps_per_dir" in rows
    assert "faults and yield" in res.stdout and "yield with 7 spares" in res.stdout


@pytest.mark.slow
def test_verilog_is_deterministic_and_hierarchical(tmp_path, monkeypatch):
    # both runs convert with Yosys (the suite's shared cache of its output, gen.emit, off)
    monkeypatch.setenv("DOJO_YOSYS_CACHE", "")
    outs = []
    for run in range(2):
        res = dojo("verilog", "configs/default.yaml", "--top", "noc", "-o", str(tmp_path / str(run)),
                   "-s", "die.nodes_x=3", "-s", "die.nodes_y=2")
        assert res.returncode == 0, res.stderr
        outs.append((tmp_path / str(run) / "dojo_noc.v").read_bytes())
    assert outs[0] == outs[1]
    text = outs[0].decode()
    # a 6x4 global mesh of 24 nodes, 2x2 dies of 3x2: the node module is emitted once
    # and instantiated 6 times in the die module, which the tile instantiates 4 times
    assert text.count("module dojo_traffic_node(") == 1
    assert text.count("module dojo_die_traffic(") == 1
    assert text.count("dojo_traffic_node node_") == 6
    assert text.count("dojo_die_traffic die_") == 4
    man = json.loads((tmp_path / "0" / "dojo_noc.json").read_text())
    assert man["generator_version"] and man["params"]["config"]["die"]["nodes_x"] == 3
    names = {p["name"]: p for p in man["ports"]}
    assert names["stat_data"] == {"name": "stat_data", "direction": "output", "width": 32,
                                  "role": "statistics: selected word"}
    assert names["clk"]["role"] == "clock" and names["rst"]["direction"] == "input"
    assert all(p["role"] for p in man["ports"])


@pytest.mark.slow
@MODEL
def test_sweep_writes_json_and_plots(tmp_path):
    res = dojo("sweep", "configs/default.yaml", *SMALL, "--rates", "0.05,0.9", "--pattern",
               "transpose", "--warmup", "200", "--measure", "600", "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    sweep = json.loads((tmp_path / "sweep.json").read_text())
    assert [p["offered"] for p in sweep["points"]] == [0.05, 0.9]
    assert sweep["channel_load_bound"] == 0.5               # transpose on 3x3 (see test_sweep)
    assert 0 < sweep["saturation_throughput"] <= 0.9
    assert all(p["drained"] and not any(p["errors"].values()) for p in sweep["points"])
    for name in ("sweep.png", "heatmap.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_bad_rates_and_packet_length_exit_2():
    res = dojo("sweep", "configs/default.yaml", "--rates", "0.5:0.1:0.1")
    assert res.returncode == 2 and res.stderr.startswith("error: --rates '0.5:0.1:0.1'")
    res = dojo("sweep", "configs/default.yaml", "--rates", "0.1", "--packet-len", "99")
    assert res.returncode == 2 and "--packet-len 99" in res.stderr


def test_bad_workload_arguments_are_rejected_before_any_report(tmp_path):
    """No derivation report, no warning: only the error, exit 2."""
    for args, message in ((("--bench", "gemm", "--k", "3"), "error: gemm: k=3: must be a "
                                                              "positive multiple of node.matrix_p=4"),
                          (("--bench", "allreduce", "--lines", "17"),
                           "error: allreduce --algo host: lines=17"),
                          (("--bench", "allreduce", "--algo", "2d", "--lines", "1021"),
                           "error: allreduce --algo 2d: lines=1021: 256 lines per chunk over "
                           "the 4 nodes of a row, at most 255"),
                          (("--bench", "gemm", "--algo", "ring"),
                           "error: --algo ring: not allowed with --bench gemm"),
                          (("--bench", "gemm", "--algo", "cannon", "--k", "24"),
                           "error: gemm --algo cannon: k=24"),
                          (("--bench", "gemm", "--algo", "summa", "--k", "24"),
                           "error: gemm --algo summa: k=24"),
                          (("--bench", "all", "--m", "100"), "error: gemm: m=100")):
        res = dojo("sim", "configs/default.yaml", *args, "--out", str(tmp_path))
        assert res.returncode == 2, res.stderr
        assert res.stdout == ""
        assert res.stderr.startswith(message) and len(res.stderr.splitlines()) == 1, res.stderr


@MODEL
def test_model_engine_sweep_writes_the_same_reports(tmp_path):
    res = dojo("sweep", "configs/default.yaml", *SMALL, "--rates", "0.05,0.9", "--engine",
               "model", "--warmup", "200", "--measure", "600", "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    sweep = json.loads((tmp_path / "sweep.json").read_text())
    assert sweep["engine"] == "model" and sweep["simulator"] is None
    assert all(p["drained"] and not any(p["errors"].values()) for p in sweep["points"])
    assert "(fast model)" in res.stdout
    for name in ("sweep.png", "heatmap.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    res = dojo("sweep", "configs/default.yaml", "--engine", "booksim")
    assert res.returncode == 2 and "--engine" in res.stderr


@pytest.mark.slow
@MODEL
def test_sim_runs_summa_where_cannon_cannot(tmp_path):
    """On a 4x2 grid the default GEMMs are the host-driven one and SUMMA (bit-exact)."""
    res = dojo("sim", "configs/default.yaml", "-s", "tile.dies_y=1", "--bench", "gemm",
               "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert "node-driven SUMMA, resident operands: bit-exact vs golden" in res.stdout
    assert json.loads((tmp_path / "summa" / "result.json").read_text())["match"]


def test_sim_refuses_workloads_that_would_address_disabled_nodes():
    """Checked before the derivation report: only the host GEMM, the ring, the broadcast
    and traffic honour a fault map on training nodes (--bench gemm also runs Cannon)."""
    res = dojo("sim", "configs/default.yaml", "-s", "die.disabled_nodes=[[1, 0]]",
               "--bench", "gemm", "--out", "build/test_cli_faults")
    assert res.returncode == 2
    assert "error: die.disabled_nodes: gemm --algo cannon cannot run with 4 disabled nodes: " \
           "it addresses every node" in res.stderr
    assert "allowed: --bench traffic, or with disabled nodes only --bench gemm --algo host" \
        in res.stderr
    assert "--bench broadcast" in res.stderr
    assert "derivation" not in res.stdout.lower() and res.stdout.strip() == ""


@pytest.mark.parametrize("command", [
    ["verilog", str(CONFIGS / "default.yaml"), "--top", "router"],
    ["lint", str(CONFIGS / "default.yaml"), "--top", "router"],
    ["fpga", str(CONFIGS / "fpga.yaml"), "--synth-only"],
    ["sim", str(CONFIGS / "default.yaml"), "--bench", "traffic", "--engine", "model"],
    ["sweep", str(CONFIGS / "default.yaml"), "--engine", "model", "--rates", "0.1", "--warmup", "10",
     "--measure", "50"],
    ["explore", str(CONFIGS / "default.yaml"), "--engine", "model", "--rates", "0.1", "--warmup", "10",
     "--measure", "50", "--workers", "1"],
])
@pytest.mark.parametrize("where", ["file", "under a file"])
def test_an_output_path_on_a_file_is_refused_before_any_work(command, where, tmp_path, capsys):
    """Every command checks --out/-o first: one line naming the option, the value and what
    is allowed, exit 2, nothing written (not a traceback after the whole simulation)."""
    from dojo.cli import main
    blocker = tmp_path / "taken"
    blocker.write_text("a file\n")
    out = blocker if where == "file" else blocker / "run" / "reports"
    assert main([*command, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    what = "is a file" if where == "file" else f"lies under {str(blocker)!r}, a file"
    assert err == (f"error: --out {out}: {what}; allowed: a directory, existing or to be "
                   f"created (no file on the path), writable\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_sim_c_out_must_be_a_file_in_an_existing_directory(tmp_path, capsys):
    from dojo.cli import main
    args = ["sim", str(CONFIGS / "default.yaml"), "--bench", "gemm", "--out", str(tmp_path / "run")]
    assert main([*args, "--c-out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (f"error: --c-out {tmp_path}: is a directory; allowed: "
                                       f"a file name (.npy) in an existing, writable "
                                       f"directory\n")
    assert main([*args, "--c-out", str(tmp_path / "no" / "c.npy")]) == 2
    assert f"--c-out {tmp_path / 'no' / 'c.npy'}: {str(tmp_path / 'no')!r} is not a " \
           f"directory" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_derive_refuses_a_map_that_cuts_the_mesh_like_sweep(tmp_path, capsys):
    """The derivation of a fault map whose dead routers cut the mesh is refused with the
    sweep's line (one check, gen.routing.cut_problem), not a report of 62 live nodes."""
    from dojo.cli import main
    cut = ["-s", "router.routing=table", "-s", "die.dead_routers=[[1,0],[0,1]]"]
    line = ("error: die.dead_routers: the fault map cannot be routed: the mesh is cut: live "
            "router (0, 0) cannot reach the other 61 live routers (e.g. (2, 0)); allowed: dead "
            "routers that leave every live router connected\n")
    noc = str(CONFIGS / "noc8x8.yaml")
    for args in (["derive", noc, *cut], ["derive", noc, *cut, "--json"],
                 ["sweep", noc, *cut, "--engine", "model", "--rates", "0.1", "--out",
                  str(tmp_path)],
                 ["sim", noc, *cut, "--bench", "traffic", "--engine", "model", "--out",
                  str(tmp_path)]):
        assert main(args) == 2
        out, err = capsys.readouterr()
        assert (out, err) == ("", line)
    assert main(["derive", noc, "-s", "router.routing=table", "-s",
                 "die.dead_routers=[[1,0]]"]) == 0
    assert "63 live of 64" in capsys.readouterr().out


def test_a_closed_output_pipe_ends_quietly():
    """``dojo derive ... | head -1``: no BrokenPipeError traceback when the reader stops."""
    import subprocess
    import sys
    from tests.conftest import CONFIGS
    proc = subprocess.Popen([sys.executable, "-m", "dojo", "derive", str(CONFIGS / "d1.yaml")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()                  # the reader goes away after one line
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
