"""The design points of a grid: the cross product of config values, each one validated
before anything runs.

``--grid router.vcs=1,2,4 --grid router.buffer_depth=4,8`` with two patterns and one
seed is 3 x 2 x 2 = 12 design points; each is a sweep (one task per offered rate, see
:mod:`sim.explore.cluster`). A value is parsed as YAML, as ``-s KEY=VALUE`` is, and every
combination goes through the config schema and the derivation's consistency checks:
all problems are collected (each message once, however many combinations share it) and
raised together as one :class:`gen.config.ConfigError`.
"""

import itertools
from dataclasses import dataclass, field

from gen.config import ConfigError, load_config, parse_override

__all__ = ["DesignPoint", "parse_grid", "parse_list", "design_points"]


@dataclass(frozen=True)
class DesignPoint:
    """One sweep of a grid: a config (the grid's values applied), a pattern and a seed."""
    params: tuple           # ((key, value parsed as YAML), ...) in the grid's order
    texts: tuple            # ((key, value as written), ...): names and labels
    pattern: str
    seed: int
    cfg: object = field(compare=False, repr=False)

    @property
    def config_label(self):
        """``router.vcs=2,router.buffer_depth=4`` (``base`` for an empty grid)."""
        return ",".join(f"{k}={v}" for k, v in self.texts) or "base"

    @property
    def label(self):
        """A directory name unique in the grid: config label / pattern-seed."""
        return f"{self.config_label}/{self.pattern}-seed{self.seed}"


def parse_grid(texts, option="--grid"):
    """``['router.vcs=1,2,4', ...]`` -> ``[('router.vcs', ['1', '2', '4']), ...]``
    (``option`` names the command-line option in the messages)."""
    grid, problems = [], []
    for text in texts:
        key, sep, values = text.partition("=")
        key = key.strip()
        items = [v.strip() for v in values.split(",")]
        if not sep or not key or not values.strip():
            problems.append(f"{option} {text!r}: expected KEY.PATH=V1,V2,... "
                            f"(e.g. router.vcs=1,2,4)")
        elif any(not v for v in items):
            problems.append(f"{option} {key}: empty value in {values!r}")
        elif key in dict(grid):
            problems.append(f"{option} {key}: given twice (one {option} per key, values "
                            f"comma-separated)")
        elif len(set(items)) != len(items):
            problems.append(f"{option} {key}: a value is repeated in {values!r}")
        else:
            grid.append((key, items))
    if problems:
        raise ConfigError(problems)
    return grid


def parse_list(option, text, allowed=None, kind=str):
    """A comma-separated option (``--pattern uniform,transpose``, ``--seeds 1,2``)."""
    items = [v.strip() for v in text.split(",")]
    out = []
    for item in items:
        try:
            value = kind(item)
        except ValueError:
            raise ConfigError([f"{option} {item!r}: not allowed: must be "
                               f"{'an integer' if kind is int else 'a name'}"]) from None
        if allowed is not None and value not in allowed:
            raise ConfigError([f"{option} {item!r}: not allowed: must be one of "
                               f"{', '.join(map(str, allowed))}"])
        if kind is int and value < 1:
            raise ConfigError([f"{option} {item!r}: not allowed: must be >= 1"])
        if value in out:
            raise ConfigError([f"{option} {item!r}: given twice"])
        out.append(value)
    return out


def design_points(config, overrides, grid, patterns, seeds, packet_len=1):
    """Every design point of ``grid`` (from :func:`parse_grid`) x ``patterns`` x ``seeds``,
    each config loaded and validated; raises one ConfigError with every problem found."""
    axes = [[(key, text) for text in values] for key, values in grid]
    problems, configs = [], []

    def problem(text):
        if text not in problems:
            problems.append(text)

    for combo in itertools.product(*axes):
        sets = [f"{k}={v}" for k, v in combo]
        try:
            cfg = load_config(config, list(overrides) + sets)
        except ConfigError as exc:
            for text in exc.problems:
                problem(text)
            continue
        if not 1 <= packet_len <= cfg.router.max_packet_flits:
            problem(f"--packet-len {packet_len}: not allowed with "
                    f"{','.join(sets) or 'the config'}: must be in "
                    f"1..{cfg.router.max_packet_flits} (router.max_packet_flits)")
            continue
        params = tuple((k, parse_override(f"{k}={v}")[1]) for k, v in combo)
        configs.append((params, tuple(combo), cfg))
    if problems:
        raise ConfigError(problems)
    return [DesignPoint(params, texts, pattern, seed, cfg)
            for params, texts, cfg in configs for pattern in patterns for seed in seeds]
