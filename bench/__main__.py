"""`make bench` / `python -m bench`: the per-chunk baseline and the relay's engine side by side on localgw.

    python -m bench                    # the full run (~7 minutes): tables, bench/results.json, bench/results.png
    python -m bench --quick            # tiny sizes (smoke test, CI): same code paths, numbers mean nothing
    python -m bench --repeat 5 --out /tmp/bench
    python -m bench --first-token-only # only the first-token runs (15 per DynamoDB latency): a table, no files

Exit status 1 when any answer was incomplete, out of order or differed from the simulator's plan (a bug, not a
trade-off); goals that are not met are reported in the table, not in the exit status.

The modules, in reading order: `bench.plan` (what runs), `bench.run` (the gateway, the client and each run),
`bench.measure` (frames to figures, the goals and the bounds), `bench.report` (tables, results.json, the plot);
`bench.baseline` is the per-chunk handler the gateway runs next to the relay's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from bench import cost, report
from bench.measure import summarize, tradeoffs
from bench.plan import first_token_only, full_plan, quick_plan
from bench.run import CapturedConsole, run_cold_init, run_live, start_gateway
from localgw.terminal import EmfFilter

DEFAULT_OUT = Path(__file__).resolve().parent
RESULTS_JSON = "results.json"
RESULTS_PNG = "results.png"


class Progress:
    """Progress lines with the time since the start, flushed at once (people would rather see progress)."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f} s] {text}", flush=True)


@contextlib.contextmanager
def quiet_handlers() -> Iterator[None]:
    """Keep the handlers' Powertools noise off the report, as `python -m localgw` does (see localgw/terminal.py):
    every invocation shares this process, so Powertools prints an EMF blob each time a metric reaches 100 values."""
    terminal = sys.stdout
    sys.stdout = EmfFilter(terminal)  # type: ignore[assignment]
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="No application metrics to publish")
            yield
    finally:
        sys.stdout = terminal


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes for the smoke test and CI")
    parser.add_argument("--repeat", type=int, default=None, help="repeats per grid cell (default 3; --quick: 1)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    parser.add_argument(
        "--first-token-only", action="store_true", help="run only the first-token measurement; print, write nothing"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = quick_plan() if args.quick else full_plan()
    if args.repeat is not None:
        plan = plan.with_repeat(args.repeat)
    if args.first_token_only:
        plan = first_token_only(plan)
    progress = Progress()
    machine = report.describe_machine()
    for line in report.title(plan, machine):
        print(line, flush=True)

    # Cold init first, while no gateway threads compete for the CPU.
    cold = run_cold_init(plan.cold_init_runs, progress) if plan.cold_init_runs else None

    captured = CapturedConsole()
    with quiet_handlers():
        handle = start_gateway(captured)
        progress(f"localgw at {handle.ws_url} (real authorizer, moto DynamoDB, simulated model)")
        try:
            live = asyncio.run(run_live(plan, handle, progress))
            crashed = handle.stats.errors()
            invocations = handle.stats.invocations()
        finally:
            handle.stop()
    runs, concurrency, first_token = live.runs, live.concurrency, live.first_token
    costs = cost.summary(live.usage) if live.usage else None
    rows = summarize(runs, plan.cells)
    sweeps = tradeoffs(rows, runs)
    elapsed = time.monotonic() - progress.started

    print()
    print(report.text(plan, machine, rows, sweeps, concurrency, first_token, cold, crashed))
    print()
    if costs is not None:
        print(report.cost_text(costs))
        print()

    if not args.first_token_only:
        out: Path = args.out
        out.mkdir(parents=True, exist_ok=True)
        json_path, png_path = out / RESULTS_JSON, out / RESULTS_PNG
        machine["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
        gateway = {"invocations": invocations, "crashed_invocations": crashed, "first_errors": captured.errors}
        document = report.results_document(
            plan, machine, elapsed, cold, runs, rows, sweeps, concurrency, first_token, gateway
        )
        if costs is not None:
            document["cost"] = {"usage_runs": [usage.to_json() for usage in live.usage], **costs}
        report.write_json(json_path, document)
        report.write_plot(png_path, plan, runs, rows, sweeps, concurrency)
        print(f"wrote {json_path}")
        print(f"wrote {png_path}")
    print(f"total {elapsed:.0f} s")

    incorrect = sum(not run.ok for run in runs)
    if concurrency is not None:
        incorrect += sum(not client.checked.ok for wave in concurrency.waves for client in wave.clients)
    if incorrect:
        print(f"{incorrect} answer(s) were incomplete, out of order or wrong: see 'problems' in results.json")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
