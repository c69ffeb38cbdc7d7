"""Cycle-exact fast model of the traffic network, compiled with numba, held to the RTL by lockstep tests."""
