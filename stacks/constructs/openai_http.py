"""The OpenAI-compatible HTTP API: a regional REST API streaming `POST /v1/chat/completions` (and answering
`GET /v1/models`) from one function that runs `lambdas.openai_http` behind AWS's Lambda Web Adapter.

- Response streaming: `responseTransferMode: STREAM` on the Lambda proxy integration (REST APIs only; up to 15 min),
  and the adapter in `response_stream` mode writes the response to Lambda's streaming invoke as the app produces it.
- Auth: a Lambda REQUEST authorizer on every method (`lambdas.handlers.http_authorizer`: the `$connect` verifier),
  results not cached; the app verifies the token again, so the function is never open on its own.
- Its own stage throttling and JSON access logs; API Gateway's own refusals (401, 403, 429, 5xx) in OpenAI's shape.
- IAM: the quota items only (DynamoDB keys `USER#…`), the catalogue's model grants, its log group.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from aws_cdk import CfnOutput, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from lambdas import env_vars
from stacks.config import RelayConfig
from stacks.constructs.auth import RelayAuth
from stacks.constructs.functions import RelayFunctions
from stacks.constructs.log_groups import log_group
from stacks.nag import acknowledge

FUNCTION = "OpenAiHttp"
HANDLER = "lambdas/openai_http/run.sh"
"""Under the adapter the handler is the start-up script (`AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap` runs it)."""
AUTHORIZER_FUNCTION = "OpenAiAuthorizer"
AUTHORIZER_HANDLER = "lambdas.handlers.http_authorizer.handler"
APP_PORT = "8080"
HEALTH_PATH = "/healthz"  # lambdas.openai_http.server.HEALTH_PATH (the stack does not import the app)

ADAPTER_ACCOUNT = "753240598075"
# AWS's published arm64 layer, `arn:aws:lambda:${AWS::Region}:753240598075:layer:LambdaAdapterLayerArm64:26`, as
# awslabs/aws-lambda-web-adapter lists it in README.md ("Zip Packages") and
# docs/guide/src/getting-started/zip-packages.md at commit 2194417c51b117167092aceed58807bdc0f569a3 (2026-03-20).
# The version is the context key `httpAdapterLayerVersion`; `httpAdapterLayerArn` replaces the whole ARN.
ADAPTER_LAYER = "arn:${AWS::Partition}:lambda:${AWS::Region}:" + ADAPTER_ACCOUNT + ":layer:LambdaAdapterLayerArm64:"

QUOTA_ACTIONS: tuple[str, ...] = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
"""TransactGetItems of the quota items (GetItem), the lease (Put) and its release and the day's charge (Update)."""
QUOTA_KEYS = "USER#*"
"""lambdas.store.keys: every quota item lives in its user's partition."""

ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "principalId": "$context.authorizer.principalId",
    "authorizerError": "$context.authorizer.error",
    "integrationError": "$context.integration.error",
    "integrationLatency": "$context.integration.latency",
    "errorType": "$context.error.responseType",
}
"""One JSON line per request: who, what, how it ended; never a header or a body (the token, the prompt)."""

_R = apigateway.ResponseType
_MESSAGE = "$context.error.messageString"
"""API Gateway's own message, already a quoted JSON string."""
_GATEWAY_ERRORS: tuple[tuple[apigateway.ResponseType, str | None, str, str, str], ...] = (
    (_R.UNAUTHORIZED, "401", "authentication_error", "invalid_api_key", "Send a valid Authorization: Bearer <JWT>."),
    (_R.ACCESS_DENIED, "403", "permission_error", "forbidden", "Forbidden."),
    (_R.MISSING_AUTHENTICATION_TOKEN, "404", "invalid_request_error", "unknown_url", "No such path or method."),
    (_R.THROTTLED, "429", "rate_limit_error", "throttled", "Too many requests: the API's throttling limit."),
    # The defaults keep API Gateway's status (413, 415, 502, 504...), only the body changes.
    (_R.DEFAULT_4_XX, None, "invalid_request_error", "bad_request", _MESSAGE),
    (_R.DEFAULT_5_XX, None, "server_error", "internal", _MESSAGE),
)
"""API Gateway's own answers (type, status, OpenAI error type, code, message), in OpenAI's error shape."""


