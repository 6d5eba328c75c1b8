"""Simulated LLM upstreams for localgw: a deterministic simulator speaking the real wire formats — not a model.

Bedrock (InvokeModelWithResponseStream for every model family, ConverseStream), SageMaker
(InvokeEndpointWithResponseStream: TGI / LMI) and OpenAI-compatible chat completions, all driven by one
deterministic script (`plan_reply`) and steerable with `[[sim ...]]` directives. See docs/simulator.md.
"""

from __future__ import annotations

from .app import REQUESTS_PATH, add_routes, create_app
from .directives import DirectiveError, Directives
from .exchange import SIM_LOG_KEY, SIM_STATE_KEY, SimulatorState
from .log import Emit, RequestOutcome, RequestRecord, SimulatorLog, finished
from .script import Chunk, Defaults, ReplyPlan, SimConversation, SimMessage, SimStopReason, plan_reply
from .server import SimulatorServer

__all__ = [
    "REQUESTS_PATH",
    "SIM_LOG_KEY",
    "SIM_STATE_KEY",
    "Chunk",
    "Defaults",
    "DirectiveError",
    "Directives",
    "Emit",
    "ReplyPlan",
    "RequestOutcome",
    "RequestRecord",
    "SimConversation",
    "SimMessage",
    "SimStopReason",
    "SimulatorLog",
    "SimulatorServer",
    "SimulatorState",
    "add_routes",
    "create_app",
    "finished",
    "plan_reply",
]
