"""`make bench` / `python -m bench`: the per-chunk baseline and the relay's engine side by side on localgw.

    python -m bench               # the full run (~5 minutes): table, bench/results.json, bench/results.png
    python -m bench --quick       # tiny sizes (smoke test, CI): same code paths, numbers mean nothing
    python -m bench --repeat 5 --out /tmp/bench

Exit status 1 when any answer was incomplete, out of order or differed from the simulator's plan (a bug, not a
trade-off); goals that are not met are reported in the table, not in the exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

from bench import report
from bench.coldstart import ColdInit, measure_cold_init
from bench.concurrency import ConcurrencyResult, run_concurrency
from bench.gateway import CapturedConsole, SimulatorRecords, start_gateway
from bench.grid import GridRun, run_grid, warm_up
from bench.machine import describe
from bench.plan import BenchPlan, full_plan, quick_plan
from bench.plot import write_plot
from bench.summary import Row, Tradeoff, summarize, tradeoffs
from localgw import GatewayHandle
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
    return parser.parse_args(argv)


async def measure_live(
    plan: BenchPlan, handle: GatewayHandle, progress: Progress
) -> tuple[list[GridRun], ConcurrencyResult | None]:
    async with aiohttp.ClientSession(trust_env=False) as session:  # 127.0.0.1 only: never through a proxy
        records = SimulatorRecords(handle.url, session)
        variants = [variant for cell in plan.cells for variant in cell.variants]
        await warm_up(handle, variants, plan.answer_timeout_s)
        progress("gateway warm (one untimed answer per route)")
        # Concurrency first: every answer leaves items in moto's table, and moto's TransactWriteItems deep-copies the
        # whole table, so a wave after the grid would measure moto's slowdown more than the relay.
        concurrency = None
        if plan.concurrency is not None:
            setup = plan.concurrency
            progress(
                f"concurrency: {setup.clients} clients × up to {setup.waves} wave(s), {setup.tokens}-token answers, "
                f"R={setup.rate:g} L={setup.latency_ms:g}ms"
            )
            concurrency = await run_concurrency(setup, handle, records, progress)
        await records.clear()
        runs = await run_grid(plan, handle, records, progress)
    return runs, concurrency


def results_document(
    plan: BenchPlan,
    machine: dict[str, Any],
    cold: ColdInit | None,
    runs: list[GridRun],
    rows: list[Row],
    sweeps: list[Tradeoff],
    concurrency: ConcurrencyResult | None,
    elapsed_s: float,
) -> dict[str, Any]:
    return {
        "note": "SIMULATED model (localgw.simulator): a deterministic script paced like an LLM, not an LLM",
        "machine": machine,
        "elapsed_s": round(elapsed_s, 1),
        "plan": {
            "quick": plan.quick,
            "tokens": plan.tokens,
            "ttft_ms": plan.ttft_ms,
            "repeat": plan.repeat,
            "cells": [
                {"label": c.label, "rate": c.rate, "latency_ms": c.latency_ms, "variants": [v.name for v in c.variants]}
                for c in plan.cells
            ],
        },
        "goals": {
            "completion_ratio_max": report.goals.COMPLETION_RATIO_MAX,
            "posts_share_of_baseline_max": report.goals.POSTS_SHARE_OF_BASELINE_MAX,
            "lag_p95_max_ms": report.goals.LAG_P95_MAX_MS,
            "first_delta_overhead_max_ms": report.goals.FIRST_DELTA_OVERHEAD_MAX_MS,
            "cold_init_ratio_max": report.goals.COLD_INIT_RATIO_MAX,
        },
        "summary": [row.to_json() for row in rows],
        "tradeoff": [sweep.to_json() for sweep in sweeps],
        "runs": [run.to_json() for run in runs],
        "concurrency": None if concurrency is None else concurrency.to_json(),
        "cold_init": None if cold is None else cold.to_json(),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = quick_plan() if args.quick else full_plan()
    if args.repeat is not None:
        plan = plan.with_repeat(args.repeat)
    progress = Progress()
    machine = describe()
    for line in report.title(plan, machine):
        print(line, flush=True)

    # Cold init first, while no gateway threads compete for the CPU.
    cold = measure_cold_init(plan.cold_init_runs, progress) if plan.cold_init_runs else None

    captured = CapturedConsole()
    with quiet_handlers():
        handle = start_gateway(captured)
        progress(f"localgw at {handle.ws_url} (real authorizer, moto DynamoDB, simulated model)")
        try:
            runs, concurrency = asyncio.run(measure_live(plan, handle, progress))
            handler_errors = handle.stats.errors()
            invocations = handle.stats.invocations()
        finally:
            handle.stop()
    rows = summarize(runs, plan.cells)
    sweeps = tradeoffs(rows, runs)
    elapsed = time.monotonic() - progress.started

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    json_path, png_path = out / RESULTS_JSON, out / RESULTS_PNG
    machine["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    document = results_document(plan, machine, cold, runs, rows, sweeps, concurrency, elapsed)
    document["gateway"] = {
        "invocations": invocations,
        "crashed_invocations": handler_errors,
        "first_errors": captured.errors,
    }
    json_path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    write_plot(png_path, plan, runs, rows, sweeps, concurrency)

    print()
    for line in report.title(plan, machine):
        print(line)
    print()
    print(report.grid_table(rows))
    print(report.GOALS_LINE)
    for sweep in sweeps:
        print()
        print(report.tradeoff_heading(sweep))
        print(report.tradeoff_table(sweep))
        for line in report.tradeoff_verdict(sweep):
            print(line)
    if sweeps:
        print(report.TRADEOFF_NOTE)
    if concurrency is not None:
        print()
        print(report.concurrency_heading(concurrency))
        print(report.concurrency_table(concurrency))
    if cold is not None:
        print()
        print(report.cold_init_line(cold, plan.cold_init_runs))
    print()
    print("Goals for the relay's default engine:")
    for line in report.goal_summary(rows, cold, concurrency):
        print(line)
    crashed = sum(handler_errors.values())
    print(
        f"  {'handler invocations that crashed':<42} {report.goals.mark(not crashed)} {crashed} {handler_errors or ''}"
    )
    print()
    print(f"wrote {json_path}")
    print(f"wrote {png_path}")
    print(f"total {elapsed:.0f} s")

    incorrect = [run for run in runs if not run.ok]
    if concurrency is not None:
        incorrect += [c for wave in concurrency.waves for c in wave.clients if c.problems]  # type: ignore[misc]
    if incorrect:
        print(f"{len(incorrect)} answer(s) were incomplete, out of order or wrong: see 'problems' in {json_path}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
