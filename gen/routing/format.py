"""The table format: a tile's shape, the per-router hierarchical tables and THE lookup rule.

Each router ``r`` holds two tables, not one entry per node of the tile:

* ``die[r][d]``, indexed by the destination **die** ``d = die_y * dies_x + die_x``
  (``dies_x * dies_y`` entries of :data:`DIE_ENTRY_BITS` bits): bits ``[2:0]`` a port
  index (``rtl.net.directions.PORTS`` order: local, north, east, south, west), bit 3
  ``take_x``, bit 4 ``take_y``;
* ``node[r][l]``, indexed by the destination's position **within its die**
  ``l = (y % nodes_y) * nodes_x + x % nodes_x`` (``nodes_x * nodes_y`` entries of
  :data:`NODE_ENTRY_BITS` bits): a port index.

A full 95 x 95 tile (5 x 5 dies of 19 x 19) needs 25 + 361 entries per router, not 9025.
:func:`combine` is the one definition of how the two entries give the output port (the
RTL table router, the fast model and the checks are tested against it)::

    n = node[r][l]
    if d == die(r):                                  port = n
    elif take_x(die[r][d]) and n in (east, west):    port = n
    elif take_y(die[r][d]) and n in (north, south):  port = n
    else:                                            port = port(die[r][d])

``take_x``/``take_y`` let a die entry defer to the node table along one dimension, which
is what dimension order needs in the router's own die column (row); why, and how a table
is loaded and read, is in docs/table_mode.md. Dead destinations' entries are ``local``;
dead routers' tables are all zero and never read. The entry widths and take bits are the
hardware's, defined once in :mod:`rtl.net.routing_table`.
"""

from dataclasses import dataclass, field

import numpy as np

from rtl.net.directions import EAST, NORTH, PORTS, SOUTH, STEP, WEST
from rtl.net.routing_table import DIE_ENTRY_BITS, NODE_ENTRY_BITS, TAKE_X, TAKE_Y

__all__ = ["DIE_ENTRY_BITS", "NODE_ENTRY_BITS", "TAKE_X", "TAKE_Y", "MeshShape",
           "RoutingTables", "die_entry", "combine", "onehot", "output_port", "neighbour"]

#: the port index bits of a die entry
PORT_MASK = 0b111

#: port index -> (dx, dy)
DX = np.array([STEP[p][0] for p in PORTS], dtype=np.int64)
DY = np.array([STEP[p][1] for p in PORTS], dtype=np.int64)


def check_count(name, value):
    """``value`` is a positive integer (TypeError, ValueError naming ``name`` otherwise)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, not {value!r}")


@dataclass(frozen=True)
class MeshShape:
    """A tile of ``dies_x`` x ``dies_y`` dies of ``nodes_x`` x ``nodes_y`` nodes (global mesh)."""
    dies_x: int
    dies_y: int
    nodes_x: int
    nodes_y: int

    def __post_init__(self):
        for name in ("dies_x", "dies_y", "nodes_x", "nodes_y"):
            check_count(name, getattr(self, name))

    mesh_x = property(lambda self: self.dies_x * self.nodes_x)
    mesh_y = property(lambda self: self.dies_y * self.nodes_y)
    routers = property(lambda self: self.mesh_x * self.mesh_y)
    dies = property(lambda self: self.dies_x * self.dies_y)
    die_nodes = property(lambda self: self.nodes_x * self.nodes_y)

    def die_of(self, x, y):
        """Index of the die holding global node ``(x, y)`` (row-major over dies)."""
        return (y // self.nodes_y) * self.dies_x + x // self.nodes_x

    def node_of(self, x, y):
        """Index of ``(x, y)`` within its die (row-major over the die's nodes)."""
        return (y % self.nodes_y) * self.nodes_x + x % self.nodes_x

    def contains(self, x, y):
        return 0 <= x < self.mesh_x and 0 <= y < self.mesh_y


@dataclass(frozen=True, eq=False)
class RoutingTables:
    """Per-router hierarchical tables.

    Attributes
    ----------
    shape : MeshShape
    dead : frozenset of (x, y)
        Dead routers, global coordinates.
    die : numpy.ndarray, uint8, shape ``(mesh_y, mesh_x, dies)``
        ``die[y, x, d]``: the die entry of router ``(x, y)`` for destination die ``d``.
    node : numpy.ndarray, uint8, shape ``(mesh_y, mesh_x, die_nodes)``
        ``node[y, x, l]``: the node entry of router ``(x, y)`` for node ``l`` of a die.
    algorithm : str
        ``"xy"``, ``"yx"``, ``"repair"`` or ``"updown"``.
    root : (x, y) or None
        The up*/down* root (``None`` for dimension order).
    """
    shape: MeshShape
    dead: frozenset
    die: np.ndarray
    node: np.ndarray
    algorithm: str
    root: tuple = None
    info: dict = field(default_factory=dict)

    @property
    def entries_per_router(self):
        """Table entries one router holds: dies + nodes of a die."""
        return self.die.shape[2] + self.node.shape[2]

    def is_live(self, x, y):
        return self.shape.contains(x, y) and (x, y) not in self.dead


def die_entry(port, *, take_x=False, take_y=False):
    """Encode a die-table entry (``port`` a ``PORTS`` index or name)."""
    if isinstance(port, str):
        port = PORTS.index(port)
    return port | (TAKE_X if take_x else 0) | (TAKE_Y if take_y else 0)


def combine(die_ent, node_ent, same_die):
    """THE lookup rule: the output port (``PORTS`` index) from a router's die entry for the
    destination die, its node entry for the destination's node-within-die and whether the
    destination die is the router's own. Element-wise: ints or numpy arrays."""
    die_ent = np.asarray(die_ent)
    node_ent = np.asarray(node_ent)
    along_x = (node_ent == EAST) | (node_ent == WEST)
    along_y = (node_ent == NORTH) | (node_ent == SOUTH)
    use_node = (np.asarray(same_die, dtype=bool)
                | (((die_ent & TAKE_X) != 0) & along_x)
                | (((die_ent & TAKE_Y) != 0) & along_y))
    out = np.where(use_node, node_ent, die_ent & PORT_MASK)
    return int(out) if out.ndim == 0 else out


def onehot(port):
    """One-hot route (bit order of ``PORTS``) of a port index."""
    return 1 << port


def output_port(tables, router, dst):
    """Port index through which ``router`` (global ``(x, y)``) sends a head for ``dst``."""
    (x, y), (dx, dy) = router, dst
    s = tables.shape
    d, l = s.die_of(dx, dy), s.node_of(dx, dy)
    return combine(int(tables.die[y, x, d]), int(tables.node[y, x, l]), d == s.die_of(x, y))


def neighbour(router, port):
    """The router on ``port`` of ``router`` (``port`` a ``PORTS`` index)."""
    return router[0] + int(DX[port]), router[1] + int(DY[port])

