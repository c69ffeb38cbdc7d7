"""Config -> compute-node design (router + NI + SRAM + matrix engine), like ``router_design``."""

from .design import Design, derived_of, packet_format
from .emit import ModuleLibrary

__all__ = ["compute_node_design", "compute_params", "node_layouts", "SEMS"]

#: completion counters per node
SEMS = 8


def node_layouts(cfg, derived=None):
    """The node's message layouts for a config."""
    from rtl.node.layouts import NodeLayouts
    from rtl.node.sram import sram_lines
    fmt = packet_format(cfg, derived)
    return NodeLayouts(fmt=fmt, lines=sram_lines(cfg.node.sram_kb, cfg.router.flit_bits),
                       sems=SEMS)


def compute_params(cfg, derived):
    """``(layouts, TrainingNode parameters without layouts, manifest "node" entry)``."""
    lay = node_layouts(cfg, derived)
    params = {"vcs": cfg.router.vcs, "buffer_depth": cfg.router.buffer_depth,
              "routing": cfg.router.routing, "max_packet_flits": cfg.router.max_packet_flits,
              "matrix_p": cfg.node.matrix_p, "sram_banks": cfg.node.sram_banks,
              "mesh_x": derived.tile.mesh_x,
              "mesh_y": derived.tile.mesh_y}
    node = {**params, "lines": lay.lines, "sems": lay.sems, "registers": lay.registers,
            "ni_depth": max(cfg.router.max_packet_flits + 3, cfg.router.buffer_depth)}
    return lay, params, node


def compute_node_design(cfg, *, nodes=1, top_name=None, derived=None):
    """A row of ``nodes`` compute nodes at ``(1, 0) .. (nodes, 0)`` of the global mesh,
    the first node's west port exposed (the host is the node at ``(0, 0)``).

    The compute node is one Verilog module (``dojo_compute_node``) instantiated
    ``nodes`` times. The manifest records the packet format, the node parameters
    (``node``), the host and node coordinates.
    """
    from rtl.node.training_node import TrainingNode, NodeRow
    d = derived_of(cfg, derived)
    lay, params, node = compute_params(cfg, d)
    fmt = lay.fmt
    if nodes + 1 > params["mesh_x"]:
        raise ValueError(f"a row of {nodes} node(s) and its host needs a mesh at least "
                         f"{nodes + 1} wide, the config's is {params['mesh_x']}")

    def build():
        return TrainingNode(layouts=lay, **params)

    lib = ModuleLibrary()
    row = NodeRow(lib=lib, name="dojo_compute_node", build=build, fmt=fmt, vcs=cfg.router.vcs,
                  nodes=nodes)
    name = top_name or f"dojo_node_row{nodes}"
    return Design(name, row, lib, {"config": cfg.raw, "node": params}, derived=d, fmt=fmt,
                  node=node, hier_blocks=("dojo_compute_node",), host=[0, 0],
                  nodes=[list(c) for c in row.coords()])
