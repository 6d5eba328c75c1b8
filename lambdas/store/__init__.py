"""The relay's single DynamoDB table: connections, answers (request records and transcripts), conversations.

| item | pk | sk |
|---|---|---|
| connection | `CONN#{connectionId}` | `META` |
| answer (request) | `REQ#{requestId}` | `META`; its frames after it ends: `FRAMES#{part}` |
| conversation | `CONV#{conversationId}` | `META`; turns: `TURN#{turn:05d}#{part:02d}` |
| quotas | `USER#{userId}` | `INFLIGHT`, `TOKENS#{day}` (lambdas.quotas) |
"""

from lambdas.store.connections import delete_connection, get_connection, put_connection

__all__ = ["delete_connection", "get_connection", "put_connection"]
