"""Amaranth 0.5 components of the fabric, by layer: net, fabric, node, measure, board."""
