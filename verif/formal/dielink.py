"""Formal proof of the die-link layer (SymbiYosys, k-induction) on a small parameterisation.

The design seen by the solver is the real :class:`rtl.fabric.dielink_layer.ReliableDieLinkChannel`
(1 VC, 4-bit flits, ratio 1, latency 0, CRC-8, replay buffer 4, 3-bit ``seq``); a subclass
replaces the injectors' decisions by free inputs, so **any** codeword and **any** control
word may be corrupted in any cycle (a single flipped bit: the CRC detects it, detection is
perfect). The sender sends whenever it likes and has a credit; flit ``n`` carries ``n mod 16``
(``last`` = its bit 0); the receiver returns its credits whenever it likes.

What is proved (``mode prove``: BMC base case plus k-induction, for every reachable state):

``order``
    Every flit on ``o`` is the next one the sender sent: nothing lost, duplicated,
    reordered or modified, whatever is corrupted.
``credits``
    The TX buffer never overflows; the link never sends more flits to the receiver than it
    has credits for; the sender's credit counter, the TX buffer and the credit in flight
    always sum to the TX depth.
``progress``
    No deadlock of the credit / replay interplay: once nothing is corrupted and the
    receiver returns its credits, a flit the sender has sent is delivered within
    ``timeout + 8`` cycles (a lost NAK or ACK ends by timeout, then the replay delivers).
``invariant``
    The internal invariants that make the others inductive (shadow counters of flits
    taken, accepted, popped and credited; the contents of the TX, replay and RX buffers
    and of the codeword on the wire), proved too.

Covers (``mode cover``): a replay after which a flit is delivered.

:data:`MUTATIONS`: ``replay_off_by_one`` (the replay starts one codeword after the oldest
unacknowledged one) must fail (``tests/verif/formal/test_dielink.py``).
"""

import sys

from amaranth.asserts import AnySeq
from amaranth.hdl import Cat, Const, Cover, Module, Mux, ResetSignal, Signal

from rtl.fabric.dielink_layer import ReliableDieLinkChannel
from verif.formal.harness import Harness
from verif.formal.sby import run_proof

__all__ = ["CHECKS", "MUTATIONS", "ProbedDieLink", "DieLinkFormal", "prove_dielink"]

CHECKS = ("order", "credits", "progress", "invariant")
MUTATIONS = ("replay_off_by_one",)

F = 4                   # flit bits: flit n carries n mod 16
C = 4                   # shadow counter width (mod 16)


class ProbedDieLink(ReliableDieLinkChannel):
    """The real link; the corruption of each codeword and control word is a free input."""

    def __init__(self, *, mutation=None, **kw):
        super().__init__(**kw)
        self._mutation = mutation
        self.corrupt_fwd = Signal(name="corrupt_fwd")
        self.corrupt_rev = Signal(name="corrupt_rev")

    def _errors(self, m, fwd_draw, rev_draw):
        m.d.comb += [self.corrupt_fwd.eq(AnySeq(1)), self.corrupt_rev.eq(AnySeq(1))]
        return self.corrupt_fwd, self.corrupt_rev

    def _replay_from(self, ack):
        return ack + 1 if self._mutation == "replay_off_by_one" else ack


