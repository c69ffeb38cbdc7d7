"""The energy section's workload tables (``dojo.bench``): a row has the header's columns,
and the die-link column adds the link layer's codewords and control words."""

import pytest

from dojo.bench import _energy_head, _energy_row


def _cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


@pytest.mark.parametrize("unit, scale", [("uJ", 1e-6), ("mJ", 1e-3)])
def test_a_workload_row_has_the_headers_columns_and_prices_the_die_links(unit, scale):
    joules = {"macs_bf16": 2e-9, "sram_reads": 1e-9, "sram_writes": 1e-9, "flit_hops": 3e-9,
              "router_flits": 4e-9, "dielink_flits": 0.0, "dielink_codewords": 5e-9,
              "dielink_control_words": 1e-9, "clock": 7e-9, "leakage": 8e-9}
    en = {"joules": joules, "total_j": sum(joules.values()), "watts": 1.5,
          "tflops_per_w": None}
    head, rule = _energy_head(unit, " wall |")
    row = _energy_row("ring", "32 lines", "fp32", 100, en, unit=scale, extra=" 3 s |")
    cells = dict(zip(_cells(head), _cells(row)))
    assert len(_cells(head)) == len(_cells(row)) == len(_cells(rule))
    sub = {"uJ": "nJ", "mJ": "uJ"}[unit]
    assert float(cells[f"energy ({unit})"]) == pytest.approx(en["total_j"] / scale, rel=1e-3)
    assert float(cells[f"die links ({sub})"]) == pytest.approx(6e-9 / scale * 1e3)
    assert float(cells[f"SRAM ({sub})"]) == pytest.approx(2e-9 / scale * 1e3)
    assert cells["TFLOPS/W"] == "-" and cells["wall"] == "3 s"
