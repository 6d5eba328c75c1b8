"""One simulated request from arrival to the last byte: planning, pre-stream refusals, paced writing, the record.

Every wire format builds its frames (bytes due at planned times) and hands them to `SimulatorExchange.stream`, which
writes each frame at its absolute due time, stops as soon as the client is gone, and keeps the request's
`RequestRecord` accurate (emit timestamps taken right before each write).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from aiohttp import web

from .directives import DirectiveError
from .log import Emit, RequestOutcome, RequestRecord, SimulatorLog
from .script import Defaults, ReplyPlan, SimConversation, Timed, layout, plan_reply

DISCONNECT_POLL_SECONDS: Final = 0.05
"""While waiting for a frame's due time, how often to look whether the client has gone."""
THROTTLE_MEMORY: Final = 1000
"""How many distinct requests `throttle=N` remembers attempts for."""


@dataclass(frozen=True, slots=True)
class Frame:
    at: float
    """Seconds after the request arrived when these bytes are due."""
    data: bytes
    completes: tuple[int, ...] = ()
    """Plan chunk indices whose text is complete once these bytes are written."""


class Rejection(Exception):
    """A complete HTTP error response, raised by request parsing and turned into the reply by `SimulatorExchange`."""

    def __init__(self, status: int, code: str, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.body = body
        self.headers = dict(headers or {})


@dataclass(slots=True)
class SimulatorState:
    """Everything the simulator keeps between requests."""

    log: SimulatorLog = field(default_factory=SimulatorLog)
    defaults: Defaults = field(default_factory=Defaults)
    _attempts: OrderedDict[tuple[str, ...], int] = field(default_factory=OrderedDict)

    def count_attempt(self, key: tuple[str, ...]) -> int:
        """How many times this request has now been seen (for `throttle=N`); bounded memory."""
        attempts = self._attempts.pop(key, 0) + 1
        self._attempts[key] = attempts
        while len(self._attempts) > THROTTLE_MEMORY:
            self._attempts.popitem(last=False)
        return attempts


SIM_STATE_KEY: Final = web.AppKey("localgw_simulator_state", SimulatorState)
SIM_LOG_KEY: Final = web.AppKey("localgw_simulator_log", SimulatorLog)


def client_gone(request: web.BaseRequest) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def sleep_until(deadline: float, request: web.BaseRequest) -> bool:
    """Sleep until `time.monotonic() >= deadline`; False as soon as the client has gone."""
    while True:
        if client_gone(request):
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return True
        await asyncio.sleep(min(remaining, DISCONNECT_POLL_SECONDS))


class SimulatorExchange:
    """One request to the simulator."""

    def __init__(self, request: web.Request, format: str, model: str, *, request_id_header: str) -> None:
        self.request = request
        self.request_id_header = request_id_header
        """Response header carrying the record id (`x-amzn-RequestId` on AWS, `x-request-id` on OpenAI)."""
        self.state = request.app[SIM_STATE_KEY]
        self.record: RequestRecord = self.state.log.start(format, model)

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def started_at(self) -> float:
        return self.record.started_at

    def plan(
        self,
        conversation: SimConversation,
        *,
        invalid: Callable[[str], Rejection],
        throttled: Callable[[], Rejection],
    ) -> ReplyPlan:
        """The reply plan, or the format's own validation / throttling error."""
        try:
            plan = plan_reply(conversation, self.state.defaults)
        except DirectiveError as exc:
            raise invalid(str(exc)) from None
        self.state.log.update(
            self.record, turn=plan.turn, last_user_text=plan.last_user_text, chunks_planned=len(plan.chunks)
        )
        if plan.throttle is not None:
            key = (self.record.format, self.record.model, plan.text)
            if plan.throttle == 0 or self.state.count_attempt(key) <= plan.throttle:
                raise throttled()
        return plan

    def note_family(self, family: str) -> None:
        self.state.log.update(self.record, family=family)

    def reject(self, rejection: Rejection) -> web.Response:
        self.state.log.finish(self.record, RequestOutcome.REJECTED, status=rejection.status, error=rejection.code)
        headers = {**rejection.headers, self.request_id_header: self.id}
        return web.Response(status=rejection.status, body=rejection.body, headers=headers)

    async def stream(
        self,
        plan: ReplyPlan,
        frames: Sequence[Frame],
        headers: Mapping[str, str],
        *,
        error_code: str | None = None,
    ) -> web.StreamResponse:
        """Write `frames` at their due times. `error_code`: the mid-stream error the frames end with, if any."""
        response = web.StreamResponse(status=200, headers={**headers, self.request_id_header: self.id})
        log, record = self.state.log, self.record
        try:
            # Headers go out at once, as on AWS: the client's call returns and it starts waiting for events.
            await response.prepare(self.request)
            start = 0
            while start < len(frames):
                if not await sleep_until(self.started_at + frames[start].at, self.request):
                    log.finish(record, RequestOutcome.CLIENT_CLOSED, status=200)
                    return response
                # Every frame already due goes out in this one write. When the loop runs late (hundreds of streams in
                # one process), a write per overdue frame only adds syscalls to the backlog that made them late.
                end = _due_until(frames, start, time.monotonic() - self.started_at)
                batch = frames[start:end]
                sent_at = time.monotonic()
                await response.write(b"".join(frame.data for frame in batch))
                log.emitted(record, (self._emit(plan, index, sent_at) for frame in batch for index in frame.completes))
                start = end
            await response.write_eof()
        except ConnectionError:
            # aiohttp's ClientConnectionResetError ("Cannot write to closing transport") is a ConnectionError.
            log.finish(record, RequestOutcome.CLIENT_CLOSED, status=200)
            return response
        except asyncio.CancelledError:
            log.finish(record, RequestOutcome.CLIENT_CLOSED, status=200)
            raise
        if error_code is not None:
            log.finish(record, RequestOutcome.FAILED, status=200, error=error_code)
        else:
            log.finish(record, RequestOutcome.COMPLETED, status=200)
        return response

    @staticmethod
    def _emit(plan: ReplyPlan, index: int, sent_at: float) -> Emit:
        chunk = plan.chunks[index]
        return Emit(chunk=index, chars=len(chunk.text), t=sent_at, planned=chunk.at)


def _due_until(frames: Sequence[Frame], start: int, elapsed: float) -> int:
    """The end of the run of frames from `start` (always included) that are due `elapsed` seconds in."""
    end = start + 1
    while end < len(frames) and frames[end].at <= elapsed:
        end += 1
    return end


def failure_text(plan: ReplyPlan) -> str:
    """The message of a `fail_after` error: says it is simulated and which directive caused it."""
    return f"The simulated model failed after {len(plan.chunks_to_send)} chunks ([[sim fail_after={plan.fail_after}]])."


def text_frames(
    plan: ReplyPlan,
    *,
    opening: Sequence[bytes],
    delta: Callable[[int, bool], bytes],
    closing: Sequence[bytes],
    failure: bytes,
    before: Sequence[Timed[bytes]] = (),
    after: Sequence[Timed[bytes]] = (),
) -> list[Frame]:
    """`script.layout` as frames, ending with `failure` when the plan fails mid-stream."""
    items = layout(plan, opening, delta, closing, before, after)
    frames = [Frame(timed.at, timed.item, timed.completes) for timed in items]
    if plan.fails:
        frames.append(Frame(plan.end_at, failure))
    return frames
