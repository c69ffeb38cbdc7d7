"""Cycle-exact fast model of the traffic network (routers, link pipes, DieLinks, generators, sinks), compiled with numba and held to the RTL by lockstep tests."""
