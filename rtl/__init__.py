"""Amaranth 0.5 components of the fabric: link and packet layouts, router, mesh, traffic."""
