"""Answering `sendtext`: one answer from the client's message to its last frame.

- `admission`: everything that can refuse the request (validation, the model catalogue, the conversation, the
  quotas, the turn, the requestId), in two table round trips before the model is called.
- `relay`: the relay loop, from the model's events to the delivery engine, with the Lambda's guards.
- `control`: the control watcher (cancel and resume requests of every answer of the process) and the one place a
  resume is served.
- `finish`: settle (turn, lease, tokens), drain, store the journal, serve a late resume.
- `report`: the answer's log line and metrics.
- `pipeline`: the stages in order, for the handler.
"""
