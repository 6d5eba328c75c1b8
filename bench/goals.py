"""Issue 4's goals for the relay's delivery engine, in one place so the table, the JSON and the docs agree."""

from __future__ import annotations

COMPLETION_RATIO_MAX = 1.03
"""Client receives the terminal frame ≤ 3 % after the simulated model's last chunk (both from the request send)."""
POSTS_SHARE_OF_BASELINE_MAX = 0.10
"""Posts per 1000 tokens ≤ 1/10 of the per-chunk baseline's."""
LAG_P95_MAX_MS = 80.0
"""95 % of the model's chunks are on the client ≤ 80 ms after the model wrote them."""
FIRST_DELTA_OVERHEAD_MAX_MS = 5.0
"""The first delta costs ≤ 5 ms more than the model's first token, beyond the @connections latency L itself."""
COLD_INIT_RATIO_MAX = 1.3
"""Handler import + its clients ≤ 1.3 × bare `import boto3` + the same clients, in a fresh interpreter."""

PASS, FAIL = "✓", "✗"


def mark(ok: bool) -> str:
    return PASS if ok else FAIL
