"""The baseline the benchmark measures against: seed 001's handler, the loop every public sample uses.

One synchronous `post_to_connection` per model chunk, inside the loop that reads the model. Kept faithful on
purpose, with two changes that only make the comparison fair or measurable: clients are created once (like the
relay's), and a final `{"type": "done"}` message marks the end (the seed sent none, so a client could not tell).
"""

from __future__ import annotations

import json
from typing import Any

from lambdas import clients
from lambdas.config import settings
from lambdas.delivery.poster import connections_endpoint


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    brt = clients.bedrock_runtime()
    apigw_management = clients.connections(connections_endpoint(event["requestContext"]))
    connection_id = event["requestContext"]["connectionId"]
    text = json.loads(event["body"])["text"]
    body = json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
            "max_tokens": 4096,
        }
    )
    response = brt.invoke_model_with_response_stream(
        body=body, modelId=settings().model_id, accept="application/json", contentType="application/json"
    )
    for item in response.get("body"):
        chunk = json.loads(item["chunk"]["bytes"])
        if chunk["type"] == "content_block_delta" and chunk["delta"]["type"] == "text_delta":
            apigw_management.post_to_connection(ConnectionId=connection_id, Data=json.dumps(chunk["delta"]["text"]))
    apigw_management.post_to_connection(ConnectionId=connection_id, Data=json.dumps({"type": "done"}))
    return {"statusCode": 200}
