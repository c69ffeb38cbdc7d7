"""The GEMM entries: driven by the hosts (:mod:`sim.gemm`), or run by the nodes on resident
operands with Cannon's algorithm (:mod:`sim.cannon`) or SUMMA (:mod:`sim.summa`)."""

import shutil
from dataclasses import dataclass
from math import lcm

from gen.config import ConfigError

from .base import Result, Workload, engine_label, verdict

__all__ = ["HostGemm", "Cannon", "Summa", "GemmShape", "HostGemmResult", "ResidentGemmResult"]


@dataclass(frozen=True, eq=False)
class GemmShape:
    """A checked GEMM: ``C = A x B``, M x K times K x N; ``a``, ``b`` the given matrices
    (``None``: random ones)."""
    m: int
    n: int
    k: int
    a: object = None
    b: object = None


@dataclass(frozen=True, eq=False)
class _GemmResult(Result):
    """What every GEMM reports: the shape, the dtype, the nodes, C against the golden
    model (``match``; ``None``: a timing-only run, no C) and what ran it (``engine``)."""
    m: int
    n: int
    k: int
    dtype: str
    nodes: int
    match: bool | None
    engine: str


@dataclass(frozen=True, eq=False)
class HostGemmResult(_GemmResult):
    total_cycles: int
    peak_fraction: float
    compute_peak_fraction: float
    load_and_compute_cycles: int
    gather_cycles: int
    block: list

    BRIEF = ("m", "n", "k", "dtype", "nodes", "match", "engine", "total_cycles",
             "peak_fraction", "compute_peak_fraction")

    def report(self):
        b = self.block
        return (f"  {verdict(self.match)}; {self.nodes} nodes, "
                f"blocks {b[0]}x{b[1]}x{b[2]}; load + compute {self.load_and_compute_cycles}, "
                f"gather {self.gather_cycles}, total {self.total_cycles} cycles; "
                f"{100 * self.peak_fraction:.1f}% of peak MACs (engines alone "
                f"{100 * self.compute_peak_fraction:.1f}%)" + self.energy_report())

    def summary(self):
        return (f"  GEMM {self.m}x{self.n}x{self.k} {self.dtype}  {verdict(self.match)} on "
                f"{self.nodes} nodes, {self.total_cycles} cycles, "
                f"{100 * self.peak_fraction:.1f}% of peak MACs "
                f"(engines alone {100 * self.compute_peak_fraction:.1f}%)")


@dataclass(frozen=True, eq=False)
class ResidentGemmResult(_GemmResult):
    name: str
    compute_cycles: int
    total_cycles: int
    compute_peak_fraction: float
    peak_fraction: float
    load_cycles: int
    read_cycles: int
    block: list

    BRIEF = ("m", "n", "k", "dtype", "nodes", "match", "engine", "compute_cycles",
             "total_cycles", "compute_peak_fraction", "peak_fraction")

    def report(self):
        b = self.block
        if self.load_cycles is None:            # a preloaded run: no load, no read-back
            return (f"  {verdict(self.match)}; {self.nodes} nodes, blocks "
                    f"{b[0]}x{b[1]}x{b[2]} double-buffered, preloaded into the SRAM; compute "
                    f"{self.compute_cycles} (nodes) cycles; "
                    f"{100 * self.compute_peak_fraction:.1f}% of peak MACs")
        return (f"  {verdict(self.match)}; {self.nodes} nodes, "
                f"blocks {b[0]}x{b[1]}x{b[2]} double-buffered; load {self.load_cycles} "
                f"(hosts), compute {self.compute_cycles} (nodes), read-back "
                f"{self.read_cycles} cycles; {100 * self.compute_peak_fraction:.1f}% of peak "
                f"MACs over the compute phase, {100 * self.peak_fraction:.1f}% over all"
                + self.energy_report())

    def summary(self):
        if self.total_cycles is None:
            return (f"  GEMM {self.m}x{self.n}x{self.k} {self.dtype}  node-driven {self.name}, "
                    f"preloaded operands: {verdict(self.match)}, compute phase "
                    f"{self.compute_cycles} cycles = {100 * self.compute_peak_fraction:.1f}% "
                    f"of peak MACs")
        return (f"  GEMM {self.m}x{self.n}x{self.k} {self.dtype}  node-driven {self.name}, "
                f"resident operands: {verdict(self.match)}, compute phase "
                f"{self.compute_cycles} cycles = {100 * self.compute_peak_fraction:.1f}% of "
                f"peak MACs (with the load and read-back {self.total_cycles} cycles, "
                f"{100 * self.peak_fraction:.1f}%)")