class DieLinkFormal(Harness):
    """The link between a free sender and a free receiver, with the checks of the module."""

    CHECKS = CHECKS
    MUTATIONS = MUTATIONS

    def __init__(self, *, mutation=None, checks=None, tx_depth=2, down_depth=2):
        super().__init__(mutation=mutation, checks=checks)
        self.tx_depth, self.down_depth = tx_depth, down_depth
        self.link = ProbedDieLink(mutation=mutation, flit_bits=F, vcs=1, ratio=1, latency=0,
                                  downstream_depth=down_depth, tx_depth=tx_depth, crc_bits=8,
                                  burst_len=1)

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = self.cd
        m.d.comb += ResetSignal().eq(0)
        d = self.elaborate_dut(m, "link", self.link, platform)
        p = d.probes
        geo = d.geometry
        P, S, RXD = geo["replay_depth"], geo["seq_bits"], d.rx_depth
        T, DD = self.tx_depth, self.down_depth

        def A(group, test):
            m.d.comb += self.assertion(group, test, src_loc_at=1)

        def diff(a, b, w=C, name=None):
            s = Signal(w, name=name)
            m.d.comb += s.eq(a - b)
            return s

        def flit(n):
            return Cat(n[:F], n[0])                  # {data, last}

        # -- sender: any time it has a credit ---------------------------------------------
        ucred = Signal(range(T + 1), init=T)
        sent = Signal(C)
        want = Signal()
        m.d.comb += want.eq(AnySeq(1))
        send = Signal()
        m.d.comb += send.eq(want & (ucred != 0))
        m.d.comb += [d.i.valid.eq(send), d.i.vc.eq(0), d.i.data.eq(sent), d.i.last.eq(sent[0])]
        m.d.sync += [ucred.eq(ucred - send + d.i.credit[0]), sent.eq(sent + send)]

        # -- receiver: returns credits when it likes -----------------------------------------
        held = Signal(range(DD + 2))
        deliv = Signal(C)
        give = Signal()
        m.d.comb += give.eq(AnySeq(1) & (held != 0))
        m.d.comb += d.o.credit.eq(give)
        m.d.sync += [held.eq(held + d.o.valid - give), deliv.eq(deliv + d.o.valid)]

        # -- shadow counters ------------------------------------------------------------------
        taken, acc, popped, accounted = (Signal(C, name=n) for n in
                                         ("taken", "acc", "popped", "accounted"))
        m.d.sync += [taken.eq(taken + p["start_new"]), acc.eq(acc + p["good"]),
                     popped.eq(popped + p["rx_pop"][0]),
                     accounted.eq(accounted + p["credit_back"][0])]

        # -- order: the delivered flit is the next one sent ------------------------------------
        A("order", ~d.o.valid | (d.o.data == deliv[:F]))
        A("order", ~d.o.valid | (d.o.last == deliv[0]))

        # -- credits -------------------------------------------------------------------------
        A("credits", ~d.overflow)
        A("credits", held <= DD)
        A("credits", p["down"][0] + held + d.o.valid == DD)
        tx = p["tx"][0]
        A("credits", ucred + tx.count + d.i.credit[0] == T)

        # -- invariants ------------------------------------------------------------------------
        ns, old, sp, exp = p["next_seq"], p["oldest"], p["sp"], p["expected"]
        unacked = diff(ns, old, S, "f_unacked")
        A("invariant", unacked <= P)
        A("invariant", diff(exp, old, S) <= unacked)
        A("invariant", diff(sp, old, S) <= unacked)
        A("invariant", ns == taken[:S])
        A("invariant", exp == acc[:S])
        t_acc, acc_pop, pop_cnt = (diff(taken, acc), diff(acc, popped),
                                   diff(popped, accounted))
        A("invariant", t_acc == diff(ns, exp, S))
        A("invariant", t_acc + acc_pop + pop_cnt <= RXD)
        A("invariant", p["remote"][0] + t_acc + acc_pop + pop_cnt == RXD)
        A("invariant", p["seen"][0] == accounted[:len(p["seen"][0])])
        A("invariant", p["pops"][0] == popped[:len(p["pops"][0])])
        A("invariant", diff(popped, deliv) == d.o.valid)
        A("invariant", p["timer"] <= geo["timeout"])
        # TX buffer: flits taken .. sent, in order
        A("invariant", tx.count == diff(sent, taken))
        A("invariant", tx.wptr == (tx.rptr + tx.count) % T)
        for i in range(T):
            slot = Signal(range(T), name=f"f_tx_slot{i}")
            m.d.comb += slot.eq((tx.rptr + i) % T)
            n = diff(taken, -i)
            word = Signal(F + 1, name=f"f_tx_word{i}")
            m.d.comb += word.eq(Cat(*tx.mem).word_select(slot, F + 1))
            A("invariant", (i >= tx.count) | (word == flit(n)))
        # replay buffer: every unacknowledged codeword, with its seq and its flit
        for j in range(P):
            q = diff(old, -j, S, f"f_rp_seq{j}")
            slot = q[:(P - 1).bit_length()]
            word = Signal(len(p["replay"][0]), name=f"f_rp_word{j}")
            m.d.comb += word.eq(Cat(*p["replay"]).word_select(slot, len(word)))
            n = diff(taken, unacked - j)
            A("invariant", (j >= unacked) | (word == Cat(flit(n), Const(0, 1), q)))
        # the codeword on the wire: if its CRC holds, it is some recent flit with its seq
        ww = p["wire_word"]
        w_seq = ww[F + 2:F + 2 + S]
        back = diff(ns, w_seq, S, "f_wire_back")
        n = diff(taken, back)
        A("invariant", ~p["land"] | ~p["r_ok"]
          | ((ww[:F + 2] == Cat(flit(n), Const(0, 1))) & (back >= 1) & (back <= P + 1)))
        # RX buffer: flits popped .. accepted, in order
        rx = p["rx"][0]
        A("invariant", rx.count == acc_pop)
        A("invariant", rx.wptr == (rx.rptr + rx.count) % RXD)
        for i in range(RXD):
            slot = Signal(range(RXD), name=f"f_rx_slot{i}")
            m.d.comb += slot.eq((rx.rptr + i) % RXD)
            word = Signal(F + 1, name=f"f_rx_word{i}")
            m.d.comb += word.eq(Cat(*rx.mem).word_select(slot, F + 1))
            A("invariant", (i >= rx.count) | (word == flit(diff(popped, -i))))

        # -- progress: with no corruption and a receiver that returns credits, a sent flit is
        # delivered within `bound` cycles
        bound = geo["timeout"] + 8
        quiet = Signal(range(bound + 2))
        calm = Signal()
        m.d.comb += calm.eq(~d.corrupt_fwd & ~d.corrupt_rev & ((held == 0) | give)
                            & (sent != deliv) & ~d.o.valid)
        m.d.sync += quiet.eq(Mux(calm, Mux(quiet == bound + 1, quiet, quiet + 1), 0))
        A("progress", quiet <= bound)

        # -- cover: a replay, then a delivery ------------------------------------------------
        replayed = Signal()
        with m.If(p["trigger"]):
            m.d.sync += replayed.eq(1)
        m.d.comb += Cover(replayed & d.o.valid & (p["stats"]["replays"] != 0))
        return m


