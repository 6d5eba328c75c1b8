"""The relay: table, one function per route, the `$connect` authorizer and its issuer, the WebSocket API, and
least-privilege grants between them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, Fn, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk.aws_apigatewayv2_authorizers import WebSocketLambdaAuthorizer
from constructs import Construct

from lambdas.routes import AUTHORIZER, ROUTES, Authorizer, Route
from stacks.config import RelayConfig
from stacks.constructs import RelayAuth, RelayFunctions, RelayTable, RelayWebSocketApi
from stacks.constructs.attachments import AttachmentBucket
from stacks.constructs.bundling import lambda_code
from stacks.constructs.openai_http import OpenAiHttpApi
from stacks.constructs.operations import RelayOperations
from stacks.constructs.web_client import WebClient, client_settings
from stacks.model_grants import Grant, catalogue_grants
from stacks.nag import acknowledge

# Functions on these routes never post frames: $connect has no open socket yet, $disconnect's socket is gone.
NON_POSTING_ROUTES = frozenset({"$connect", "$disconnect"})


class MissingAuthorizerError(ValueError):
    """The stack was asked to deploy `$connect` without an authorizer."""


class RelayStack(Stack):
    """Exposes `table`, `functions` (by route key), `authorizer_function`, `auth`, `api` and `web_client` (None unless
    `config.web_client`); routes and authorizer default to `lambdas.routes`. There is no way to deploy without the
    authorizer."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: RelayConfig,
        routes: Sequence[Route] = ROUTES,
        authorizer: Authorizer | None = AUTHORIZER,
        **kwargs: Any,
    ) -> None:
        if authorizer is None:
            # localgw's --no-auth may run without one; a deployed stack must never accept anonymous connections.
            raise MissingAuthorizerError(
                "lambdas.routes.AUTHORIZER is None: a deployed relay always authenticates $connect"
            )
        super().__init__(scope, construct_id, description="WebSocket relay for streaming LLM output", **kwargs)
        # Retain by default: a replacement or a `cdk destroy` of a shared environment must not silently drop data;
        # a throwaway stage opts into `destroy`.
        removal = RemovalPolicy.RETAIN if config.removal_policy == "retain" else RemovalPolicy.DESTROY
        code = lambda_code()

        storage = RelayTable(self, "Storage", removal_policy=removal, kms_key=config.table_kms_key)
        self.table = storage.table
        functions = RelayFunctions(
            self,
            "Functions",
            config=config,
            routes=routes,
            code=code,
            table=self.table,
            table_indexes=storage.index_names,
            removal_policy=removal,
        )
        self.functions = functions.by_route
        self.auth = RelayAuth(self, "Auth", config=config, removal_policy=removal)
        # Same asset, runtime and architecture as the routes, its own role and log group; it needs no AWS permission
        # (it fetches the issuer's JWKS over HTTPS) and none of the relay's settings beyond logging.
        self.authorizer_function = functions.add_function(
            authorizer.function,
            authorizer.handler,
            environment={**config.observability_environment(), **self.auth.environment},
        )
        self.api = RelayWebSocketApi(
            self,
            "WebSocket",
            config=config,
            routes=routes,
            functions=self.functions,
            # The CDK also adds API Gateway's permission to invoke the function, scoped to this API's authorizer:
            # `arn:...:execute-api:{region}:{account}:{apiId}/authorizers/{authorizerId}`, no wildcard.
            connect_authorizer=WebSocketLambdaAuthorizer(
                f"{authorizer.function}Authorizer",
                self.authorizer_function,
                identity_source=list(authorizer.identity_sources),
            ),
            removal_policy=removal,
        )

        grants = catalogue_grants(config.catalogue(), config.model_regions, config.api_key_kms_key_id)
        for route in routes:
            function = self.functions[route.key]
            if route.key not in NON_POSTING_ROUTES:
                self._grant_post_to_connections(function)
            if route.streaming:
                for grant in grants:
                    function.add_to_role_policy(_statement(grant))

        # The OpenAI-compatible HTTP API (context `httpApi`): its own construct, output `OpenAiBaseUrl`.
        self.openai_http: OpenAiHttpApi | None = None
        if config.http_api:
            self.openai_http = OpenAiHttpApi(
                self,
                "OpenAiHttp",
                config=config,
                functions=functions,
                table=self.table,
                auth=self.auth,
                model_statements=[_statement(grant) for grant in grants],
                removal_policy=removal,
            )

        # Dashboard, alarms, reserved concurrency, tracing, the table key's grants (stacks/constructs/operations.py).
        self.operations = RelayOperations(
            self,
            "Operations",
            config=config,
            routes=routes,
            functions=self.functions,
            authorizer=self.authorizer_function,
            table=self.table,
            api=self.api.api,
            http_api=self.openai_http.api if self.openai_http else None,
            http_function=self.openai_http.function if self.openai_http else None,
            http_authorizer=self.openai_http.authorizer_function if self.openai_http else None,
        )

        CfnOutput(self, "WebSocketUrl", value=self.api.url, description="wss:// URL clients connect to")
        CfnOutput(self, "ConnectionsUrl", value=self.api.connections_url, description="@connections management URL")
        CfnOutput(self, "TableName", value=self.table.table_name, description="The relay's DynamoDB table")
        CfnOutput(self, "AuthIssuer", value=self.auth.issuer, description="The `iss` of tokens accepted on $connect")
        if self.auth.user_pool is not None and self.auth.client is not None:
            CfnOutput(self, "UserPoolId", value=self.auth.user_pool.user_pool_id, description="Cognito user pool")
            CfnOutput(
                self,
                "UserPoolClientId",
                value=self.auth.client.user_pool_client_id,
                description="Cognito app client: initiate-auth --client-id",
            )

        self.web_client: WebClient | None = None
        if config.web_client:
            self.web_client = WebClient(
                self,
                "WebClient",
                settings=client_settings(
                    ws_url=self.api.url, ws_origin=self.api.api.api_endpoint, auth=self.auth, config=config
                ),
                config=config,
                removal_policy=removal,
            )
            CfnOutput(self, "WebClientUrl", value=self.web_client.url, description="The browser chat client")

        # Issue 15: the bucket `attach` uploads go to, its CORS open to the web client's origin only.
        origins = [self.web_client.url] if self.web_client else []
        self.attachments = AttachmentBucket(
            self, "Attachments", ttl_days=config.attachment_ttl_days, cors_origins=origins
        )
        self.attachments.grant(self.functions)

    def _grant_post_to_connections(self, function: lambda_.Function) -> None:
        # POST only: the relay sends frames; it never reads (GET) or closes (DELETE) connections.
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="PostToConnections",
                actions=["execute-api:ManageConnections"],
                resources=[self.api.connections_arn("POST")],
            )
        )
        acknowledge(
            function.role,
            f"AwsSolutions-IAM5[Resource::{self.api.connections_finding('POST')}]",
            "Connection ids are minted per client at run time; the grant is pinned to this API, this stage and POST, "
            "and the trailing * stands only for the connection id.",
        )


def _statement(grant: Grant) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid=grant.sid,
        actions=list(grant.actions),
        resources=[_sub(arn) for arn in grant.resources],
        conditions={
            operator: {key: _sub(value) for key, value in values.items()}
            for operator, values in grant.conditions.items()
        }
        or None,
    )


def _sub(template: str) -> str:
    return Fn.sub(template) if "${" in template else template
