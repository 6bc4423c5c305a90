"""``python -m workbench demo``: Monte Carlo pi through every installed backend, as a table."""

from __future__ import annotations

import argparse
import sys

from . import backends, compare, shutdown
from .examples import calc_chunk, calc_pi


def demo(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workbench demo",
        description="Estimate pi with the same seeded Monte Carlo chunks on every installed "
                    "backend and compare start-up, wall time, speed-up and results.")
    parser.add_argument("--backends", default=",".join(backends.installed()),
                        help="comma-separated backends (default: every installed one)")
    parser.add_argument("--chunks", type=int, default=20, help="number of tasks (default 20)")
    parser.add_argument("--n", type=int, default=2_000_000,
                        help="random points per task (default 2,000,000)")
    parser.add_argument("--workers", type=int, default=None,
                        help="workers per backend (default: all cores)")
    args = parser.parse_args(argv)
    names = [b.strip() for b in args.backends.split(",") if b.strip()]
    items = [(args.n, i) for i in range(args.chunks)]
    print(f"workbench demo: pi from {args.chunks} chunks x {args.n:,} points on "
          f"{', '.join(names)}\n", flush=True)
    try:
        cmp = compare(calc_chunk, items, backends=names, star=True, workers=args.workers,
                      view="text")
    finally:
        shutdown()
    print()
    print(cmp.table())
    print()
    for name, run in cmp.runs.items():
        pi = calc_pi(run.results, args.n) if run.ok else float("nan")
        print(f"{name:>12}: pi = {pi:.6f}   ({run.counts_text()})")
    print("\nstart-up is kept apart from wall time; speed-up = serial wall / backend wall.")
    return 0 if cmp.all_same and all(run.ok for run in cmp) else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m workbench demo [--backends serial,process_map,dask,ray] "
              "[--chunks N] [--n N] [--workers N]")
        return 0 if argv else 2
    if argv[0] != "demo":
        print(f"unknown command {argv[0]!r}: the only command is 'demo'", file=sys.stderr)
        return 2
    return demo(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
