"""Imported by every Dask worker as it starts (``--preload sim.explore.preload``): the
generator, both engines and the cocotb runner load once per worker process, in parallel
while the cluster comes up, not inside the first point each worker runs (about a second
of imports and numba's cache load, which a short sweep would otherwise spend serially)."""

import gen.build                # noqa: F401  (amaranth and the generators)
import sim.netmodel.network     # noqa: F401  (the fast model; numba loads its cached code)
import sim.runner               # noqa: F401  (cocotb's runner)
import sim.sweep                # noqa: F401
