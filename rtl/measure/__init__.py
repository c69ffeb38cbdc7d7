"""Measurement in RTL: traffic generator and sink, traffic node."""
