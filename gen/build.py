"""One function maps a config to hardware; another writes Verilog + manifest.

Generating and building are separate steps (as in LiteX's builder): ``design()``
elaborates nothing heavier than the module library, ``write()`` emits the
Verilog and a JSON manifest of ports and parameters next to it.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.hdl import Shape
from amaranth.lib import wiring

from rtl.packet import PacketFormat
from .derive import derive
from .emit import ModuleLibrary, digest, port_name

__all__ = ["Design", "packet_format", "noc_design", "router_design", "write", "GENERATOR_VERSION"]

GENERATOR_VERSION = "0.1.0"


@dataclass
class Design:
    """A top component, its module library and everything a testbench needs to know."""
    top_name: str
    top: object
    lib: ModuleLibrary
    params: dict
    extra: dict = field(default_factory=dict)
    _verilog: str = None

    @property
    def verilog(self):
        if self._verilog is None:
            self._verilog = self.lib.verilog(self.top_name, self.top)
        return self._verilog

    def manifest(self):
        ports = []
        for path, member, _ in self.top.signature.flatten(self.top):
            ports.append({"name": port_name(path),
                          "direction": "input" if member.flow == wiring.In else "output",
                          "width": Shape.cast(member.shape).width})
        return {"generator": "dojo-fabric", "generator_version": GENERATOR_VERSION,
                "top": self.top_name, "modules": self.lib.names + [self.top_name],
                "verilog_sha256_16": digest(self.verilog), "ports": ports,
                "params": self.params, **self.extra}


def packet_format(cfg, derived=None):
    d = derived or derive(cfg)
    return PacketFormat(flit_bits=cfg.router.flit_bits, coord_bits=d["tile"]["coord_bits"],
                        timestamp_bits=cfg.traffic.timestamp_bits)


def _node_params(cfg):
    return {"vcs": cfg.router.vcs, "buffer_depth": cfg.router.buffer_depth,
            "routing": cfg.router.routing}


def noc_design(cfg, *, kind="traffic", boundary="tie", top_name=None):
    """The network of the whole tile as one global mesh.

    ``kind="traffic"``: in-RTL generators and sinks at every node (sweeps);
    ``kind="bare"``: routers with local ports exposed (Python-driven tests).
    The mesh spans tile.dies_x * die.nodes_x by tile.dies_y * die.nodes_y nodes;
    links between dies are die-to-die links with the derived (or overridden)
    serialisation ratio and latency.
    """
    from rtl.mesh import Mesh
    d = derive(cfg)
    fmt = packet_format(cfg, d)
    nx, ny = d["tile"]["mesh_x"], d["tile"]["mesh_y"]
    params = _node_params(cfg)
    if kind == "traffic":
        params.update(mesh_x=nx, mesh_y=ny, queue_depth=cfg.traffic.source_queue,
                      max_packet_flits=cfg.router.max_packet_flits,
                      histogram_bins=cfg.traffic.histogram_bins,
                      bin_cycles=cfg.traffic.histogram_bin_cycles)
    lib = ModuleLibrary()
    tiled = d["tile"]["dies"] > 1
    die_shape = (d["die"]["nodes_x"], d["die"]["nodes_y"]) if tiled else None
    dielink = {"ratio": d["dielink"]["ratio"], "latency": d["dielink"]["latency"]}
    mesh = Mesh(lib=lib, fmt=fmt, nodes_x=nx, nodes_y=ny, kind=kind, boundary=boundary,
                pipeline_stages=d["link"]["pipeline_stages"], node_params=params,
                die_shape=die_shape, dielink=dielink if tiled else None)
    name = top_name or f"dojo_mesh_{kind}"
    extra = {"mesh_x": nx, "mesh_y": ny, "kind": kind, "boundary": boundary,
             "nodes": mesh.coords(), "stat_names": mesh.stat_names,
             "edge_ports": [[n, list(xy), dr] for n, xy, dr in mesh.edge_ports()],
             "format": {"flit_bits": fmt.flit_bits, "coord_bits": fmt.coord_bits,
                        "timestamp_bits": fmt.timestamp_bits},
             "pipeline_stages": d["link"]["pipeline_stages"],
             "die_shape": die_shape, "dielink": dielink if tiled else None}
    return Design(name, mesh, lib, {"config": cfg.raw, "node": params}, extra)


def router_design(cfg, *, top_name="dojo_router_top"):
    """One router alone (its own top, for router-level tests and FPGA runs)."""
    from rtl.router import Router
    d = derive(cfg)
    fmt = packet_format(cfg, d)
    router = Router(fmt=fmt, vcs=cfg.router.vcs, buffer_depth=cfg.router.buffer_depth,
                    routing=cfg.router.routing)
    lib = ModuleLibrary()
    extra = {"format": {"flit_bits": fmt.flit_bits, "coord_bits": fmt.coord_bits,
                        "timestamp_bits": fmt.timestamp_bits}}
    return Design(top_name, router, lib, {"config": cfg.raw}, extra)


def write(design, out_dir):
    """Write ``<top>.v`` and ``<top>.json``; returns the Verilog path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    v = out / f"{design.top_name}.v"
    text = design.verilog
    if not v.exists() or v.read_text() != text:       # keep mtimes stable for build caches
        v.write_text(text)
    (out / f"{design.top_name}.json").write_text(
        json.dumps(design.manifest(), indent=1, sort_keys=True) + "\n")
    return v
