"""The terminal chat: `python -m relay_client --url URL --token TOKEN ["question"]`.

With a question it answers once and exits: the answer's text on stdout, exit status 0 when the answer ends with
`done`, 1 with the error on stderr when it ends with `error` (or the connection fails). Without one it is an
interactive session: type a line, the answer streams as text, the next line continues the same conversation.
Ctrl-C stops the answer in flight (a second Ctrl-C, or Ctrl-C at the prompt, quits); Ctrl-D quits. A dropped
connection is picked up again without losing a word (RelayClient resumes the answer by seq).

`--json` prints the answer's frames as JSON lines instead (what wscat shows, duplicates removed and in order).
`--reasoning` asks the model to think first; `--attach FILE` (repeatable) sends files with the first question.
Commands at the prompt: `/new` (a new conversation), `/models`, `/history`, `/attach FILE`, `/quit`.

Rendering lives in `Renderer`: one method per event type, looked up in `Renderer.handlers`. The model's reasoning
is shown dimmed on stderr (stdout keeps exactly the answer's text), each tool call as a line of its own. `--clock`
offers the model one demo tool, `local_clock`: the chat runs each call, shows its result as a line, and sends the
results back (`toolResults`); the model's next answer follows. Frame types nobody handles are skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import signal
import sys
import threading
import zoneinfo
from collections.abc import Callable
from typing import Any, TextIO

from relay_client.client import Answer, ConnectionState, RelayClient, StateChange
from relay_client.errors import RelayError
from relay_client.events import Done, Error, Event, Reasoning, Result, Start, Text, ToolUse

MAX_TOOL_ROUNDS = 5
"""Tool rounds answered in a row at most: a model that keeps calling tools is stopped there."""
CLOCK_TOOL: dict[str, Any] = {
    "name": "local_clock",
    "description": "The current date and time on the user's computer, optionally in an IANA time zone.",
    "inputSchema": {"type": "object", "properties": {"timeZone": {"type": "string"}}},
}
"""The chat's demo client-side tool (`--clock`): the model calls it, the chat runs it and sends the result back."""

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
DIM, RESET = "\x1b[2m", "\x1b[0m"


class Renderer:
    """How an answer looks in the terminal. `out` gets the answer's text (or frames with `json_mode`), `err`
    everything about it (status lines, errors, connection state)."""

    def __init__(self, out: TextIO, err: TextIO, *, json_mode: bool = False, color: bool | None = None) -> None:
        self.out = out
        self.err = err
        self.json_mode = json_mode
        self.color = err.isatty() if color is None else color
        self.verbose = err.isatty()
        self._column = 0  # characters written on the current output line
        self._thinking = False  # a reasoning line is open on stderr
        self.handlers: dict[type, Callable[[Any], None]] = {
            Start: self.start,
            Text: self.text,
            Reasoning: self.reasoning,
            ToolUse: self.tool_use,
            Done: self.done,
            Error: self.error,
        }

    def event(self, event: Event) -> None:
        handler = self.handlers.get(type(event))
        if handler is not None:
            handler(event)

    def frame(self, frame: dict[str, Any]) -> None:
        self.out.write(json.dumps(frame, ensure_ascii=False, separators=(",", ":")) + "\n")
        self.out.flush()

    def start(self, event: Start) -> None:
        pass

    def text(self, event: Text) -> None:
        self.end_thinking()
        self.out.write(event.text)
        self.out.flush()
        self._column += len(event.text)

    def reasoning(self, event: Reasoning) -> None:
        """The model's reasoning: dimmed, on stderr, so stdout stays exactly the answer's text."""
        if event.redacted:
            self.end_thinking()
            self.note("[reasoning redacted by the model]")
            return
        if not self._thinking:
            self.end_line()
            self._thinking = True
            event_text = "thinking: " + event.text.lstrip()
        else:
            event_text = event.text
        self.err.write(f"{DIM}{event_text}{RESET}" if self.color else event_text)
        self.err.flush()

    def end_thinking(self) -> None:
        if self._thinking:
            self.err.write("\n")
            self.err.flush()
            self._thinking = False

    def tool_use(self, event: ToolUse) -> None:
        """A tool call, as one line: `→ tool NAME {input}`."""
        self.end_thinking()
        self.end_line()
        arguments = json.dumps(event.input, ensure_ascii=False, separators=(", ", ": "))
        self.note(f"→ tool {event.name} {arguments}  (id {event.tool_use_id})")

    def done(self, event: Done) -> None:
        self.end_thinking()
        self.end_line()
        if event.stop_reason == "cancelled":
            self.note("[cancelled]")
        elif event.stop_reason == "tool_use":
            self.note("[the model called a tool]")
        elif event.stop_reason != "end_turn":
            self.note(f"[stopped: {event.stop_reason}]")
        if self.verbose:
            parts: list[str] = []
            if event.usage.output_tokens is not None:
                parts.append(f"{event.usage.output_tokens} tokens")
            if event.metrics.first_token_ms is not None:
                parts.append(f"first token {event.metrics.first_token_ms} ms")
            self.note("[" + " · ".join(part for part in parts if part) + "]")

    def error(self, event: Error) -> None:
        self.end_thinking()
        self.end_line()
        self.failure(event.error)

    def failure(self, error: RelayError) -> None:
        details = ""
        if error.field:
            details += f" (field: {error.field})"
        if error.retry_after is not None:
            details += f" (retry after {error.retry_after:g} s)"
        self.err.write(f"error: {error.code}: {error.message}{details}\n")
        self.err.flush()

    def state(self, change: StateChange) -> None:
        if change.state == ConnectionState.RECONNECTING and change.attempt <= 1:
            self.note_inline("[connection lost; reconnecting…]")
        elif change.state == ConnectionState.OPEN and self._reconnecting:
            self.note_inline("[reconnected]")
        self._reconnecting = change.state == ConnectionState.RECONNECTING or (
            self._reconnecting and change.state != ConnectionState.OPEN
        )

    _reconnecting = False

    def note(self, text: str) -> None:
        self.err.write((f"{DIM}{text}{RESET}" if self.color else text) + "\n")
        self.err.flush()

    def note_inline(self, text: str) -> None:
        """A notice in the middle of streamed text: on stderr, without breaking the text on stdout."""
        if self.err.isatty() and self.out.isatty() and self._column:
            self.err.write("\n")
            self._column = 0
        self.note(text)

    def end_line(self) -> None:
        if self._column and not self.json_mode:
            self.out.write("\n")
            self.out.flush()
        self._column = 0


