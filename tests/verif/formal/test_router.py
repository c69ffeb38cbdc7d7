"""Formal proof of the router (verif/formal/router.py) with SymbiYosys from pip.

The proof must pass (k-induction, every property group) and every output must be
coverable; deliberately broken routers must fail with a real counterexample
trace on the property they break, so the properties are known to bite.
"""

import pytest

from tests.verif.formal import PROOF

formal = pytest.importorskip("verif.formal.router")
lookup = pytest.importorskip("verif.formal.routing_table")

pytestmark = PROOF


def test_router_proof_1vc(tmp_path):
    """Every property group by k-induction (unbounded). k = 3: the induction step closes
    with two assumed cycles (at k = 4 it passed at its step 2 of 4); k = 4 only added a
    base case to cycle 3."""
    r = formal.prove_router(vcs=1, depth=2, k=3, out_dir=tmp_path)
    assert r["prove"] == "PASS", r["log_tail"]
    assert r["cover"] == "PASS", r["log_tail"]         # not vacuous: every output carries a flit
    assert set(r["checks"]) == set(formal.CHECKS)


@pytest.mark.parametrize("mutation, check", [
    ("swap_north_south", "xy_route"),
    ("extra_credit", "credit_respected"),
])
def test_mutated_router_fails(tmp_path, mutation, check):
    r = formal.prove_router(vcs=1, depth=2, k=6, mutation=mutation, checks=[check],
                            mode="bmc", out_dir=tmp_path)
    assert r["prove"] == "FAIL", r["log_tail"]
    assert r["counterexample"], r["log_tail"]
    assert r["failed"] == [check]


def test_properties_hold_alone_on_the_real_router(tmp_path):
    """The two checks the mutations break hold on the real router, in the same harness
    with only those checks, over the cycles where the mutations fail (steps 0-3: their
    counterexamples end at step 1 and step 3). Every later cycle is test_router_proof_1vc's
    unbounded proof (the same harness and assumptions; ``checks`` only drops assertions).
    Step 4 of a 5-cycle BMC was 28 of its 30 s and added nothing that proof lacks."""
    r = formal.prove_router(vcs=1, depth=2, k=4, checks=["xy_route", "credit_respected"],
                            mode="bmc", out_dir=tmp_path)
    assert r["prove"] == "PASS" and not r["counterexample"], r["log_tail"]


def test_rejects_unknown_names():
    with pytest.raises(ValueError, match="mutation must be one of"):
        formal.RouterFormal(mutation="nope")
    with pytest.raises(ValueError, match="checks must be among"):
        formal.RouterFormal(checks=["nope"])


def test_table_router_bounded_proof(tmp_path):
    """The table router for any table contents (verif.formal.router.FreeTableRouter: the
    real router with the lookup's port index a free function of the destination):
    every property group in every state of the first 4 cycles, from reset (BMC; about
    a minute). The unbounded k-induction proof of the same harness takes longer than a
    test may (``make formal``; docs/verification.md)."""
    r = formal.prove_router(vcs=1, depth=2, k=4, routing="table", mode="bmc",
                            out_dir=tmp_path)
    assert r["prove"] == "PASS", r["log_tail"]
    assert r["cover"] == "PASS", r["log_tail"]
    assert set(r["checks"]) == set(formal.CHECKS)


def test_mutant_table_fails(tmp_path):
    """A router that reads the table entry of another destination breaks table_route
    with a real counterexample."""
    r = formal.prove_router(vcs=1, depth=2, k=4, mutation="mutant_table",
                            checks=["table_route"], mode="bmc", routing="table",
                            out_dir=tmp_path)
    assert r["prove"] == "FAIL", r["log_tail"]
    assert r["counterexample"], r["log_tail"]
    assert r["failed"] == ["table_route"]


def test_table_router_with_vc_planes_proof(tmp_path):
    """VC planes: the 2-VC table router whose entries are a free function of the
    destination and the VC; every property group by k-induction (unbounded). k = 3: the
    induction step closes with two assumed cycles (at k = 4 it passed at its step 2 of 4),
    so k = 4 only added a base case to cycle 3, a third of the CPU time."""
    r = formal.prove_router(vcs=2, depth=2, k=3, routing="table", planes=True,
                            out_dir=tmp_path)
    assert r["prove"] == "PASS", r["log_tail"]
    assert r["cover"] == "PASS", r["log_tail"]
    assert set(r["checks"]) == set(formal.CHECKS)


def test_router_that_ignores_the_vc_plane_fails(tmp_path):
    """A router that reads VC 0's tables for every flit breaks table_route."""
    r = formal.prove_router(vcs=2, depth=2, k=3, mutation="vc_ignored", checks=["table_route"],
                            mode="bmc", routing="table", planes=True, out_dir=tmp_path)
    assert r["prove"] == "FAIL", r["log_tail"]
    assert r["counterexample"], r["log_tail"]
    assert r["failed"] == ["table_route"]


def test_vc_planes_need_the_table_router_and_two_vcs():
    with pytest.raises(ValueError, match="VC planes need routing 'table' and at least 2 VCs"):
        formal.RouterFormal(vcs=2, planes=True)
    with pytest.raises(ValueError, match="VC planes need routing 'table' and at least 2 VCs"):
        formal.RouterFormal(vcs=1, routing="table", planes=True)
    with pytest.raises(ValueError, match="mutation 'vc_ignored' needs VC planes"):
        formal.RouterFormal(vcs=2, routing="table", mutation="vc_ignored")


# the other half: the real lookup is the combine rule of what was written
@pytest.mark.parametrize("shape", [(2, 1, 1, 2), (3, 2, 2, 3), (1, 1, 3, 2),
                                   (2, 1, 1, 2, 2), (1, 1, 3, 2, 3)],
                         ids=lambda s: "x".join(map(str, s)))
def test_table_lookup_proof(tmp_path, shape):
    r = lookup.prove_table_lookup(shape=shape, out_dir=tmp_path)
    assert r["prove"] == "PASS", r["log_tail"]
    assert r["cover"] == "PASS", r["log_tail"]           # every port can be looked up


def test_table_lookup_with_a_swapped_shape_fails(tmp_path):
    r = lookup.prove_table_lookup(shape=(3, 2, 2, 3), mutation="swapped_shape", mode="bmc",
                                  k=3, out_dir=tmp_path)
    assert r["prove"] == "FAIL", r["log_tail"]
    assert r["counterexample"], r["log_tail"]
    assert r["failed"] == ["lookup"]


def test_table_lookup_that_ignores_the_vc_fails(tmp_path):
    """VC planes: a lookup that reads VC 0's tables for every flit breaks lookup."""
    r = lookup.prove_table_lookup(shape=(2, 1, 1, 2, 2), mutation="vc_ignored", mode="bmc",
                                  k=2, out_dir=tmp_path)
    assert r["prove"] == "FAIL", r["log_tail"]
    assert r["counterexample"], r["log_tail"]
    assert r["failed"] == ["lookup"]


def test_table_mutation_needs_table_routing():
    with pytest.raises(ValueError, match="mutation 'mutant_table' does not apply to routing 'xy'"):
        formal.RouterFormal(mutation="mutant_table")
