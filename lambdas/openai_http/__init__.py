"""The OpenAI-compatible HTTP channel: `POST /v1/chat/completions` (streamed as SSE or not) and `GET /v1/models`,
beside the WebSocket API, with the same auth, quotas, catalogue, providers and relay loop.

- `schema`: the request body, validated strictly (msgspec), every refusal naming its `param`.
- `mapping`: a validated request → the relay's `ModelRequest` (the same one the WebSocket path builds).
- `errors`: the relay's error codes → OpenAI's error object and the HTTP status the SDKs turn into typed exceptions.
- `chunks`: `chat.completion.chunk`, `chat.completion`, usage and the SSE framing (pure).
- `answer`: one answer: the relay loop (`lambdas.answer.relay`) on a thread, its output as an async iterator.
- `app`: the aiohttp application (mounted at `/v1` in the Lambda, at `/{stage}/v1` in localgw).
- `server`: the Lambda's web server behind the Lambda Web Adapter (`run.sh` starts it).
"""

from lambdas.openai_http.app import AppOptions, create_app

__all__ = ["AppOptions", "create_app"]
