"""Cancel and resume while an answer streams: the watcher that reads the requests, and the one place an answer
moves to a new connection.

One `ControlWatcher` serves every answer of an execution environment: the handler module builds it once and passes
it in. Its reads happen off the relay loop, so a slow table read never stalls an answer's text; and one read every
interval covers all the answers at once. On Lambda an environment streams one answer at a time, so nothing changes
there, but where many answers share a process (localgw runs every invocation in one) a thread and a read per answer
would make hundreds of threads and requests a second for no new information.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping

from lambdas.delivery.engine import Delivery
from lambdas.delivery.poster import Poster
from lambdas.observability import logger
from lambdas.store.answers import AnswerKey, Control

ControlReader = Callable[[Collection[AnswerKey]], Mapping[AnswerKey, Control]]
"""Reads what was asked of the given answers (cancel, resume): `lambdas.store.answers.Answers.poll`."""


class ControlWatcher:
    """Reads the cancel and resume requests of every watched answer every `interval_s`, on one thread that runs
    only while some answer is watched."""

    def __init__(self, read: ControlReader, interval_s: float) -> None:
        self._read = read
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._latest: dict[AnswerKey, Control] = {}
        self._thread: threading.Thread | None = None

    def watch(self, answer: AnswerKey) -> Watch:
        """Start watching `answer`; close the returned Watch when the answer ends."""
        with self._lock:
            self._latest[answer] = Control()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="answer-control", daemon=True)
                self._thread.start()
        return Watch(self, answer)

    def latest(self, answer: AnswerKey) -> Control:
        return self._latest.get(answer, Control())

    def forget(self, answer: AnswerKey) -> None:
        with self._lock:
            self._latest.pop(answer, None)

    def _run(self) -> None:
        while True:
            time.sleep(self._interval_s)
            with self._lock:
                answers = list(self._latest)
                if not answers:
                    self._thread = None  # the next watch() starts a new thread: none idles between answers
                    return
            try:
                found = self._read(answers)
            except Exception:  # a failed read must not end any answer: the next one may succeed
                logger.warning("cancel/resume check failed", exc_info=True)
                continue
            with self._lock:
                for answer, control in found.items():
                    if answer in self._latest:  # not an answer that ended during the read
                        self._latest[answer] = control


class Watch:
    """One answer's view of the watcher."""

    def __init__(self, watcher: ControlWatcher, answer: AnswerKey) -> None:
        self._watcher = watcher
        self.answer = answer

    def latest(self) -> Control:
        """What was asked of the answer, as of the watcher's last read."""
        return self._watcher.latest(self.answer)

    def close(self) -> None:
        self._watcher.forget(self.answer)


class Resumes:
    """Serves one answer's resume requests: each new one (requests carry increasing nonces) moves the rest of the
    answer to the connection that asked, after the seq it last received. The relay loop hands it what the watcher
    read while the answer streams; the finish hands it what the record held when the answer ended."""

    def __init__(self, delivery: Delivery, poster_for: Callable[[str], Poster]) -> None:
        self._delivery = delivery
        self._poster_for = poster_for
        self.served_nonce = 0
        """The last resume request served."""

    def serve(self, control: Control) -> bool:
        """Serve `control`'s resume request if it is new; True if the answer moved."""
        if control.resume_nonce <= self.served_nonce or not control.resume_connection:
            return False
        self.served_nonce = control.resume_nonce
        self._delivery.retarget(self._poster_for(control.resume_connection), control.resume_after)
        logger.info("answer resumed", extra={"resumeNonce": control.resume_nonce})
        return True
