"""Mesh, die, tile and die-to-die link."""