def prove_dielink(*, k=12, cover_depth=24, mutation=None, checks=None, mode="prove",
                  out_dir="build/formal"):
    """Prove the properties above; returns the statuses as :func:`verif.formal.router.prove_router`."""
    tag = "dielink" + (f"_{mutation}" if mutation else "") \
        + (f"_{'-'.join(sorted(checks))}" if checks else "")
    top = DieLinkFormal(mutation=mutation, checks=checks)
    # the k-induction on the synthesised harness (``--syn``: the same circuit in gates):
    # 19.2 s -> 14.3 s of CPU at k = 17; a short BMC (the mutant's) pays more for the
    # synthesis than it gains (2.6 s -> 4.5 s) and keeps the word-level model
    engine = "smtbmc --syn yices" if mode == "prove" else "smtbmc yices"
    r = run_proof(top, name="dielink_formal", tag=tag, k=k, cover_depth=cover_depth, mode=mode,
                  out_dir=out_dir, engine=engine, timeout=1800)
    return {**r, "k": k, "mutation": mutation, "checks": sorted(top.checks), "mode": mode}


if __name__ == "__main__":
    import argparse
    import json
    ap = argparse.ArgumentParser(description="formal proof of the die-link layer (SymbiYosys)")
    ap.add_argument("-k", type=int, default=12)
    ap.add_argument("--mutation", choices=MUTATIONS)
    ap.add_argument("--mode", default="prove", choices=("prove", "bmc"))
    ap.add_argument("--check", action="append", choices=CHECKS)
    ap.add_argument("--out", default="build/formal")
    a = ap.parse_args()
    r = prove_dielink(k=a.k, mutation=a.mutation, checks=a.check, mode=a.mode, out_dir=a.out)
    r.pop("log_tail")
    print(json.dumps(r, indent=1))
    sys.exit(0 if r["prove"] == "PASS" and r["cover"] == "PASS" else 1)
