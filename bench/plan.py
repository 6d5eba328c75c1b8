"""What one benchmark run measures: the grid of (model rate, @connections latency) cells, the variants compared in
each cell, the concurrency wave, the first-token runs and the cold-init sample sizes. `full_plan()` is `make bench`;
`quick_plan()` is the smoke test's and CI's (tiny sizes, same code paths)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from lambdas import config as relay_config

Protocol = Literal["baseline", "relay"]
"""How a variant's frames look: seed 001's JSON strings plus `{"type": "done"}`, or protocol v1 frames."""


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    action: str
    """The route the request names (`{"action": ...}`)."""
    protocol: Protocol
    coalesce_ms: int | None = None
    """RELAY_COALESCE_MS for this variant's requests; None keeps the relay's configured default."""


BASELINE = Variant("baseline", "bench_baseline", "baseline")
ENGINE = Variant("engine", "sendtext", "relay")


def engine_with_window(ms: int) -> Variant:
    return Variant(f"engine {ms}ms", "sendtext", "relay", coalesce_ms=ms)


def window_ms(variant: Variant) -> int | None:
    """The coalescing window a relay variant runs with (its own, or the relay's configured one); None for the
    baseline, which posts every chunk as it comes."""
    if variant.protocol != "relay":
        return None
    if variant.coalesce_ms is not None:
        return variant.coalesce_ms
    return relay_config.Settings.from_env().coalesce_ms  # not settings(): its cache belongs to the handlers


@dataclass(frozen=True, slots=True)
class Cell:
    rate: float
    """Simulated model speed, words ("tokens") per second after the first chunk."""
    latency_ms: float
    """Latency localgw adds to every @connections POST (`faults.latency_ms`)."""
    variants: tuple[Variant, ...] = (BASELINE, ENGINE)

    @property
    def label(self) -> str:
        return f"R={self.rate:g} L={self.latency_ms:g}ms"

    @property
    def swept(self) -> bool:
        """More than one coalescing window runs here: the cell gets a trade-off table and panel."""
        return sum(variant.protocol == "relay" for variant in self.variants) > 1


@dataclass(frozen=True, slots=True)
class Concurrency:
    clients: int
    tokens: int
    rate: float
    latency_ms: float
    ttft_ms: float = 400.0
    waves: int = 2
    """The first wave starts 200 answers on threads and pools that never ran that many (the cold wave); the second
    shows the steady state. Both are reported; the second is skipped when the first was not delivered in full
    (the numbers would mean nothing and it would only spend the time budget)."""
    answer_timeout_s: float = 45.0
    """Per client; a healthy 300-token answer at 60 tokens/s takes ~5.5 s."""
    connect_parallelism: int = 25
    """Handshakes in flight at once (each runs the real authorizer and $connect)."""


@dataclass(frozen=True, slots=True)
class FirstToken:
    repeat: int
    """Answers per DynamoDB latency; the latencies take turns, so drift on a shared machine hits each alike."""
    ddb_latencies_ms: tuple[float, ...] = (0.0, 20.0)
    """Added to every DynamoDB request (localgw's request tap): the difference tells the sequential round trips."""


@dataclass(frozen=True, slots=True)
class Usage:
    """One answer at a time on a connection of its own, per design: what it asks of each AWS service (bench.cost)."""

    repeat: int
    rate: float
    latency_ms: float
    tokens: int = 1000


@dataclass(frozen=True, slots=True)
class BenchPlan:
    cells: tuple[Cell, ...]
    tokens: int
    ttft_ms: float
    repeat: int
    concurrency: Concurrency | None
    first_token: FirstToken | None
    cold_init_runs: int
    """Fresh interpreters per side (ours, bare); the median is compared."""
    answer_timeout_s: float
    usage: Usage | None = None
    baseline_repeat_max: int = 2
    """The baseline runs min(repeat, this) times: its numbers are set by L × ~500 synchronous posts and barely move
    between repeats, and one baseline answer at L=50 ms costs ~27 s of the time budget."""
    quick: bool = False

    def with_repeat(self, repeat: int) -> BenchPlan:
        if repeat < 1:
            raise ValueError(f"--repeat must be at least 1, got {repeat}")
        return replace(self, repeat=repeat)

    def repeats_of(self, variant: Variant) -> int:
        return min(self.repeat, self.baseline_repeat_max) if variant.protocol == "baseline" else self.repeat

    @property
    def runs(self) -> int:
        return sum(self.repeats_of(variant) for cell in self.cells for variant in cell.variants)


def full_plan() -> BenchPlan:
    # Window sweeps where they teach something. At R=300/L=20 the window sets posts against lag, and the posts goal
    # (~50 frames per answer) needs a cycle of ~70 ms: 25–150 ms around the 50 ms default show the whole trade-off.
    # At R=60/L=50 a post costs 50 ms, so a 25 ms window cannot buy lag back, and 350 ms is what the posts goal needs
    # there (16.7 s of text in ~48 posts): its lag is the price.
    fast_sweep = tuple(engine_with_window(ms) for ms in (25, 75, 100, 150))
    slow_sweep = tuple(engine_with_window(ms) for ms in (25, 350))
    return BenchPlan(
        cells=(
            Cell(300, 20, (BASELINE, ENGINE, *fast_sweep)),
            Cell(150, 20),
            Cell(60, 50, (BASELINE, ENGINE, *slow_sweep)),
        ),
        tokens=1000,
        ttft_ms=400,
        repeat=3,
        concurrency=Concurrency(clients=200, tokens=300, rate=60, latency_ms=20),
        first_token=FirstToken(repeat=15),
        usage=Usage(repeat=2, rate=150, latency_ms=20),
        cold_init_runs=7,
        answer_timeout_s=120,
    )


def quick_plan() -> BenchPlan:
    return BenchPlan(
        # 80 tokens: the posts goal then leaves one text frame, so the trade-off's bound is finite here too.
        cells=(Cell(600, 5, (BASELINE, ENGINE, engine_with_window(25), engine_with_window(100))),),
        tokens=80,
        ttft_ms=50,
        repeat=1,
        concurrency=Concurrency(clients=8, tokens=40, rate=400, latency_ms=5, ttft_ms=50, waves=1, answer_timeout_s=30),
        first_token=FirstToken(repeat=3),
        usage=Usage(repeat=1, rate=600, latency_ms=5, tokens=80),
        cold_init_runs=1,
        answer_timeout_s=30,
        quick=True,
    )


def first_token_only(plan: BenchPlan) -> BenchPlan:
    """The same plan with nothing but its first-token runs (`python -m bench --first-token-only`)."""
    return replace(plan, cells=(), concurrency=None, cold_init_runs=0, usage=None)
