"""Simulated LLM upstreams for localgw: a deterministic simulator speaking the real wire formats — not a model.

Bedrock (InvokeModelWithResponseStream for every model family, ConverseStream), SageMaker
(InvokeEndpointWithResponseStream: TGI / LMI) and OpenAI-compatible chat completions, all driven by one
deterministic script (`plan_reply`) and steerable with `[[sim ...]]` directives. See docs/simulator.md.
"""

from __future__ import annotations

from .app import REQUESTS_PATH, add_routes, create_app
from .directives import DirectiveError, Directives
from .exchange import SIM_LOG_KEY, SIM_STATE_KEY, SimulatorState
from .log import Emit, Outcome, RequestRecord, SimulatorLog, finished
from .script import Chunk, Conversation, Defaults, Message, ReplyPlan, StopReason, plan_reply
from .server import BackgroundServer

__all__ = [
    "REQUESTS_PATH",
    "SIM_LOG_KEY",
    "SIM_STATE_KEY",
    "BackgroundServer",
    "Chunk",
    "Conversation",
    "Defaults",
    "DirectiveError",
    "Directives",
    "Emit",
    "Message",
    "Outcome",
    "ReplyPlan",
    "RequestRecord",
    "SimulatorLog",
    "SimulatorState",
    "StopReason",
    "add_routes",
    "create_app",
    "finished",
    "plan_reply",
]
