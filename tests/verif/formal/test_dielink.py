"""Formal proof of the die-link layer (verif/formal/dielink.py) with SymbiYosys from pip.

The proof must pass by k-induction (order, credits, progress and the invariants) against a
channel that may corrupt any codeword or control word, a replay must be coverable, and the
link whose replay starts one codeword late must fail with a real counterexample (it
deadlocks: the receiver waits for a flit that is never resent).
"""

import pytest

from tests.verif.formal import PROOF

formal = pytest.importorskip("verif.formal.dielink")

pytestmark = PROOF


def test_dielink_proof(tmp_path):
    """k = 17: the depth whose induction step closes (16 assumed cycles; at k = 22 it
    passed at its step 6); k = 22 only added base-case cycles 17 to 21."""
    r = formal.prove_dielink(k=17, out_dir=tmp_path)
    assert r["prove"] == "PASS", r["log_tail"]
    assert r["cover"] == "PASS", r["log_tail"]          # a replay happens, then a delivery
    assert set(r["checks"]) == set(formal.CHECKS)


def test_replay_pointer_off_by_one_fails(tmp_path):
    r = formal.prove_dielink(k=30, mutation="replay_off_by_one", checks=["progress"],
                             mode="bmc", out_dir=tmp_path)
    assert r["prove"] == "FAIL", r["log_tail"]
    assert r["counterexample"] and r["failed"] == ["progress"], r["log_tail"]


def test_rejects_unknown_names():
    with pytest.raises(ValueError, match="mutation must be one of"):
        formal.DieLinkFormal(mutation="nope")
    with pytest.raises(ValueError, match="checks must be among"):
        formal.DieLinkFormal(checks=["nope"])