class Chat:
    def __init__(self, relay: RelayClient, renderer: Renderer, args: argparse.Namespace) -> None:
        self.relay = relay
        self.renderer = renderer
        self.args = args
        self.conversation_id: str | None = None
        self.answer: Answer | None = None
        self.interrupted = False
        self.attachments: list[str] = list(getattr(args, "attach", None) or [])  # sent with the next question
        self.tools: list[dict[str, Any]] = [CLOCK_TOOL] if getattr(args, "clock", False) else []

    async def turn(self, text: str) -> bool:
        """Ask, stream the answer (and, with `--clock`, the answers after each round of tool results), return True
        if the last one ended with `done`."""
        try:
            files, self.attachments = self.attachments, []
            uploaded = [await self.relay.attach(path) for path in files]
            for file in uploaded:
                self.renderer.note(f"[attached {file.file_name}, {file.size} bytes]")
            result = await self.stream(text=text, attachments=uploaded or None)
            rounds = 0
            while result is not None and result.stop_reason == "tool_use" and self.tools and rounds < MAX_TOOL_ROUNDS:
                rounds += 1
                tool_results = [self.run_tool(call) for call in result.tool_uses]
                result = await self.stream(tool_results=tool_results)
        except RelayError as exc:
            self.renderer.failure(exc)
            return False
        return result is not None

    async def stream(self, **fields: Any) -> Result | None:
        """One request: send it, render its events (or frames), return its Result (None when it ended in error)."""
        args = self.args
        self.answer = answer = await self.relay.ask(
            model=args.model,
            conversation_id=self.conversation_id,
            system=args.system,
            max_tokens=args.max_tokens,
            temperature=args.temperature,
            reasoning=True if getattr(args, "reasoning", False) else None,
            tools=self.tools or None,
            **fields,
        )
        try:
            if self.renderer.json_mode:
                async for frame in answer.frames():
                    self.renderer.frame(frame)
            else:
                async for event in answer:
                    self.renderer.event(event)
            return await answer.result()
        except RelayError:
            return None
        finally:
            self.answer = None
            self.conversation_id = answer.conversation_id or self.conversation_id

    def run_tool(self, call: ToolUse) -> dict[str, Any]:
        """Run a tool call here (the chat's one tool, the clock) and show its result as a line."""
        status, content = local_clock(call.input) if call.name == CLOCK_TOOL["name"] else ("error", "no such tool")
        self.renderer.note(f"← {call.name}: {json.dumps(content, ensure_ascii=False)}")
        return {"toolUseId": call.tool_use_id, "content": content, "status": status}

    def interrupt(self) -> bool:
        """Ctrl-C: cancel the answer in flight (True), or tell the caller to quit (False)."""
        answer = self.answer
        if answer is None or answer.finished or self.interrupted:
            return False
        self.interrupted = True
        self.renderer.note_inline("[cancelling; Ctrl-C again quits]")
        self.relay._background(answer.cancel())
        return True

    async def command(self, line: str) -> bool:
        """A /command at the prompt; False to quit."""
        name = line.split()[0]
        if name in ("/quit", "/exit"):
            return False
        try:
            if name == "/new":
                self.conversation_id = None
                self.renderer.note("[new conversation]")
            elif name == "/models":
                for model in await self.relay.models():
                    takes = [*(["tools"] if model.tools else []), *(["reasoning"] if model.reasoning else [])]
                    takes += [f"{kind}s" for kind in model.attachments]
                    details = f"  [{', '.join(takes)}]" if takes else ""
                    print(f"{model.id}{' (default)' if model.default else ''}{details}", file=self.renderer.out)
            elif name == "/attach":
                path = line[len(name) :].strip()
                if not path:
                    self.renderer.note("usage: /attach FILE (sent with your next message)")
                elif not os.path.isfile(path):
                    self.renderer.note(f"[no such file: {path}]")
                else:
                    self.attachments.append(path)
                    self.renderer.note(f"[{path} goes with your next message]")
            elif name == "/history":
                if self.conversation_id is None:
                    self.renderer.note("[no conversation yet]")
                else:
                    for turn in (await self.relay.history(self.conversation_id)).turns:
                        print(f"{turn.role}: {turn.text}", file=self.renderer.out)
            else:
                self.renderer.note("commands: /new /models /history /attach FILE /quit")
        except RelayError as exc:
            self.renderer.failure(exc)
        return True


