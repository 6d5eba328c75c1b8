"""Operating the relay: one CloudWatch dashboard, the alarms and their encrypted SNS topic, and the cost and tracing
switches that apply to functions and table the other constructs built.

The dashboard and alarms read the relay's own EMF metrics (namespace `WsRelay`, lambdas/observability.py and
lambdas/answer/report.py) and AWS's. `RELAY_METRICS` names every relay metric a widget or alarm may use; a template
test checks that each one is emitted somewhere in lambdas/.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from lambdas import env_vars
from lambdas.observability import NAMESPACE, SERVICE
from lambdas.routes import Route
from stacks.config import RelayConfig
from stacks.nag import acknowledge

PERIOD = Duration.minutes(5)
"""Every alarm looks at 5-minute periods, and fires on one bad period: a relay problem is seen by users at once."""
GRAPH_PERIOD = Duration.minutes(1)

RELAY_METRICS: frozenset[str] = frozenset(
    {
        "Answers",
        "AnswerErrors",
        "AnswersEnded",
        "TimeToFirstToken",
        "OutputTokens",
        "TotalTime",
        "Posts",
        "RejectedRequests",
        "ConnectionsDenied",
        "AuthorizerErrors",
    }
)
"""The relay metrics this construct uses (each must be emitted by lambdas/: tests/stack/test_stack_operations.py)."""


def relay_metric(name: str, statistic: str = "Sum", **dimensions: str) -> cloudwatch.Metric:
    """A `WsRelay` metric over every model (Powertools always adds the `service` dimension)."""
    if name not in RELAY_METRICS:
        raise ValueError(f"{name} is not one of RELAY_METRICS")
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map={"service": SERVICE, **dimensions},
        statistic=statistic,
        period=GRAPH_PERIOD,
    )


def relay_search(name: str, dimension: str, statistic: str = "Sum", label: str = "") -> cloudwatch.MathExpression:
    """One line per value of `dimension` (per model, per ending, per rejection code): a SEARCH, because the values
    are only known at run time."""
    if name not in RELAY_METRICS:
        raise ValueError(f"{name} is not one of RELAY_METRICS")
    return cloudwatch.MathExpression(
        expression=(
            f'SEARCH(\'{{{NAMESPACE},{dimension},service}} MetricName="{name}" service="{SERVICE}"\', '
            f"'{statistic}', {GRAPH_PERIOD.to_seconds()})"
        ),
        using_metrics={},
        label=label or name,
        period=GRAPH_PERIOD,
    )


def apply_cost_caps(config: RelayConfig, functions: Mapping[str, lambda_.Function], streaming: Sequence[str]) -> None:
    """Reserved concurrency on the streaming functions (`sendTextReservedConcurrency`): a hard cap on answers in
    flight, and so on model spend per minute; requests beyond it are throttled by Lambda (API Gateway then sends
    the client its own error message, not a relay frame)."""
    for key in streaming:
        if config.send_text_reserved_concurrency:
            cfn = functions[key].node.default_child
            assert isinstance(cfn, lambda_.CfnFunction)
            cfn.reserved_concurrent_executions = config.send_text_reserved_concurrency


def enable_tracing(functions: Sequence[lambda_.Function]) -> None:
    """Active X-Ray tracing and Powertools Tracer (RELAY_TRACING) on `functions`, each allowed to write traces."""
    for function in functions:
        cfn = function.node.default_child
        assert isinstance(cfn, lambda_.CfnFunction)
        cfn.tracing_config = lambda_.CfnFunction.TracingConfigProperty(mode="Active")
        function.add_environment(env_vars.TRACING, "true")
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="XRayTraces", actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"]
            )
        )
        acknowledge(
            function.role,  # type: ignore[arg-type]
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level permissions: AWS documents "
            "`*` as their only resource, and they can only write trace data.",
        )


def grant_table_key(table: dynamodb.ITable, functions: Sequence[lambda_.Function]) -> None:
    """With a customer-managed table key, the functions that read and write items must use it, through DynamoDB
    only (kms:ViaService)."""
    key = table.encryption_key
    if key is None:
        return
    for function in functions:
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="TableKey",
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{Aws.REGION}.amazonaws.com"}},
            )
        )


class RelayOperations(Construct):
    """Exposes `dashboard`, `alarms` (by name) and `topic` (None with `alarms=false`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: RelayConfig,
        routes: Sequence[Route],
        functions: Mapping[str, lambda_.Function],
        authorizer: lambda_.Function,
        table: dynamodb.ITable,
        api: apigwv2.WebSocketApi,
        http_api: apigateway.RestApi | None = None,
        http_function: lambda_.Function | None = None,
        http_authorizer: lambda_.Function | None = None,
    ) -> None:
        """`http_*`: the OpenAI-compatible HTTP channel when deployed, graphed, alarmed and traced like the WebSocket
        side; its function (not its authorizer) uses the table, and so its key."""
        super().__init__(scope, construct_id)
        streaming = [route.key for route in routes if route.streaming]
        http = [function for function in (http_function, http_authorizer) if function is not None]
        apply_cost_caps(config, functions, streaming)
        grant_table_key(table, [*functions.values(), *([http_function] if http_function else [])])
        if config.tracing:
            enable_tracing([*functions.values(), authorizer, *http])
        self._http_api = http_api
        self._config = config
        # The dashboard and alarms watch the first streaming route's function (SendText).
        self._function = functions[streaming[0]]
        self._table = table
        self._api_dimensions = {"ApiId": api.api_id, "Stage": config.stage}
        self.dashboard = self._dashboard()
        self.topic: sns.Topic | None = None
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        if config.alarms:
            self.topic = self._topic()
            self.alarms = self._alarms()
            action = cloudwatch_actions.SnsAction(self.topic)
            for alarm in self.alarms.values():
                alarm.add_alarm_action(action)
                alarm.add_ok_action(action)

    # --- metrics ------------------------------------------------------------------------------------------------

    def _api(self, name: str, statistic: str = "Sum") -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/ApiGateway",
            metric_name=name,
            dimensions_map=self._api_dimensions,
            statistic=statistic,
            period=GRAPH_PERIOD,
        )

    def _dynamodb_throttles(self, period: Duration) -> cloudwatch.MathExpression:
        reads = self._table.metric("ReadThrottleEvents", statistic="Sum", period=period)
        writes = self._table.metric("WriteThrottleEvents", statistic="Sum", period=period)
        return cloudwatch.MathExpression(
            expression="FILL(r, 0) + FILL(w, 0)",
            using_metrics={"r": reads, "w": writes},
            label="DynamoDB throttle events",
            period=period,
        )

    def _api_server_errors(self, period: Duration) -> cloudwatch.MathExpression:
        # WebSocket APIs have no 5XXError metric: ExecutionError (the gateway) and IntegrationError (a route's
        # Lambda failed or timed out) are its server-side errors; ClientError is the 4xx side.
        return cloudwatch.MathExpression(
            expression="FILL(e, 0) + FILL(i, 0)",
            using_metrics={
                "e": self._api("ExecutionError").with_(period=period),
                "i": self._api("IntegrationError").with_(period=period),
            },
            label="API Gateway server errors (ExecutionError + IntegrationError)",
            period=period,
        )

    def _concurrency(self) -> tuple[cloudwatch.Metric, float, str]:
        """The concurrency metric the alarm watches, its limit and what the limit is."""
        reserved = self._config.send_text_reserved_concurrency
        if reserved:
            metric = self._function.metric("ConcurrentExecutions", statistic="Maximum", period=PERIOD)
            return metric, reserved, "the streaming function's reserved concurrency"
        account = cloudwatch.Metric(
            namespace="AWS/Lambda", metric_name="ConcurrentExecutions", statistic="Maximum", period=PERIOD
        )
        return account, self._config.account_concurrency_limit, "the account's concurrency (accountConcurrencyLimit)"

    # --- dashboard ----------------------------------------------------------------------------------------------

    def _dashboard(self) -> cloudwatch.Dashboard:
        fn = self._function
        widgets: list[list[cloudwatch.IWidget]] = [
            [
                cloudwatch.TextWidget(
                    markdown=(
                        f"# {self._config.stack_name} ({self._config.stage})\n"
                        "Relay metrics (`WsRelay`, emitted per answer) and the AWS ones behind them. "
                        "See docs/operations.md for what each graph means and what to do."
                    ),
                    width=24,
                    height=2,
                )
            ],
            [
                _graph("Answers per minute by model", [relay_search("Answers", "model")]),
                _graph(
                    "Time to first token (ms)",
                    [
                        relay_metric("TimeToFirstToken", "p50").with_(label="p50"),
                        relay_metric("TimeToFirstToken", "p95").with_(label="p95"),
                    ],
                ),
                _graph(
                    "Output tokens/s",
                    [
                        cloudwatch.MathExpression(
                            expression="FILL(t, 0) / PERIOD(t)",
                            using_metrics={"t": relay_search("OutputTokens", "model")},
                            label="tokens/s",
                            period=GRAPH_PERIOD,
                        )
                    ],
                ),
            ],
            [
                _graph(
                    "Posts per answer",
                    [
                        cloudwatch.MathExpression(
                            expression="p / a",
                            using_metrics={"p": relay_metric("Posts"), "a": relay_metric("Answers")},
                            label="@connections posts per answer",
                            period=GRAPH_PERIOD,
                        )
                    ],
                ),
                _graph(
                    "Answers by ending (error codes, gone, cancelled, time_limit)",
                    [relay_search("AnswersEnded", "ending")],
                ),
                _graph(
                    "Rejected requests by code; connections denied",
                    [
                        relay_search("RejectedRequests", "code"),
                        relay_metric("ConnectionsDenied").with_(label="connections denied"),
                        relay_metric("AuthorizerErrors").with_(label="authorizer errors"),
                    ],
                ),
            ],
            [
                _graph(
                    "Streaming function: duration p95 (ms)", [fn.metric_duration(statistic="p95", period=GRAPH_PERIOD)]
                ),
                _graph(
                    "Streaming function: errors, throttles",
                    [
                        fn.metric_errors(period=GRAPH_PERIOD, label="errors"),
                        fn.metric_throttles(period=GRAPH_PERIOD, label="throttles"),
                    ],
                ),
                _graph(
                    "Streaming function: concurrent executions",
                    [fn.metric("ConcurrentExecutions", statistic="Maximum", period=GRAPH_PERIOD)],
                ),
            ],
            [
                _graph(
                    "DynamoDB: throttles and system errors",
                    [
                        self._dynamodb_throttles(GRAPH_PERIOD),
                        self._table.metric_system_errors_for_operations(
                            operations=[
                                dynamodb.Operation.GET_ITEM,
                                dynamodb.Operation.PUT_ITEM,
                                dynamodb.Operation.UPDATE_ITEM,
                                dynamodb.Operation.QUERY,
                                dynamodb.Operation.TRANSACT_WRITE_ITEMS,
                                dynamodb.Operation.TRANSACT_GET_ITEMS,
                                dynamodb.Operation.BATCH_GET_ITEM,
                            ],
                            period=GRAPH_PERIOD,
                            label="system errors",
                        ),
                    ],
                ),
                _graph(
                    "API Gateway: connects, messages",
                    [
                        self._api("ConnectCount").with_(label="connects"),
                        self._api("MessageCount").with_(label="messages"),
                    ],
                ),
                _graph(
                    "API Gateway: client (4xx) and server (5xx) errors, integration latency",
                    [
                        self._api("ClientError").with_(label="client errors (4xx)"),
                        self._api_server_errors(GRAPH_PERIOD),
                    ],
                    right=[self._api("IntegrationLatency", "p95").with_(label="integration latency p95 (ms)")],
                ),
            ],
        ]
        if self._http_api is not None:
            http = self._http_api
            widgets.append(
                [
                    _graph(
                        "HTTP API (OpenAI-compatible): requests, 4xx, 5xx",
                        [
                            http.metric_count(period=GRAPH_PERIOD, label="requests"),
                            http.metric_client_error(period=GRAPH_PERIOD, label="4xx"),
                            http.metric_server_error(period=GRAPH_PERIOD, label="5xx"),
                        ],
                    ),
                    _graph(
                        "HTTP API: latency p95 (ms)",
                        [http.metric_latency(period=GRAPH_PERIOD, statistic="p95", label="latency p95")],
                    ),
                ]
            )
        return cloudwatch.Dashboard(self, "Dashboard", widgets=widgets)

    # --- alarms -------------------------------------------------------------------------------------------------

    def _topic(self) -> sns.Topic:
        # A customer-managed key: CloudWatch cannot publish to a topic encrypted with the AWS-managed aws/sns key,
        # whose key policy it cannot be added to.
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"Encrypts {self._config.stack_name}'s alarm notifications",
            enable_key_rotation=True,
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"{self._config.stack_name} alarms",
            master_key=key,
            enforce_ssl=True,
        )
        if self._config.alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(self._config.alarm_email))
        return topic

    def _alarms(self) -> dict[str, cloudwatch.Alarm]:
        config = self._config
        fn = self._function
        answers = relay_metric("Answers").with_(period=PERIOD)
        errors = relay_metric("AnswerErrors").with_(period=PERIOD)
        concurrency, limit, limit_name = self._concurrency()
        # (name, metric, threshold, description): every alarm fires on one period at or above its threshold.
        specs: list[tuple[str, cloudwatch.IMetric, float, str]] = [
            (
                "StreamingErrors",
                fn.metric_errors(period=PERIOD),
                config.alarm_streaming_errors,
                "The streaming function failed (crashed or timed out): answers ended without their last frames.",
            ),
            (
                "StreamingThrottles",
                fn.metric_throttles(period=PERIOD),
                config.alarm_streaming_throttles,
                "The streaming function was throttled: requests were refused for lack of concurrency.",
            ),
            (
                "AnswerErrorRate",
                cloudwatch.MathExpression(
                    expression="100 * FILL(e, 0) / a",
                    using_metrics={"e": errors, "a": answers},
                    label="answers ending in an error (%)",
                    period=PERIOD,
                ),
                config.alarm_answer_error_rate_percent,
                f"At least {config.alarm_answer_error_rate_percent:g} % of answers ended in an error frame "
                "(model, throttling or relay errors).",
            ),
            (
                "FirstTokenP95",
                relay_metric("TimeToFirstToken", "p95").with_(period=PERIOD),
                config.alarm_first_token_p95_ms,
                f"95th percentile time to first token at or above {config.alarm_first_token_p95_ms} ms.",
            ),
            (
                "DynamoDbThrottles",
                self._dynamodb_throttles(PERIOD),
                config.alarm_dynamodb_throttles,
                "The table throttled requests (on-demand tables throttle past twice their previous peak, or at the "
                "account's table limits).",
            ),
            (
                "ConcurrencyNearLimit",
                concurrency,
                round(limit * config.alarm_concurrency_percent / 100),
                f"Concurrent executions reached {config.alarm_concurrency_percent} % of {limit_name} ({limit:g}): "
                "new answers will soon be throttled.",
            ),
            (
                "ApiServerErrors",
                self._api_server_errors(PERIOD),
                config.alarm_api_server_errors,
                "API Gateway answered with server errors (ExecutionError or IntegrationError) "
                f"{config.alarm_api_server_errors} times or more.",
            ),
        ]
        if self._http_api is not None:
            specs.append(
                (
                    "HttpApiServerErrors",
                    self._http_api.metric_server_error(period=PERIOD),
                    config.alarm_api_server_errors,
                    f"The OpenAI-compatible HTTP API answered 5xx {config.alarm_api_server_errors} times or more "
                    "(its function failed or timed out).",
                )
            )
        alarms: dict[str, cloudwatch.Alarm] = {}
        for name, metric, threshold, description in specs:
            alarms[name] = cloudwatch.Alarm(
                self,
                name,
                metric=metric,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=f"{Stack.of(self).stack_name}: {description}",
            )
        return alarms


def _graph(
    title: str, left: Sequence[cloudwatch.IMetric], *, right: Sequence[cloudwatch.IMetric] = ()
) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=list(left), right=list(right), width=8, height=6)
