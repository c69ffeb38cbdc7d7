"""The workload registry: each workload declares what it supports, checks, runs."""

from .base import FAULTS, Job, Options, Plan, Result, Workload
from .registry import ALGOS, BENCHES, WORKLOADS, fault_problem, select

__all__ = ["WORKLOADS", "BENCHES", "ALGOS", "select", "fault_problem", "Options", "Job", "Plan",
           "Result", "Workload", "FAULTS"]
