"""The API Gateway WebSocket API: one Lambda proxy route per `lambdas.routes.ROUTES` entry, one stage.

No route responses: a function's return value never reaches the client; frames go out through @connections.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import jsii
from aws_cdk import Fn, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk.aws_apigatewayv2_integrations import WebSocketLambdaIntegration
from constructs import Construct

from lambdas.routes import ROUTE_SELECTION_EXPRESSION, Route
from stacks.config import RelayConfig
from stacks.constructs.log_groups import log_group
from stacks.nag import acknowledge

CONNECT = "$connect"

# One JSON object per request. Deliberately no message body (API Gateway has no variable for it anyway) and none of
# the authorizer context but its error: frames carry user prompts, and authorizer context may carry identity claims.
ACCESS_LOG_FORMAT: Mapping[str, str] = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "requestTimeEpoch": "$context.requestTimeEpoch",
    "apiId": "$context.apiId",
    "stage": "$context.stage",
    "eventType": "$context.eventType",
    "routeKey": "$context.routeKey",
    "connectionId": "$context.connectionId",
    "messageId": "$context.messageId",
    "sourceIp": "$context.identity.sourceIp",
    "status": "$context.status",
    "integrationStatus": "$context.integrationStatus",
    "integrationLatency": "$context.integrationLatency",
    "errorMessage": "$context.error.message",
    "errorResponseType": "$context.error.responseType",
    "authorizerError": "$context.authorizer.error",
}


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    def __init__(self, destination: apigwv2.IAccessLogDestination, format: apigateway.AccessLogFormat) -> None:
        self._destination = destination
        self._format = format

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return self._format


class RelayWebSocketApi(Construct):
    """Exposes `api`, `stage`, `routes` (by route key), `url` (wss://) and `connections_url` (https://.../@connections)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: RelayConfig,
        routes: Sequence[Route],
        functions: Mapping[str, lambda_.IFunction],
        connect_authorizer: apigwv2.IWebSocketRouteAuthorizer,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.api = apigwv2.WebSocketApi(
            self,
            "Api",
            api_name=config.stack_name,
            description="Relays streamed LLM output to WebSocket clients",
            route_selection_expression=ROUTE_SELECTION_EXPRESSION,
        )
        self.routes: dict[str, apigwv2.WebSocketRoute] = {}
        for route in routes:
            self.routes[route.key] = self._add_route(route, functions[route.key], connect_authorizer)

        self.access_logs = log_group(self, "AccessLogs", days=config.log_retention_days, removal_policy=removal_policy)
        self.stage = apigwv2.WebSocketStage(
            self,
            "Stage",
            web_socket_api=self.api,
            stage_name=config.stage,
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=config.throttling_rate_limit, burst_limit=config.throttling_burst_limit
            ),
            access_log_settings=_AccessLogSettings(
                apigwv2.LogGroupLogDestination(self.access_logs),
                apigateway.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":"))),
            ),
        )
        if config.api_gateway_cloudwatch_role:
            self._set_account_cloudwatch_role()
        self.url: str = self.stage.url
        self.connections_url: str = f"{self.stage.callback_url}/@connections"

    def connections_arn(self, method: str = "POST") -> str:
        """`execute-api:ManageConnections` resource for one HTTP method on any connection of this API's stage."""
        return Fn.sub(self._connections_template(method), {"ApiId": self.api.api_id})

    def connections_finding(self, method: str = "POST") -> str:
        """How cdk-nag spells `connections_arn(method)` in its wildcard finding: the `Fn::Sub` arguments as JSON."""
        api_ref = Stack.of(self).resolve(self.api.api_id)
        return json.dumps([self._connections_template(method), {"ApiId": api_ref}], separators=(",", ":"))

    def _connections_template(self, method: str) -> str:
        # The trailing * stands for the connection id, which exists only at run time.
        return (
            "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${ApiId}/"
            f"{self.stage.stage_name}/{method}/@connections/*"
        )

    def _add_route(
        self,
        route: Route,
        function: lambda_.IFunction,
        connect_authorizer: apigwv2.IWebSocketRouteAuthorizer,
    ) -> apigwv2.WebSocketRoute:
        # API Gateway accepts an authorizer on $connect only; every later frame rides on the authorized connection.
        is_connect = route.key == CONNECT
        added = self.api.add_route(
            route.key,
            integration=WebSocketLambdaIntegration(f"{route.function}Integration", function),
            authorizer=connect_authorizer if is_connect else None,
        )
        if not is_connect:
            acknowledge(
                added,
                "AwsSolutions-APIG4",
                "API Gateway WebSocket APIs allow an authorizer on $connect only; this route is reachable only "
                "on a connection $connect accepted.",
            )
        return added

    def _set_account_cloudwatch_role(self) -> None:
        # WebSocket stages refuse access logging until the account (per region) names a CloudWatch role for API
        # Gateway. It is one setting shared by every REST and WebSocket API in the account and region.
        role = iam.Role(
            self,
            "CloudWatchRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AmazonAPIGatewayPushToCloudWatchLogs")
            ],
            description="API Gateway's account-level role for writing CloudWatch logs",
        )
        # Deleting the stack must not leave the account setting pointing at a deleted role (other APIs use it).
        role.apply_removal_policy(RemovalPolicy.RETAIN)
        account = apigateway.CfnAccount(self, "Account", cloud_watch_role_arn=role.role_arn)
        self.stage.node.add_dependency(account)
        acknowledge(
            role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            "AmazonAPIGatewayPushToCloudWatchLogs is the policy AWS documents for API Gateway's account-level logging "
            "role; the role serves every API in the account and region, so it cannot be narrowed to this stack's logs.",
        )
