"""One Lambda function per route, all from the single `lambdas` asset, each with its own role and log group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from lambdas.routes import Route
from stacks.config import RelayConfig
from stacks.constructs.bundling import ARCHITECTURE, RUNTIME
from stacks.constructs.log_groups import log_group
from stacks.nag import acknowledge

# Item reads and writes on this one table. Not grant_read_write_data(): that adds Scan, DescribeTable and stream
# reads, none of which a handler needs. Not table.grant() either: once the table has a secondary index it adds
# `{table}/index/*`; each index is granted by name instead, and only Query applies to an index.
TABLE_ACTIONS: tuple[str, ...] = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
)
INDEX_ACTIONS: tuple[str, ...] = ("dynamodb:Query",)

CATALOGUE_LISTING_ROUTES = frozenset({"models"})
"""Routes whose function lists the model catalogue without calling a model (streaming routes serve it)."""


class RelayFunctions(Construct):
    """`by_route` maps each route key to its function; `add_function` builds more from the same asset."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: RelayConfig,
        routes: Sequence[Route],
        code: lambda_.Code,
        table: dynamodb.ITable,
        table_indexes: Sequence[str] = (),
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._code = code
        self._table = table
        self._removal_policy = removal_policy
        by_route: dict[str, lambda_.Function] = {}
        for route in routes:
            function = self.add_function(
                route.function, route.handler, environment=self._route_environment(route), streaming=route.streaming
            )
            _grant_table(function, table, table_indexes)
            by_route[route.key] = function
        self.by_route: Mapping[str, lambda_.Function] = by_route

    def _route_environment(self, route: Route) -> dict[str, str]:
        # Streaming functions serve the catalogue and enforce the quotas; `models` only lists the catalogue.
        return self._config.function_environment(
            self._table.table_name,
            catalogue=route.streaming or route.key in CATALOGUE_LISTING_ROUTES,
            quotas=route.streaming,
        )

    def add_function(
        self, name: str, handler: str, *, environment: Mapping[str, str], streaming: bool = False
    ) -> lambda_.Function:
        """A function from the shared asset with its own role and log group; the role may write only to that group,
        and everything else is granted by the caller."""
        # An own role instead of the default one: the default attaches AWSLambdaBasicExecutionRole, which may write
        # to every log group in the account; this one may write only to its function's group.
        role = iam.Role(
            self,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs the relay's {name} function",
        )
        logs = log_group(self, f"{name}Logs", days=self._config.log_retention_days, removal_policy=self._removal_policy)
        logs.grant_write(role)
        # Not `name` alone: the CDK drops a construct id of exactly "Default" from logical ids, and the $default
        # route's function is called Default.
        function = lambda_.Function(
            self,
            f"{name}Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=self._code,
            handler=handler,
            memory_size=self._config.send_text_memory_mb if streaming else self._config.function_memory_mb,
            timeout=Duration.seconds(
                self._config.send_text_timeout_seconds if streaming else self._config.function_timeout_seconds
            ),
            environment=dict(environment),
            role=role,
            log_group=logs,
            description=f"WebSocket relay: {name}",
        )
        acknowledge(
            function,
            "AwsSolutions-L1",
            "Pinned to python3.13 on purpose: the asset's compiled wheels (msgspec) are fetched for cp313, so "
            "the runtime and the bundling target move together in one deliberate change.",
        )
        return function


def _grant_table(function: lambda_.Function, table: dynamodb.ITable, index_names: Sequence[str]) -> None:
    function.add_to_role_policy(
        iam.PolicyStatement(sid="TableItems", actions=list(TABLE_ACTIONS), resources=[table.table_arn])
    )
    if index_names:
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="TableIndexes",
                actions=list(INDEX_ACTIONS),
                resources=[f"{table.table_arn}/index/{name}" for name in index_names],
            )
        )
