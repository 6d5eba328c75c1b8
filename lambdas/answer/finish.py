"""The end of an admitted answer: settle it, drain it, store its journal, serve a resume that came too late.

Settling is one transaction, made right before the terminal frame is queued (a client that asks again right after
`done` must find the answer in its conversation, and its slot free): the answer's turn, the in-flight lease
released, the output tokens charged. Then, once the last frames are posted, one update stores the frames for replay
and returns the record as it was, whose resume request — if one arrived after the relay loop's last look — is
served here.
"""

from __future__ import annotations

from collections.abc import Callable

from lambdas.answer.admission import Accepted
from lambdas.answer.control import Resumes
from lambdas.answer.relay import Outcome, estimate_tokens
from lambdas.delivery.engine import Delivery
from lambdas.observability import logger
from lambdas.protocol import StopReason
from lambdas.store import Store
from lambdas.store.conversations import COMPLETE, PARTIAL, Turn
from lambdas.store.errors import StoreError
from lambdas.store.table import Write

_COMPLETE_STOPS = frozenset({StopReason.END_TURN, StopReason.MAX_TOKENS, StopReason.STOP_SEQUENCE, StopReason.TOOL_USE})
_MAX_SETTLE_TEXT_BYTES = 3_000_000
"""Longer answers are stored write by write: a transaction carries at most 4 MB."""


class Finish:
    """The end of one admitted answer."""

    def __init__(self, store: Store, accepted: Accepted, delivery: Delivery, resumes: Resumes) -> None:
        self._store = store
        self._accepted = accepted
        self._delivery = delivery
        self._resumes = resumes
        self._settled = False

    def settle(self, outcome: Outcome, text: str) -> None:
        """Store the answer's turn, release its lease and charge its tokens, at most once; never raises (the
        lease expires on its own and the day's count is soft, and no failure here may cost the client its
        terminal frame)."""
        if self._settled:
            return
        self._settled = True
        accepted = self._accepted
        complete = outcome.status == "done" and outcome.stop_reason in _COMPLETE_STOPS
        turn = Turn(
            accepted.answer_turn,
            "assistant",
            text,
            request_id=accepted.request_id,
            status=COMPLETE if complete else PARTIAL,
            stop=outcome.stop_reason if outcome.error_code is None else outcome.error_code,
            tool_uses=outcome.tool_calls,
            reasoning=outcome.reasoning,
        )
        tokens = outcome.output_tokens if outcome.output_tokens is not None else estimate_tokens(len(text))
        quotas = self._store.quotas
        writes: list[Write] = [
            *self._store.conversations.turn_writes(accepted.conversation_id, turn),
            *quotas.settle_writes(accepted.user, accepted.request_id, tokens),
        ]
        if len(text.encode("utf-8", "replace")) <= _MAX_SETTLE_TEXT_BYTES:
            try:
                self._store.transact(writes)
                return
            except StoreError:
                logger.warning("settling the answer in one transaction failed; writing one by one", exc_info=True)
        for write in writes:
            try:
                self._store.table.write(write)
            except StoreError:
                logger.exception("settling the answer failed", extra={"write": write.name})

    def close(self, outcome: Outcome, time_left: Callable[[], float]) -> None:
        """Settle (if the relay never did), wait for the last frames, store them for replay, serve a late resume,
        and stop the sender."""
        delivery = self._delivery
        self.settle(outcome, delivery.text_so_far())
        delivery.wait(timeout=time_left())
        if delivery.complete:
            try:
                last = self._store.answers.end(self._accepted.user, self._accepted.request_id, delivery.journal)
            except Exception:
                logger.exception("storing the answer's frames failed; it cannot be replayed")
            else:
                if self._resumes.serve(last):
                    delivery.wait(timeout=time_left())
        delivery.stop()
