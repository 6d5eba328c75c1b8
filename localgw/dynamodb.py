"""DynamoDB for local runs: moto's server on 127.0.0.1, holding the relay's one table (lambdas/table_schema.py)."""

from __future__ import annotations

import logging
import threading
from typing import Any

import boto3

from lambdas import table_schema
from localgw.environment import DUMMY_CREDENTIALS


def _serialized(app: Any) -> Any:
    """A WSGI middleware running one request at a time.

    moto's DynamoDB is not thread-safe: TransactWriteItems deep-copies the table while other threads write to it
    (a 500), and a conditional write can interleave with another. Real DynamoDB applies each request atomically;
    one lock gives localgw the same guarantee (moto answers in about a millisecond, so nobody waits long).
    """
    lock = threading.Lock()

    def application(environ: dict[str, Any], start_response: Any) -> Any:
        with lock:
            # The body is materialized inside the lock: moto's response iterables read shared state lazily.
            return list(app(environ, start_response))

    return application


class _SerializedMotoServer:
    """moto's ThreadedMotoServer, with every request serialized (see `_serialized`)."""

    def __init__(self, ip_address: str, port: int) -> None:
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from moto.server import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        app = _serialized(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(ip_address, port, app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="localgw-dynamodb", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def get_host_and_port(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()


class LocalDynamoDB:
    """moto's DynamoDB in an in-process werkzeug server, requests serialized, with the relay's table created in it."""

    def __init__(self, *, port: int = 0, region: str) -> None:
        self._port = port
        self._region = region
        self._server: Any = None
        self.url: str | None = None

    def start(self) -> str:
        # werkzeug logs every request at INFO; the gateway's console already says what happened.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = _SerializedMotoServer("127.0.0.1", self._port)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self.url

    def create_table(self, table_name: str) -> None:
        """Create the relay's table with TTL on. moto keeps its data per Python process, not per server, so a second
        gateway in the same process (tests) finds the table already there and shares it."""
        client = self.client()
        try:
            self._create(client, table_name)
        except client.exceptions.ResourceInUseException:
            return
        client.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": table_schema.TTL_ATTRIBUTE},
        )

    @staticmethod
    def _create(client: Any, table_name: str) -> None:
        client.create_table(
            TableName=table_name,
            KeySchema=[
                {"AttributeName": table_schema.PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": table_schema.SORT_KEY, "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"}
                for name in (
                    table_schema.PARTITION_KEY,
                    table_schema.SORT_KEY,
                    table_schema.OWNER_INDEX_PARTITION_KEY,
                    table_schema.OWNER_INDEX_SORT_KEY,
                )
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": table_schema.OWNER_INDEX,
                    "KeySchema": [
                        {"AttributeName": table_schema.OWNER_INDEX_PARTITION_KEY, "KeyType": "HASH"},
                        {"AttributeName": table_schema.OWNER_INDEX_SORT_KEY, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )

    def client(self) -> Any:
        """A boto3 DynamoDB client for this server (tests use it to look inside the table)."""
        if self.url is None:
            raise RuntimeError("LocalDynamoDB is not started")
        return boto3.client(
            "dynamodb",
            endpoint_url=self.url,
            region_name=self._region,
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
