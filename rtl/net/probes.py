"""Internal signals a block keeps by name for a formal harness (``probes``): no hardware.

A block that a proof harness must look inside calls :meth:`Probes._probe` from its
``elaborate`` with the internal signals (or memories) a property needs; the harness
elaborates the block first (:meth:`verif.formal.harness.Harness.elaborate_dut`) and then
reads ``block.probes[name]``. Keeping a reference adds nothing to the netlist: the emitted
Verilog is the same with or without a harness.
"""

__all__ = ["Probes"]


class Probes:
    """Mixin: ``probes``, a dict of internal signals by name, filled as the block elaborates."""

    def _probe(self, **signals):
        self.probes = {**getattr(self, "probes", {}), **signals}
