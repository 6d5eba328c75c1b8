"""Keeps CloudWatch EMF metric blobs off localgw's terminal.

POWERTOOLS_METRICS_DISABLED=true stops the per-invocation flush, but Powertools 3.37 still prints a metric set when
one metric reaches 100 data points (`cloudwatch.py`, `add_metric`: that path does not check the flag). In Lambda an
execution environment flushes after every invocation, so it rarely gets there; in localgw every invocation shares
one process, so the 100th answer prints a blob of 100 values. The CLI wraps stdout with `EmfFilter` to drop those
lines; everything else passes through untouched.
"""

from __future__ import annotations

import threading
from typing import Any, TextIO

EMF_PREFIX = '{"_aws"'


class EmfFilter:
    """A text stream that drops whole lines starting with `{"_aws"` (Powertools' EMF output) and passes the rest.

    Lines are assembled per thread: `print()` writes the text and the newline in two calls, and handler threads
    print concurrently."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._local = threading.local()
        self.dropped = 0

    def write(self, text: str) -> int:
        pending = getattr(self._local, "pending", "") + text
        *lines, rest = pending.split("\n")
        for line in lines:
            if line.startswith(EMF_PREFIX):
                self.dropped += 1
            else:
                self._stream.write(line + "\n")
        if rest and not EMF_PREFIX.startswith(rest[: len(EMF_PREFIX)]):
            self._stream.write(rest)  # a partial line that cannot be EMF: no reason to hold it back
            rest = ""
        self._local.pending = rest
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        # isatty(), fileno(), encoding, ...: the wrapped stream's.
        return getattr(self._stream, name)
