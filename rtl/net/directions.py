"""The router's five ports and the four mesh directions, defined once.

East is ``x + 1``, south is ``y + 1``. ``PORTS`` is also the bit order of the
router's one-hot routes.
"""

__all__ = ["PORTS", "MESH_PORTS", "LOCAL", "NORTH", "EAST", "SOUTH", "WEST", "STEP", "OPPOSITE",
           "NEIGHBOUR", "TRAVEL"]

#: port names, in index order (also the bit order of one-hot routes)
PORTS = ("local", "north", "east", "south", "west")
LOCAL, NORTH, EAST, SOUTH, WEST = range(len(PORTS))
#: the four mesh directions of a node (the local port stays inside the node)
MESH_PORTS = PORTS[1:]
#: direction -> (dx, dy) of the neighbour on that side (local: the node itself)
STEP = {"local": (0, 0), "north": (0, -1), "east": (1, 0), "south": (0, 1), "west": (-1, 0)}
#: direction -> the direction it arrives from at the neighbour
OPPOSITE = {"north": "south", "south": "north", "east": "west", "west": "east"}
#: direction -> (dx, dy, opposite)
NEIGHBOUR = {d: (*STEP[d], OPPOSITE[d]) for d in MESH_PORTS}
#: input port -> (dimension, sign) of the travel of a flit arriving on it
TRAVEL = {"west": ("x", +1), "east": ("x", -1), "north": ("y", +1), "south": ("y", -1)}
