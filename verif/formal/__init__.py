"""Formal proofs of the fabric's blocks: harnesses on one base, run by one SymbiYosys runner.

``harness`` is the base every proof harness builds on (named property groups, the line of
each assertion for the report, the block under proof elaborated through public Amaranth
API and read through its ``probes``); ``sby`` writes and runs the SymbiYosys job
(yowasp-sby and yices from pip). The harnesses: ``router`` (the router, XY and table
routing, VC planes), ``routing_table`` (the table lookup against the combine rule),
``dielink`` (the reliable die-link layer under any corruption).
"""
