"""A die (DESIGN.md section 7): NX x NY nodes whose boundary links are die ports."""

from rtl.fabric.mesh import Mesh

__all__ = ["Die"]


class Die(Mesh):
    """NX x NY nodes; every link at the die edge is a port ``in_edge_<dir>_<i>``/``out_edge_<dir>_<i>``.

    The global coordinates of node (0, 0) are the inputs ``x0``/``y0``, tied off
    per instance by the parent (:class:`rtl.fabric.tile.Tile`), so one die module serves
    every die of a tile; node ``(i, j)`` of the die sits at ``(x0 + i, y0 + j)``.
    Edge port ``i`` counts along the edge from the die's own origin.

    Parameters are those of :class:`rtl.fabric.mesh.Mesh` (without ``origin`` and
    ``boundary``): ``kind="compute"`` for training nodes, ``"traffic"`` for
    routers with the in-RTL generators and sinks, ``"bare"`` for routers alone.
    """

    def __init__(self, *, lib, fmt, nodes_x, nodes_y, kind, pipeline_stages=0, node_params):
        self.nodes_x, self.nodes_y = nodes_x, nodes_y
        super().__init__(lib=lib, fmt=fmt, nodes_x=nodes_x, nodes_y=nodes_y, origin=None,
                         kind=kind, boundary="ports", pipeline_stages=pipeline_stages,
                         node_params=node_params)
