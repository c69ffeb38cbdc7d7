"""Speed of the fast model alone: simulated cycles per second and peak memory.

``python -m sim.netmodel.speed CONFIG --rate 0.1 --cycles 20000 [-s KEY=VALUE ...]``
builds the model of the config, runs ``--warmup`` cycles with every generator on
(uniform, single-flit packets), then times ``--cycles`` more, ``--repeat`` times
from the same state, and prints one JSON object: the best and every run's
cycles/s, node-cycles/s, the peak resident memory of the process (MiB), the
model's state size and the flits delivered (so a run that moved nothing shows).
The benchmarks start it as a subprocess, so that the peak memory is the model's.
"""

import argparse
import json
import resource
import sys
import time

__all__ = ["measure", "main"]


def measure(cfg, derived, *, rate, cycles, warmup=1000, repeat=3, pattern="uniform",
            threads=1):
    """``{cycles_per_s, runs_cycles_per_s, node_cycles_per_s, state_mib, flits, ...}``."""
    from rtl.measure.traffic import Pattern, rate_threshold
    from .network import NetworkModel, ctrl_vector
    model = NetworkModel(cfg, derived, threads=threads)
    fields = {"pattern": Pattern[pattern.upper()], "packet_len": 1}
    model.run(1, ctrl_vector(**fields))                     # compile (or load the cache)
    on = ctrl_vector(enable=1, rate=rate_threshold(rate, 1), **fields)
    model.reset(ctrl_vector(**fields))
    model.run(warmup, on)
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        model.run(cycles, on)
        runs.append(cycles / (time.perf_counter() - t0))
    best = max(runs)
    return {"cycles_per_s": best, "runs_cycles_per_s": runs,
            "node_cycles_per_s": best * model.n_nodes, "nodes": model.n_nodes,
            "threads": threads,
            "state_mib": model.state_bytes() / 2**20,
            "flits_delivered": int(model.node_stats()["sink.flits"].sum()),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv=None):
    from gen.config import ConfigError, load_config
    from gen.derive import derive
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("-s", "--set", dest="overrides", action="append", default=[])
    parser.add_argument("--rate", type=float, default=0.1, help="offered flits/node/cycle")
    parser.add_argument("--cycles", type=int, default=20000, help="timed cycles per run")
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pattern", default="uniform")
    parser.add_argument("--threads", type=int, default=1, help="threads of the cycle loop")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config, args.overrides)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    print(json.dumps(measure(cfg, derive(cfg), rate=args.rate, cycles=args.cycles,
                             warmup=args.warmup, repeat=args.repeat, pattern=args.pattern,
                             threads=args.threads)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
