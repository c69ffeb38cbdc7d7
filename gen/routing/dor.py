"""Dimension-order routing (XY, YX) as tables, and its uniform link loads in closed form.

With no dead router the tables reproduce the router's fixed function exactly: node
entries are XY (YX) inside the die, die entries XY (YX) between dies with ``take_x`` set
in the router's own die column (``take_y`` in its own die row for YX), so the node table
decides the last dimension there.
"""

import numpy as np

from rtl.net.directions import EAST, LOCAL, NORTH, SOUTH, WEST

from .format import TAKE_X, TAKE_Y, RoutingTables

__all__ = ["xy_tables", "dor_uniform_loads"]


def xy_tables(shape, routing="xy"):
    """Tables that reproduce dimension-order routing (``"xy"`` or ``"yx"``) exactly."""
    if routing not in ("xy", "yx"):
        raise ValueError(f"routing must be 'xy' or 'yx', not {routing!r}")
    s = shape
    X, Y = np.meshgrid(np.arange(s.mesh_x), np.arange(s.mesh_y))        # router coordinates
    lx, ly = (X % s.nodes_x)[..., None], (Y % s.nodes_y)[..., None]
    rdx, rdy = (X // s.nodes_x)[..., None], (Y // s.nodes_y)[..., None]
    L = np.arange(s.die_nodes)
    tx, ty = L % s.nodes_x, L // s.nodes_x                              # destination in die
    D = np.arange(s.dies)
    ddx, ddy = D % s.dies_x, D // s.dies_x                              # destination die

    def pick(dim_a, dim_b):
        """Dimension order over two (plus, minus, port+, port-) tuples, else local."""
        out = np.full(np.broadcast_shapes(dim_a[0].shape, dim_b[0].shape), LOCAL)
        for plus, minus, pp, pm in reversed((dim_a, dim_b)):
            out = np.where(plus, pp, np.where(minus, pm, out))
        return out

    nx_dim = (tx > lx, tx < lx, EAST, WEST)
    ny_dim = (ty > ly, ty < ly, SOUTH, NORTH)
    node = pick(nx_dim, ny_dim) if routing == "xy" else pick(ny_dim, nx_dim)
    dx_dim = (ddx > rdx, ddx < rdx, EAST, WEST)
    dy_dim = (ddy > rdy, ddy < rdy, SOUTH, NORTH)
    if routing == "xy":
        die = pick(dx_dim, dy_dim) | np.where(ddx == rdx, TAKE_X, 0)
    else:
        die = pick(dy_dim, dx_dim) | np.where(ddy == rdy, TAKE_Y, 0)
    die = np.where((ddx == rdx) & (ddy == rdy), 0, die)                # own die: unused
    return RoutingTables(shape=s, dead=frozenset(), die=die.astype(np.uint8),
                         node=node.astype(np.uint8), algorithm=routing)


def dor_uniform_loads(shape, live=None, routing="xy"):
    """Link loads of uniform traffic over ``live`` nodes (default: every node) under
    dimension-order routing, one unit per ordered live pair, channel
    ``router_id * 4 + port - 1`` (as :func:`gen.routing.walk.walk_all`'s). In closed
    form: a node that is not live still forwards, so the routes are the full mesh's and a
    link's load is a product of counts of live nodes. Under XY the east link leaving
    ``(x, y)`` carries the pairs whose source is in row ``y`` at column ``<= x`` and whose
    destination is at a column ``> x``; the south link leaving ``(x, y)`` those whose
    destination is in column ``x`` below row ``y`` and whose source is at a row ``<= y``;
    west and north mirrored, YX transposed. Cost ``O(routers)``, whatever the number of pairs."""
    if routing not in ("xy", "yx"):
        raise ValueError(f"routing must be 'xy' or 'yx', not {routing!r}")
    W, H = shape.mesh_x, shape.mesh_y
    L = np.zeros((H, W), dtype=np.int64)
    if live is None:
        L[:] = 1
    else:
        for x, y in live:
            L[y, x] = 1
    row_le = np.cumsum(L, axis=1)                  # [y, x]: live in row y at columns <= x
    row_ge = L.sum(axis=1)[:, None] - row_le + L   # at columns >= x
    col_le = np.cumsum(L, axis=0)                  # [y, x]: live in column x at rows <= y
    col_ge = L.sum(axis=0)[None, :] - col_le + L
    cols_le = np.cumsum(L.sum(axis=0))             # [x]: live at columns <= x
    rows_le = np.cumsum(L.sum(axis=1))             # [y]: live at rows <= y
    total = int(L.sum())
    cols_lt, rows_lt = cols_le - L.sum(axis=0), rows_le - L.sum(axis=1)
    cols_gt, rows_gt = total - cols_le, total - rows_le
    loads = np.zeros((H, W, 4))
    if routing == "xy":        # along the source's row, then down the destination's column
        loads[:, :, EAST - 1] = row_le * cols_gt[None, :]
        loads[:, :, WEST - 1] = row_ge * cols_lt[None, :]
        loads[:, :, SOUTH - 1] = rows_le[:, None] * (col_ge - L)
        loads[:, :, NORTH - 1] = (total - rows_lt)[:, None] * (col_le - L)
    else:                      # down the source's column, then along the destination's row
        loads[:, :, SOUTH - 1] = col_le * rows_gt[:, None]
        loads[:, :, NORTH - 1] = col_ge * rows_lt[:, None]
        loads[:, :, EAST - 1] = cols_le[None, :] * (row_ge - L)
        loads[:, :, WEST - 1] = (total - cols_lt)[None, :] * (row_le - L)
    return loads.reshape(-1)