def local_clock(arguments: dict[str, Any]) -> tuple[str, Any]:
    """(status, content) of the clock tool: now, in `timeZone` when given and known."""
    zone_name = arguments.get("timeZone")
    try:
        zone = zoneinfo.ZoneInfo(zone_name) if isinstance(zone_name, str) and zone_name else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return "error", f"unknown time zone: {zone_name}"
    now = datetime.datetime.now(zone).astimezone(zone)
    return "success", {"now": now.isoformat(timespec="seconds"), "timeZone": str(now.tzinfo)}


def _stdin_lines(loop: asyncio.AbstractEventLoop) -> asyncio.Queue[str | None]:
    """Lines of stdin, read by a daemon thread (it never keeps the process alive); None at end of input."""
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=read, name="stdin", daemon=True).start()
    return queue


async def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    renderer = Renderer(out, err, json_mode=args.json)
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    assert main_task is not None
    chat: Chat | None = None
    quitting = False

    def on_sigint() -> None:
        nonlocal quitting
        if chat is not None and chat.interrupt():
            return
        quitting = True
        main_task.cancel()

    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, on_sigint)
    relay = RelayClient(args.url, token=args.token, on_state=renderer.state)
    try:
        await relay.connect()
        chat = Chat(relay, renderer, args)
        if args.question:
            return EXIT_OK if await chat.turn(" ".join(args.question)) else EXIT_ERROR
        interactive = sys.stdin.isatty()
        lines = _stdin_lines(loop)
        while True:
            if interactive:
                out.write("> ")
                out.flush()
            line = await lines.get()
            if line is None:
                if interactive:
                    out.write("\n")
                return EXIT_OK
            line = line.strip()
            if not line:
                continue
            if line.startswith("/"):
                if not await chat.command(line):
                    return EXIT_OK
                continue
            chat.interrupted = False
            await chat.turn(line)
    except RelayError as exc:
        renderer.end_line()
        renderer.failure(exc)
        return EXIT_ERROR
    except asyncio.CancelledError:
        if not quitting:
            raise
        renderer.end_line()
        return EXIT_INTERRUPTED
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
        await relay.close()


def parser() -> argparse.ArgumentParser:
    arguments = argparse.ArgumentParser(
        prog="python -m relay_client",
        description="Chat with ws-llm-relay in the terminal: one question (argument) or an interactive session.",
    )
    arguments.add_argument("question", nargs="*", help="ask this once and exit (no question: interactive)")
    arguments.add_argument("--url", default=os.environ.get("RELAY_URL"), help="WebSocket URL (env RELAY_URL)")
    arguments.add_argument("--token", default=os.environ.get("RELAY_TOKEN"), help="access token (env RELAY_TOKEN)")
    arguments.add_argument("--model", help="a model id (see /models); default: the relay's default")
    arguments.add_argument("--system", help="a system prompt")
    arguments.add_argument("--max-tokens", type=int, dest="max_tokens")
    arguments.add_argument("--temperature", type=float)
    arguments.add_argument("--json", action="store_true", help="print the answer's frames as JSON lines")
    arguments.add_argument("--reasoning", action="store_true", help="ask the model to think first (shown dimmed)")
    arguments.add_argument(
        "--clock", action="store_true", help="offer the model a tool that reads this computer's clock, run here"
    )
    arguments.add_argument(
        "--attach", action="append", metavar="FILE", help="send FILE with the (first) question; repeatable"
    )
    return arguments


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.url:
        parser().error("--url (or RELAY_URL) is required")
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:  # before the loop's handler was installed, or on a platform without one
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
