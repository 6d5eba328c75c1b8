"""The side-by-side runs: every variant in every (rate, latency) cell, one request at a time, repeated.

Within a repeat the variants of a cell run back to back, in an order rotated every repeat, so drift on a shared
machine spreads over all of them. Every variant of a (cell, repeat) asks the same question, so the simulated model
writes the very same answer at the very same pace for each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.answers import Answer, decode
from bench.client import exchange, open_socket
from bench.gateway import SimulatorRecords, coalesce_window
from bench.metrics import RunMetrics, measure, percentile
from bench.plan import BenchPlan, Cell, Variant
from localgw import GatewayHandle
from localgw.simulator import Conversation, ReplyPlan, plan_reply

Progress = Callable[[str], None]
GRID_USER = "bench-grid"


def question(label: str, tokens: int, rate: float, ttft_ms: float) -> str:
    return f"benchmark {label} [[sim tokens={tokens} rate={rate:g} ttft={ttft_ms:g}]]"


def expected_reply(text: str) -> ReplyPlan:
    return plan_reply(Conversation.of(("user", text)))


def relay_message(text: str, request_id: str) -> dict[str, Any]:
    return {"action": "sendtext", "text": text, "requestId": request_id}


def message_for(variant: Variant, text: str, request_id: str) -> dict[str, Any]:
    if variant.protocol == "relay":
        return relay_message(text, request_id)
    return {"action": variant.action, "text": text}


@dataclass(slots=True)
class GridRun:
    cell: Cell
    variant: Variant
    repeat: int
    order: int
    """Position in the whole run (0-based): shows interleaving in the JSON."""
    answer: Answer
    metrics: RunMetrics | None
    text_ok: bool
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "cell": self.cell.label,
            "rate": self.cell.rate,
            "latency_ms": self.cell.latency_ms,
            "variant": self.variant.name,
            "repeat": self.repeat,
            "order": self.order,
            "complete": self.answer.complete,
            "ordered": self.answer.ordered,
            "text_matches_plan": self.text_ok,
            "problems": self.problems,
            **(self.metrics.to_json() if self.metrics else {}),
        }


async def run_grid(
    plan: BenchPlan, handle: GatewayHandle, records: SimulatorRecords, progress: Progress
) -> list[GridRun]:
    runs: list[GridRun] = []
    total = plan.runs
    for repeat in range(plan.repeat):
        for cell_index, cell in enumerate(plan.cells):
            shift = repeat % len(cell.variants)
            ordered_variants = cell.variants[shift:] + cell.variants[:shift]
            text = question(f"{cell.label} repeat {repeat}", plan.tokens, cell.rate, plan.ttft_ms)
            for variant in ordered_variants:
                if repeat >= plan.repeats_of(variant):
                    continue
                request_id = f"grid-{cell_index}-{repeat}-{cell.variants.index(variant)}"
                run = await run_one(plan, handle, records, cell, variant, repeat, len(runs), text, request_id)
                runs.append(run)
                progress(f"[{len(runs):>2}/{total}] {cell.label:<14} repeat {repeat + 1}  {_brief(run)}")
    handle.faults.latency_ms = 0
    return runs


async def run_one(
    plan: BenchPlan,
    handle: GatewayHandle,
    records: SimulatorRecords,
    cell: Cell,
    variant: Variant,
    repeat: int,
    order: int,
    text: str,
    request_id: str,
) -> GridRun:
    reply = expected_reply(text)
    handle.faults.latency_ms = cell.latency_ms
    token = handle.dev_issuer.mint(GRID_USER) if handle.dev_issuer else None
    with coalesce_window(variant.coalesce_ms):
        ws = await open_socket(handle.ws_url, token)
        try:
            result = await exchange(ws, message_for(variant, text, request_id), variant.protocol, plan.answer_timeout_s)
        finally:
            await ws.close()
    answer = decode(
        variant.protocol, result.sent_at, result.frames, request_id if variant.protocol == "relay" else None
    )
    problems = list(answer.problems)
    if result.timed_out:
        problems.append(f"timeout: no terminal frame within {plan.answer_timeout_s:g} s")
    found = await records.finished_for({reply.last_user_text}, result.sent_at, limit=20)
    record = found.get(reply.last_user_text)
    metrics = None
    if record is None:
        problems.append("simulator: no finished record for this request")
    else:
        metrics = measure(answer, record, reply.output_tokens, cell.latency_ms)
        if metrics.missing_chunks:
            problems.append(f"completeness: {metrics.missing_chunks} chunk(s) never reached the client")
    text_ok = answer.text == reply.text
    if not text_ok:
        problems.append(f"text: {len(answer.text)} characters received, {len(reply.text)} planned, not equal")
    return GridRun(cell, variant, repeat, order, answer, metrics, text_ok, problems)


async def warm_up(handle: GatewayHandle, variants: list[Variant], timeout_s: float) -> None:
    """One short answer per route before anything is timed: imports, clients and pools are created here, like a
    Lambda execution environment's first invocation, so no measured run pays for them."""
    text = "benchmark warm-up [[sim tokens=20 rate=inf ttft=0]]"
    token = handle.dev_issuer.mint(GRID_USER) if handle.dev_issuer else None
    for variant in {variant.action: variant for variant in variants}.values():
        ws = await open_socket(handle.ws_url, token)
        try:
            result = await exchange(ws, message_for(variant, text, "warm-up"), variant.protocol, timeout_s)
        finally:
            await ws.close()
        answer = decode(variant.protocol, result.sent_at, result.frames)
        if result.timed_out or answer.problems or answer.text != expected_reply(text).text:
            raise RuntimeError(f"warm-up of {variant.action!r} failed: {answer.problems or 'timeout or wrong text'}")


def _brief(run: GridRun) -> str:
    head = f"{run.variant.name:<12}"
    if run.metrics is None:
        return f"{head} FAILED: {'; '.join(run.problems)}"
    m = run.metrics
    p95 = percentile(m.lags_ms, 95)
    status = "ok" if run.ok else "PROBLEMS: " + "; ".join(run.problems)
    return (
        f"{head} {m.completion_s or 0:6.2f} s  ratio {m.completion_ratio or 0:5.2f}  {m.frames:>4} frames  "
        f"lag p95 {p95:7.0f} ms  {status}"
    )