class OpenAiHttpApi(Construct):
    """Exposes `api`, `function`, `authorizer_function` and `base_url` (`https://…/{stage}/v1`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: RelayConfig,
        functions: RelayFunctions,
        table: dynamodb.ITable,
        auth: RelayAuth,
        model_statements: Sequence[iam.PolicyStatement],
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = functions.add_function(
            FUNCTION, HANDLER, environment=_environment(config, table, auth), streaming=True
        )
        self.function.add_layers(
            lambda_.LayerVersion.from_layer_version_arn(self, "WebAdapterLayer", _layer_arn(config))
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                sid="QuotaItems",
                actions=list(QUOTA_ACTIONS),
                resources=[table.table_arn],
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [QUOTA_KEYS]}},
            )
        )
        for statement in model_statements:
            self.function.add_to_role_policy(statement)
        self.authorizer_function = functions.add_function(
            AUTHORIZER_FUNCTION,
            AUTHORIZER_HANDLER,
            environment={**config.observability_environment(), **auth.environment},
        )

        self.access_logs = log_group(self, "AccessLogs", days=config.log_retention_days, removal_policy=removal_policy)
        self.api = apigateway.RestApi(
            self,
            "Api",
            rest_api_name=f"{config.stack_name}-openai",
            description="OpenAI-compatible chat completions, streamed (ws-llm-relay)",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            # The account's logging role is the WebSocket construct's (`apiGatewayCloudwatchRole`): one per account.
            cloud_watch_role=False,
            deploy_options=apigateway.StageOptions(
                stage_name=config.stage,
                throttling_rate_limit=config.throttling_rate_limit,
                throttling_burst_limit=config.throttling_burst_limit,
                access_log_destination=apigateway.LogGroupLogDestination(self.access_logs),
                access_log_format=apigateway.AccessLogFormat.custom(
                    json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":"))
                ),
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # full request logging would write tokens and prompts to CloudWatch
                metrics_enabled=True,
            ),
        )
        authorizer = apigateway.RequestAuthorizer(
            self,
            "Authorizer",
            handler=self.authorizer_function,
            identity_sources=[apigateway.IdentitySource.header("Authorization")],
            # Not cached: the policy names exactly the method called, and a token is checked on every request.
            results_cache_ttl=Duration.seconds(0),
        )
        integration = apigateway.LambdaIntegration(
            self.function,
            response_transfer_mode=apigateway.ResponseTransferMode.STREAM,
            timeout=Duration.seconds(config.send_text_timeout_seconds),
            # No permission for the console's test-invoke stage: only the deployed stage may call the function.
            allow_test_invoke=False,
        )
        # Parameters: the Authorization header is required before the authorizer runs. Bodies: no model is attached
        # (the app validates the body and names the param); cdk-nag asks for the switch to be on all the same.
        validator = apigateway.RequestValidator(
            self, "RequireToken", rest_api=self.api, validate_request_parameters=True, validate_request_body=True
        )
        method_options = {
            "authorizer": authorizer,
            "authorization_type": apigateway.AuthorizationType.CUSTOM,
            "request_validator": validator,
            "request_parameters": {"method.request.header.Authorization": True},
        }
        v1 = self.api.root.add_resource("v1")
        self.methods = [
            v1.add_resource("chat").add_resource("completions").add_method("POST", integration, **method_options),
            v1.add_resource("models").add_method("GET", integration, **method_options),
        ]
        for response_type, status, kind, code, message in _GATEWAY_ERRORS:
            self.api.add_gateway_response(
                f"{response_type.response_type}Response",
                type=response_type,
                status_code=status,
                templates={"application/json": _error_template(message, kind, code)},
            )
        self._after_account_role()
        self.base_url: str = f"{self.api.url}v1"
        CfnOutput(Stack.of(self), "OpenAiBaseUrl", value=self.base_url, description="Base URL for OpenAI SDKs and curl")
        self._acknowledge()

    def _after_account_role(self) -> None:
        # Access logging needs the account's API Gateway logging role: deploy the stage after it is set.
        for child in Stack.of(self).node.find_all():
            if isinstance(child, apigateway.CfnAccount):
                self.api.deployment_stage.node.add_dependency(child)

    def _acknowledge(self) -> None:
        for method in self.methods:
            acknowledge(
                method,
                "AwsSolutions-COG4",
                "The authorizer verifies the same JWTs as $connect: Cognito's by default or any OIDC issuer's "
                "(authIssuer), which a Cognito user pool authorizer could not.",
            )
        acknowledge(
            self.api,
            "AwsSolutions-APIG3",
            "No WAF web ACL by default: every method needs a valid JWT, the stage is throttled and each user has "
            "quotas; attach a web ACL to the stage where a deployment needs one.",
        )


def _environment(config: RelayConfig, table: dynamodb.ITable, auth: RelayAuth) -> dict[str, str]:
    return {
        **config.function_environment(table.table_name, catalogue=True, quotas=True),
        **auth.environment,
        env_vars.HTTP_TIMEOUT_SECONDS: str(config.send_text_timeout_seconds),
        # The Lambda Web Adapter (awslabs/aws-lambda-web-adapter README, "Configurations").
        "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
        "AWS_LWA_INVOKE_MODE": "response_stream",
        "AWS_LWA_PORT": APP_PORT,
        "AWS_LWA_READINESS_CHECK_PATH": HEALTH_PATH,
    }


def _layer_arn(config: RelayConfig) -> str:
    return config.http_adapter_layer_arn or Fn.sub(ADAPTER_LAYER + str(config.http_adapter_layer_version))


def _error_template(message: str, kind: str, code: str) -> str:
    text = message if message == _MESSAGE else json.dumps(message)
    return '{"error":{"message":' + text + ',"type":"' + kind + '","code":"' + code + '","param":null}}'
