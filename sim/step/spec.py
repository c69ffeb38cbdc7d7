"""The workload file of a training step: schema, loading, the GEMMs it implies.

A step is a list of layers, each a GEMM ``Y = X W`` of ``tokens x in`` activations by
an ``in x out`` weight on every data-parallel replica, and the passes it takes part in:

=================  ============================  =====================
pass               GEMM                          M x N x K
=================  ============================  =====================
``forward``        ``Y = X W``                   tokens x out x in
``backward_data``  ``dX = dY W^T``               tokens x in x out
``backward_weight````dW = X^T dY``               in x out x tokens
=================  ============================  =====================

The step runs every layer's forward GEMM in order, then the backward pass from the last
layer to the first, each layer's ``backward_weight`` before its ``backward_data`` (so its
gradient is ready as early as possible), and all-reduces every layer's ``dW`` over the
data-parallel replicas while the backward pass goes on (one bucket per layer).

``parallel.data`` replicas (data-parallel groups) each hold a ``parallel.grid`` block of
nodes; a group splits each of its GEMMs over its grid with SUMMA (:mod:`sim.summa`).

Validation is the config's (:func:`gen.config._schema_errors`): one line per problem
naming the key, the value and what is allowed.
"""

from dataclasses import dataclass

from gen.config import ConfigError, _fill_defaults, _schema_errors, read_yaml

__all__ = ["SCHEMA", "PASSES", "Layer", "Gemm", "Step", "load_workload", "workload_from_dict"]

PASSES = ("forward", "backward_data", "backward_weight")


def _int(desc, minimum=1, maximum=4096):
    return {"type": "integer", "minimum": minimum, "maximum": maximum, "description": desc}


_LAYER = {
    "type": "object", "additionalProperties": False, "required": ["name", "tokens", "in", "out"],
    "properties": {
        "name": {"type": "string", "description": "the layer's name (reports, timeline)"},
        "tokens": _int("rows of the activations per data-parallel replica (M of forward)"),
        "in": _int("input features (K of forward)"),
        "out": _int("output features (N of forward)"),
        "passes": {"type": "array", "items": {"enum": list(PASSES)}, "minItems": 1,
                   "uniqueItems": True, "default": list(PASSES),
                   "x-allowed": "a list of distinct passes: forward, backward_data, "
                                "backward_weight",
                   "description": "the GEMMs of this layer the step runs"},
    },
}

SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["name", "layers"],
    "properties": {
        "name": {"type": "string", "description": "the workload's name"},
        "description": {"type": "string", "default": "", "description": "what it models"},
        "dtype": {"enum": ["bf16", "int8"], "default": "bf16",
                  "description": "GEMM operands (fp32 / int32 accumulation and gradients)"},
        "parallel": {
            "type": "object", "additionalProperties": False, "default": {},
            "description": "how the step is split over the tile's nodes",
            "properties": {
                "data": _int("data-parallel degree: replicas, each with its own tokens"),
                "grid": {"type": "array", "items": {"type": "integer", "minimum": 1},
                         "minItems": 2, "maxItems": 2, "default": [1, 1],
                         "x-allowed": "an [x, y] pair of integers >= 1",
                         "description": "nodes of one replica; its GEMMs are split over "
                                        "them with SUMMA"},
            },
        },
        "allreduce": {
            "type": "object", "additionalProperties": False, "default": {},
            "description": "the gradient all-reduce over the replicas",
            "properties": {
                "algo": {"enum": ["ring", "2d"], "default": "ring",
                         "description": "ring (sim/collectives.py) or rows-then-columns"},
                "bucket": {"enum": ["layer"], "default": "layer",
                           "description": "what one all-reduce carries: one layer's dW, "
                                          "started as soon as it is computed"},
            },
        },
        "layers": {"type": "array", "items": _LAYER, "minItems": 1,
                   "x-allowed": "a non-empty list of layers (name, tokens, in, out)"},
        "scale": {"type": "object", "default": {},
                  "additionalProperties": _int("factor on every layer's tokens, in and out",
                                               maximum=256),
                  "description": "per config (its name, e.g. d1): a factor on every layer's "
                                 "tokens, in and out (the file's sizes are those of the "
                                 "configs it does not name)"},
    },
}


@dataclass(frozen=True)
class Layer:
    name: str
    tokens: int
    d_in: int
    d_out: int
    passes: tuple


@dataclass(frozen=True)
class Gemm:
    """One GEMM of the step on one replica: ``C (m x n) = A (m x k) x B (k x n)``."""
    layer: str
    kind: str          #: one of :data:`PASSES`
    m: int
    n: int
    k: int

    @property
    def label(self):
        return f"{self.layer}.{self.kind}"

    @property
    def flops(self):
        return 2 * self.m * self.n * self.k


