"""Run every benchmark and print one table of figures and ratios.

python -m bench.run            # the full run (1 GiB upload, 3 repeats)
python -m bench.run --record   # the same, its figures kept for docs/performance.md
python -m bench.run --quick    # a smoke run that keeps the benchmarks working (CI)
"""

from __future__ import annotations

import argparse
import sys

from bench import (
    cluster,
    coldstart,
    flood,
    gate_floods,
    history,
    observability,
    overhead,
    polling,
    scale,
    storage,
    subscriptions,
    tool_list,
    upload,
)
from bench.record import machine, record


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument(
        "--record", action="store_true", help="keep the figures for docs/performance.md"
    )
    args = parser.parse_args()
    if args.quick and args.record:
        parser.error("a quick run's figures are not kept: --record needs the full run")
    rows = tool_list.run()
    rows += upload.run(size_mib=64 if args.quick else 1024, repeats=1 if args.quick else 3)
    rows += coldstart.run(repeats=2 if args.quick else 30)
    rows += overhead.run(repeats=50 if args.quick else 500)
    rows += observability.run(repeats=50 if args.quick else 500)
    rows += history.run(repeats=5 if args.quick else 50)
    rows += polling.run()
    rows += scale.run(quick=args.quick)
    rows += subscriptions.run(sessions=20 if args.quick else 150)
    rows += gate_floods.run(initializes=300 if args.quick else 700)
    rows += storage.run(repeats=30 if args.quick else 300, quick=args.quick)
    rows += cluster.run(seconds=2.0 if args.quick else 10.0)
    rows += flood.run(quick=args.quick)
    print(f"descript-mcp benchmarks ({'quick' if args.quick else 'full'} run; {machine()})")
    width = max(len(name) for name, _ in rows)
    for name, figure in rows:
        print(f"  {name:<{width}}  {figure}")
    if args.record:
        print(f"kept in {record('run', rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
