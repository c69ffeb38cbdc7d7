"""``dojo``: the command line, a thin layer over the generator functions."""

import argparse
import json
import sys
from pathlib import Path

from .config import ConfigError, load_config

__all__ = ["main"]


def _add_config(p):
    p.add_argument("config", help="YAML config (see configs/)")
    p.add_argument("-s", "--set", dest="overrides", action="append", default=[],
                   metavar="KEY.PATH=VALUE", help="override a config value, e.g. router.vcs=2")


def cmd_derive(args):
    from .derive import derive, format_report
    cfg = load_config(args.config, args.overrides)
    d = derive(cfg)
    if args.json:
        print(json.dumps(d, indent=2, sort_keys=True))
    else:
        print(format_report(cfg, d, compare=args.compare))
    return 0


def cmd_sim(args):
    from .derive import derive, format_report
    cfg = load_config(args.config, args.overrides)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    d = derive(cfg)
    print(format_report(cfg, d))
    (out / "derive.json").write_text(json.dumps(d, indent=2, sort_keys=True) + "\n")
    print(f"\nreports written to {out}/")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="dojo", description="Dojo-style training-fabric generator: derive, generate, simulate.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("derive", help="physical derivation report (clock/wire -> mesh -> totals)")
    _add_config(p)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    p.add_argument("--compare", action=argparse.BooleanOptionalAction, default=None,
                   help="print published D1 vs derived (default: on for the d1 preset)")
    p.set_defaults(func=cmd_derive)

    p = sub.add_parser("sim", help="the main job on a config: derivation, then simulation")
    _add_config(p)
    p.add_argument("--out", default="build/sim", help="report directory (default: build/sim)")
    p.set_defaults(func=cmd_sim)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
