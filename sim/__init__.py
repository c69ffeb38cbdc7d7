"""Simulator runners (Icarus, Verilator), sweeps, reports and plots."""
