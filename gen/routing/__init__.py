"""Routing tables for the table router: format, generation around dead routers, checks, bounds."""

from .bounds import cut_bound, loads_bound, uniform_bound, worst_link_load
from .check import check_tables, cut_problem, stretch
from .dor import dor_uniform_loads, xy_tables
from .format import (DIE_ENTRY_BITS, NODE_ENTRY_BITS, TAKE_X, TAKE_Y, MeshShape, RoutingTables,
                     combine, die_entry, neighbour, onehot, output_port)
from .live import live_components
from .planes import (VcPlanes, check_planes, one_plane, plane_routes, planes_bound,
                     route_planes, source_vc)
from .repair import REPAIR_CANDIDATES, RepairStrategy, repair_tables
from .route import REPAIR_MAX_ROUTERS, repair_candidates, route_tables
from .updown import updown_tables
from .walk import walk

__all__ = ["DIE_ENTRY_BITS", "NODE_ENTRY_BITS", "TAKE_X", "TAKE_Y", "MeshShape",
           "RoutingTables", "die_entry", "combine", "onehot", "output_port", "neighbour",
           "walk", "xy_tables", "dor_uniform_loads", "updown_tables", "RepairStrategy",
           "REPAIR_CANDIDATES", "repair_tables", "REPAIR_MAX_ROUTERS", "repair_candidates",
           "route_tables", "check_tables", "cut_problem", "stretch", "live_components",
           "worst_link_load", "loads_bound", "uniform_bound", "cut_bound", "VcPlanes",
           "route_planes", "source_vc", "check_planes", "planes_bound", "plane_routes",
           "one_plane"]