@dataclass(frozen=True)
class Step:
    name: str
    description: str
    dtype: str
    data: int
    grid: tuple
    allreduce: str
    layers: tuple
    raw: dict
    scale: tuple = ()        #: ``((config name, factor), ...)``: :meth:`for_config`

    def gemms(self):
        """The step's GEMMs on one replica, in the order they run (module docstring)."""
        out = []
        for ly in self.layers:
            if "forward" in ly.passes:
                out.append(Gemm(ly.name, "forward", ly.tokens, ly.d_out, ly.d_in))
        for ly in reversed(self.layers):
            if "backward_weight" in ly.passes:
                out.append(Gemm(ly.name, "backward_weight", ly.d_in, ly.d_out, ly.tokens))
            if "backward_data" in ly.passes:
                out.append(Gemm(ly.name, "backward_data", ly.tokens, ly.d_in, ly.d_out))
        return out

    @property
    def flops(self):
        """Useful operations of the step on all replicas."""
        return self.data * sum(g.flops for g in self.gemms())

    def for_config(self, cfg):
        """This step on the config ``cfg``: every layer's tokens, in and out times the
        file's ``scale`` factor for the config's name (itself when the file gives none);
        the result has no ``scale`` left, so applying it twice is applying it once."""
        f = dict(self.scale).get(cfg.raw.get("name"))
        if not f:
            return self
        raw = {**self.raw, "scale": {},
               "description": f"{self.description} (every layer's tokens, in and out x{f} "
                              f"on config {cfg.raw.get('name')!r}, the file's scale)",
               "layers": [{**ly, "tokens": ly["tokens"] * f, "in": ly["in"] * f,
                           "out": ly["out"] * f} for ly in self.raw["layers"]]}
        try:
            return workload_from_dict(raw)
        except ConfigError as exc:
            raise ConfigError([f"scale.{cfg.raw.get('name')}: {f} is not allowed: {p}"
                               for p in exc.problems]) from None

    def with_data(self, data, tokens_scale=1, grid=None):
        """The same step with ``data`` replicas and every layer's tokens times
        ``tokens_scale`` (an int or a :class:`fractions.Fraction`: the scale-out study's
        strong and weak scaling), on a replica grid of ``grid`` nodes (None: unchanged;
        the node-size sweep scales it). A scale that leaves a layer a fraction of a token
        is a ValueError (one line): a batch is never rounded."""
        from fractions import Fraction
        parallel = {**self.raw["parallel"], "data": data}
        if grid is not None:
            parallel["grid"] = list(grid)
        layers = []
        for ly in self.raw["layers"]:
            tokens = ly["tokens"] * Fraction(tokens_scale)
            if tokens.denominator != 1:
                raise ValueError(f"layers[{ly['name']}].tokens: {ly['tokens']} x "
                                 f"{tokens_scale} = {tokens} is not a whole number of tokens; "
                                 f"allowed: a scale that gives every layer whole tokens")
            layers.append({**ly, "tokens": int(tokens)})
        return workload_from_dict({**self.raw, "parallel": parallel, "layers": layers})


def workload_from_dict(raw, where="workload"):
    """Validate a workload dict -> :class:`Step`; raises ConfigError (one line per problem)."""
    import copy
    if not isinstance(raw, dict):
        raise ConfigError([f"{where}: {raw!r} is not allowed: must be a mapping with name "
                           f"and layers (see workloads/)"])
    raw = copy.deepcopy(raw)
    problems = _schema_errors(raw, SCHEMA)
    if problems:
        raise ConfigError(problems)
    raw = _fill_defaults(SCHEMA, raw)
    raw["parallel"].setdefault("data", 1)
    for ly in raw["layers"]:                  # defaults inside a list: filled here
        ly.setdefault("passes", list(PASSES))
    names = [ly["name"] for ly in raw["layers"]]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError([f"layers: name {dup[0]!r} is given twice; allowed: distinct "
                           f"layer names"])
    layers = tuple(Layer(ly["name"], ly["tokens"], ly["in"], ly["out"], tuple(ly["passes"]))
                   for ly in raw["layers"])
    return Step(raw["name"], raw["description"], raw["dtype"], raw["parallel"]["data"],
                tuple(raw["parallel"]["grid"]), raw["allreduce"]["algo"], layers, raw,
                tuple(sorted(raw["scale"].items())))


def load_workload(path):
    """Read a workload YAML file -> :class:`Step` (ConfigError on any problem)."""
    raw = read_yaml(path, "workload", "mapping")
    return workload_from_dict(raw, where=f"workload {str(path)!r}")