class HostGemm(Workload):
    """``C = A x B`` distributed over the tile's live nodes, the hosts at its edge scatter
    A and B and gather C (:func:`sim.gemm.run_tile_gemm`). Takes given matrices."""
    name, bench, algo, label, folder = "gemm", "gemm", "host", "gemm", "gemm"
    title = "the host-driven GEMM"
    files = ("result.json", "C.npy")
    faults = "disabled_nodes"
    matrices = True
    engines = ("rtl", "model")

    def plan(self, cfg, derived, options):
        import numpy as np
        from sim.gemm import check_tile_gemm, tile_gemm_shape
        if options.c_out and options.timing_only:
            raise ConfigError([f"--c-out {options.c_out}: not allowed with --timing-only (no C "
                               f"is computed); allowed: without --timing-only"])
        try:
            a = np.load(options.a) if options.a else None
            b = np.load(options.b) if options.b else None
        except (OSError, ValueError) as exc:
            raise ConfigError([f"--a/--b: cannot read the matrix ({exc})"])
        try:
            dm, dn, dk = tile_gemm_shape(cfg, derived, options.dtype)
            m = a.shape[0] if a is not None else (options.m or dm)
            k = a.shape[1] if a is not None else (options.k or dk)
            n = b.shape[1] if b is not None else (options.n or dn)
            check_tile_gemm(cfg, m=m, n=n, k=k, dtype=options.dtype, a=a, b=b,
                            derived=derived)
        except ValueError as exc:
            raise self.refusal(exc)
        return GemmShape(m, n, k, a, b)

    def run(self, plan, job, out_dir=None):
        from sim.gemm import run_tile_gemm
        p, dtype, out = plan.params, plan.options.dtype, self.out_dir(job, out_dir)
        m, n, k = p.m, p.n, p.k
        job.say(f"\nGEMM: C = A x B, {m}x{k} x {k}x{n}, {dtype}, distributed over the tile, "
                f"hosts at the tile edge ({engine_label(plan.options, job)})")
        try:
            record = run_tile_gemm(plan.cfg, m=m, n=n, k=k, dtype=dtype, a=p.a, b=p.b,
                                   sim=job.sim, out_dir=out, seed=plan.options.seed,
                                   derived=plan.derived, engine=plan.options.engine,
                                   timing_only=plan.options.timing_only)
        except ValueError as exc:
            raise self.refusal(exc)
        if plan.options.c_out and record["c"] is not None:
            shutil.copy(out / "C.npy", plan.options.c_out)
        record.pop("c")
        res = HostGemmResult.of(record)
        job.say(res.report())
        return res


class _Resident(Workload):
    """A GEMM the nodes run on operands the hosts loaded into their SRAM first; its
    algorithm is ``sim.<name>`` (``check_<name>``, ``run_<name>``)."""
    bench = "gemm"
    files = ("result.json", "C.npy")
    faults = "none"
    engines = ("rtl", "model")

    def shape(self, cfg, derived, options):
        """``(m, n, k)``: the options, else the algorithm's default."""
        raise NotImplementedError

    def algorithm(self, what):
        """``check_<name>`` or ``run_<name>`` of the algorithm's module."""
        from importlib import import_module
        return getattr(import_module(f"sim.{self.name}"), f"{what}_{self.name}")

    def plan(self, cfg, derived, options):
        m, n, k = self.shape(cfg, derived, options)
        try:
            self.algorithm("check")(cfg, m=m, n=n, k=k, dtype=options.dtype, derived=derived)
        except ValueError as exc:
            raise self.refusal(exc)
        return GemmShape(m, n, k)

    def run(self, plan, job, out_dir=None):
        p, dtype = plan.params, plan.options.dtype
        m, n, k = p.m, p.n, p.k
        job.say(f"\nGEMM: C = A x B, {m}x{k} x {k}x{n}, {dtype}, {self.title} run by the "
                f"nodes, A and B resident in their SRAM ({engine_label(plan.options, job)})")
        preload = {"preload_data": True} if plan.options.preload else {}
        record = self.algorithm("run")(plan.cfg, m=m, n=n, k=k, dtype=dtype, sim=job.sim,
                                    out_dir=self.out_dir(job, out_dir), seed=plan.options.seed,
                                    derived=plan.derived, engine=plan.options.engine,
                                    timing_only=plan.options.timing_only, **preload)
        res = ResidentGemmResult.of(record, name=self.title)
        job.say(res.report())
        return res


class Cannon(_Resident):
    """Cannon's algorithm (:mod:`sim.cannon`): square grids; by default a 4P x 4P block
    of C per node and K = 16P."""
    name, algo, label, folder, title = "cannon", "cannon", "gemm --algo cannon", "cannon", \
        "Cannon"
    grid = "square"

    def shape(self, cfg, derived, options):
        p = cfg.node.matrix_p
        m = options.m or derived.tile.mesh_x * 4 * p
        return m, options.n or m, options.k or 16 * p


class Summa(_Resident):
    """SUMMA (:mod:`sim.summa`): any grid, run by default where Cannon cannot be; by
    default a 2P x 2P block per node and 4P of K per step."""
    name, algo, label, folder, title = "summa", "summa", "gemm --algo summa", "summa", "SUMMA"
    preloads = True

    def runs_by_default(self, derived):
        return not Cannon().fits_grid(derived)

    def shape(self, cfg, derived, options):
        p, px, py = cfg.node.matrix_p, derived.tile.mesh_x, derived.tile.mesh_y
        return (options.m or 2 * p * py, options.n or 2 * p * px,
                options.k or 4 * p * lcm(px, py))
