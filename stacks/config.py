"""The relay's configuration: cdk.json context (and `-c key=value` flags) read and validated once.

Pure Python with no CDK import: localgw reads the same file through `load_config()` so a local run uses the
deployed stack's stage, timeouts and function environment.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lambdas import env_vars
from lambdas.catalogue import Catalogue, CatalogueError, load_catalogue, to_env_value
from lambdas.config import (
    DEFAULT_ATTACHMENT_TTL_DAYS,
    DEFAULT_CONNECTION_TTL_SECONDS,
    DEFAULT_MAX_TOKENS,
    TUNABLES,
    TUNING_DEFAULTS,
)
from stacks.model_grants import catalogue_grants, targets

CDK_JSON = Path(__file__).resolve().parents[1] / "cdk.json"

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
_STAGE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Bedrock ids go verbatim into IAM ARNs: no '*', '?', '/' or '$' may slip in and widen a grant.
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d{1,2}$")
REMOVAL_POLICIES = ("retain", "destroy")
# Characters that would turn an ARN taken from the catalogue into a pattern (or a CloudFormation substitution).
_GRANT_WIDENING = frozenset("*?${}")
_BEDROCK_ARN = re.compile(r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]*:\d{0,12}:[a-z-]+/[A-Za-z0-9._:/-]+$")
_LIST_ITEM = re.compile(r"^[^\s,]+$")
# A lower-case DNS name without a wildcard: the distribution answers on it, and WebClientUrl names it.
_DOMAIN_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
# CloudFront takes viewer certificates from ACM in us-east-1 only, whatever the stack's region.
_LAYER_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]{1,140}:\d{1,8}$")
_CLOUDFRONT_CERTIFICATE_ARN = re.compile(r"^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate/[A-Za-z0-9-]+$")

_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
_KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")
UNRESERVED_CONCURRENCY_MIN = 100
"""Lambda refuses a reservation that leaves less than this unreserved in the account."""

# lambdas.auth.config's limit, repeated because that package imports PyJWT; tests/stack/test_stack_config.py pins it.
MAX_AUTH_LEEWAY_SECONDS = 600
# The only values CloudWatch Logs accepts for a log group's retention.
# fmt: off
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)
# fmt: on


class ConfigError(ValueError):
    """A context value is missing, of the wrong type or out of range."""


@dataclass(frozen=True, slots=True)
class RelayConfig:
    stack_name: str = "WsRelay"
    stage: str = "dev"
    model_id: str = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    model_regions: tuple[str, ...] = ()
    """Regions an inference profile routes to; empty = derived from the profile's geography prefix."""
    max_tokens_default: int = DEFAULT_MAX_TOKENS
    max_tokens_limit: int = 8192
    throttling_rate_limit: float = 50.0
    throttling_burst_limit: int = 100
    send_text_memory_mb: int = 256
    send_text_timeout_seconds: int = 300
    function_memory_mb: int = 256
    function_timeout_seconds: int = 10
    log_level: str = "INFO"
    log_retention_days: int = 30
    connection_ttl_seconds: int = DEFAULT_CONNECTION_TTL_SECONDS
    removal_policy: str = "retain"
    """What `cdk destroy` does to the table and log groups: `retain` keeps data, `destroy` deletes it."""
    api_gateway_cloudwatch_role: bool = True
    """Set the account-level API Gateway CloudWatch role (WebSocket access logging cannot be enabled without it)."""
    cdk_nag: bool = True
    """Run the cdk-nag AwsSolutions checks on every synth; errors fail `cdk synth`/`cdk deploy`."""
    skip_bundling: bool = False
    """Synthesize without building the Lambda asset (template checks only; never deploy such an assembly)."""
    models: str | None = None
    """The model catalogue as JSON text (docs/models.md); None = the single `model_id` served as Anthropic Messages."""
    api_key_kms_key_id: str = ""
    """Customer-managed KMS key (id or ARN) of the catalogue's API key secrets/parameters; empty = AWS-managed keys."""
    # The functions' tuning (lambdas.config.TUNABLES: one table for the defaults, ranges and variables).
    max_text_chars: int = int(TUNING_DEFAULTS["max_text_chars"])
    coalesce_ms: int = int(TUNING_DEFAULTS["coalesce_ms"])
    coalesce_max_chars: int = int(TUNING_DEFAULTS["coalesce_max_chars"])
    post_max_attempts: int = int(TUNING_DEFAULTS["post_max_attempts"])
    gone_grace_seconds: float = float(TUNING_DEFAULTS["gone_grace_seconds"])
    time_guard_ms: int = int(TUNING_DEFAULTS["time_guard_ms"])
    control_poll_ms: int = int(TUNING_DEFAULTS["control_poll_ms"])
    answer_ttl_seconds: int = int(TUNING_DEFAULTS["answer_ttl_seconds"])
    conversation_ttl_seconds: int = int(TUNING_DEFAULTS["conversation_ttl_seconds"])
    history_max_chars: int = int(TUNING_DEFAULTS["history_max_chars"])
    max_parts: int = int(TUNING_DEFAULTS["max_parts"])
    parts_ttl_seconds: int = int(TUNING_DEFAULTS["parts_ttl_seconds"])
    sse_keepalive_seconds: int = int(TUNING_DEFAULTS["sse_keepalive_seconds"])
    attachment_ttl_days: int = DEFAULT_ATTACHMENT_TTL_DAYS
    """Days an attachment lives: the bucket's lifecycle expiry and the attachment record's."""
    quota_inflight: int = 2
    """Answers one user may have running at once (0 = unlimited)."""
    quota_daily_output_tokens: int = 200_000
    """Output tokens one user may use per UTC day (0 = unlimited)."""
    auth_issuer: str = ""
    """An OIDC issuer (https) whose tokens open connections; empty = the stack's own Cognito user pool."""
    auth_audience: tuple[str, ...] = ()
    """Accepted `aud` / `client_id` values of `auth_issuer`'s tokens (required with it)."""
    auth_token_use: tuple[str, ...] = ()
    """Accepted `token_use` values of `auth_issuer`'s tokens; empty = not checked. Cognito pool: always `access`."""
    auth_jwks_url: str = ""
    """Where `auth_issuer` publishes its keys; empty = `{issuer}/.well-known/jwks.json` (or discovery)."""
    auth_oidc_discovery: bool = False
    """Find `auth_issuer`'s JWKS through `{issuer}/.well-known/openid-configuration`."""
    auth_leeway_seconds: int = 60
    """Clock skew tolerated on `exp`, `nbf` and `iat`."""
    cognito_self_sign_up: bool = False
    """Let anyone create an account in the Cognito user pool (off: an administrator creates users)."""
    cognito_threat_protection: bool = False
    """Cognito Plus feature plan with threat protection enforced (billed per monthly active user)."""
    web_client: bool = False
    """Deploy the browser chat client (`web/`): a private S3 bucket behind CloudFront, with a generated config.json."""
    web_client_domain_name: str = ""
    """The web client's own domain name (with `web_client_certificate_arn`); empty = the distribution's cloudfront.net
    name with CloudFront's default certificate."""
    web_client_certificate_arn: str = ""
    """ACM certificate in us-east-1 covering `web_client_domain_name`."""
    http_api: bool = True
    """Deploy the OpenAI-compatible HTTP API (a REST API streaming `/v1/chat/completions`) beside the WebSocket."""
    http_adapter_layer_version: int = 26
    """Version of AWS's arm64 Lambda Web Adapter layer (`LambdaAdapterLayerArm64`) the HTTP function runs behind."""
    http_adapter_layer_arn: str = ""
    """A full layer ARN instead (another region's copy, a pinned build); empty = AWS's layer at that version."""
    # Operations (stacks/constructs/operations.py): the dashboard is always there; the rest is opt-in or opt-out.
    alarms: bool = True
    """CloudWatch alarms on an encrypted SNS topic."""
    alarm_email: str = ""
    """An address subscribed to the alarm topic (it confirms by mail); empty = no subscription."""
    alarm_answer_error_rate_percent: float = 5.0
    """Alarm when more than this share of answers end in an error over 5 minutes."""
    alarm_first_token_p95_ms: int = 5000
    """Alarm when the 95th percentile time to first token is above this over 5 minutes."""
    alarm_concurrency_percent: int = 80
    """Alarm when concurrent executions reach this share of the reserved (or account) concurrency."""
    alarm_streaming_errors: int = 1
    """Alarm when the streaming function fails (crash or timeout) this many times in 5 minutes."""
    alarm_streaming_throttles: int = 1
    """Alarm when the streaming function is throttled this many times in 5 minutes."""
    alarm_dynamodb_throttles: int = 1
    """Alarm when the table throttles this many requests (read + write) in 5 minutes."""
    alarm_api_server_errors: int = 5
    """Alarm when API Gateway (and the HTTP API) answer this many server errors in 5 minutes."""
    account_concurrency_limit: int = 1000
    """The account's Lambda concurrency quota in the region (what the concurrency alarm compares against)."""
    send_text_reserved_concurrency: int = 0
    """Reserved concurrency of the streaming function: a hard cap on answers in flight (0 = none)."""
    table_kms_key: str = ""
    """The table's KMS key: empty = AWS-owned/managed, `create` = a new customer-managed key, or a key ARN."""
    tracing: bool = False
    """X-Ray active tracing on the functions (Powertools Tracer)."""

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> RelayConfig:
        """Build from context keys in camelCase (`stage`, `sendTextTimeoutSeconds`, ...); unknown keys are ignored
        because the CDK puts its own flags in the same context."""
        values: dict[str, Any] = {}
        for field in fields(cls):
            key = _camel(field.name)
            if key in context and context[key] is not None:
                values[field.name] = _coerce(key, context[key], field.default)
        _refuse_unknown_auth_keys(context, {_camel(field.name) for field in fields(cls)})
        config = cls(**values)
        config.validate()
        return config

    @property
    def uses_cognito(self) -> bool:
        """The stack creates its own user pool unless an external issuer is configured; there is no third way."""
        return not self.auth_issuer

    def catalogue(self) -> Catalogue:
        """The models the relay serves: `models` when set, else the single `model_id` (raises CatalogueError). The
        functions load the same catalogue from the environment the stack gives them."""
        return load_catalogue({env_vars.MODELS: self.models or "", env_vars.MODEL_ID: self.model_id})

    def validate(self) -> None:
        if not _NAME.match(self.stack_name):
            raise ConfigError(f"stackName {self.stack_name!r}: letters, digits and '-', starting with a letter")
        if not _STAGE.match(self.stage):
            raise ConfigError(f"stage {self.stage!r}: 1-128 of letters, digits, '_' and '-'")
        if not self.model_id.strip():
            raise ConfigError("modelId must not be empty")
        if not _MODEL_ID.match(self.model_id):
            raise ConfigError(
                f"modelId {self.model_id!r}: a Bedrock model id or inference profile id "
                "(letters, digits, '.', '_', ':', '-'), not an ARN or a pattern"
            )
        for region in self.model_regions:
            if not _REGION.match(region):
                raise ConfigError(f"modelRegions: {region!r} is not an AWS region name like 'us-east-1'")
        self._validate_catalogue()
        _range("maxTokensDefault", self.max_tokens_default, 1, self.max_tokens_limit)
        _range("maxTokensLimit", self.max_tokens_limit, 1, 200_000)
        _range("throttlingRateLimit", self.throttling_rate_limit, 1, 10_000)
        _range("throttlingBurstLimit", self.throttling_burst_limit, 1, 5_000)
        _range("sendTextMemoryMb", self.send_text_memory_mb, 128, 10_240)
        _range("functionMemoryMb", self.function_memory_mb, 128, 10_240)
        _range("sendTextTimeoutSeconds", self.send_text_timeout_seconds, 30, 900)
        _range("functionTimeoutSeconds", self.function_timeout_seconds, 3, 900)
        _range("connectionTtlSeconds", self.connection_ttl_seconds, 7200, 30 * 86400)
        _range("logRetentionDays", self.log_retention_days, 1, 3653)
        if self.log_level not in _LOG_LEVELS:
            raise ConfigError(f"logLevel {self.log_level!r}: one of {', '.join(_LOG_LEVELS)}")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ConfigError(
                f"logRetentionDays {self.log_retention_days}: one of {', '.join(map(str, LOG_RETENTION_DAYS))}"
            )
        if self.removal_policy not in REMOVAL_POLICIES:
            raise ConfigError(f"removalPolicy {self.removal_policy!r}: one of {', '.join(REMOVAL_POLICIES)}")
        _range("quotaInflight", self.quota_inflight, 0, 100)
        _range("attachmentTtlDays", self.attachment_ttl_days, 1, 365)
        for tunable in TUNABLES:
            _range(_camel(tunable.name), getattr(self, tunable.name), tunable.low, tunable.high)
        if self.time_guard_ms * 2 > self.send_text_timeout_seconds * 1000:
            raise ConfigError(
                f"timeGuardMs = {self.time_guard_ms}: must be at most half of sendTextTimeoutSeconds "
                f"({self.send_text_timeout_seconds} s), or answers would end before they start"
            )
        _range("quotaDailyOutputTokens", self.quota_daily_output_tokens, 0, 1_000_000_000)
        self._validate_auth()
        self._validate_web_client()
        _range("httpAdapterLayerVersion", self.http_adapter_layer_version, 1, 10_000)
        if self.http_adapter_layer_arn and not _LAYER_ARN.match(self.http_adapter_layer_arn):
            raise ConfigError(
                f"httpAdapterLayerArn {self.http_adapter_layer_arn!r}: a layer version ARN such as "
                "arn:aws:lambda:us-east-1:753240598075:layer:LambdaAdapterLayerArm64:26"
            )
        self._validate_operations()

    def _validate_catalogue(self) -> None:
        try:
            catalogue = self.catalogue()
        except CatalogueError as exc:
            raise ConfigError(f"models: {exc}") from exc
        for target in targets(catalogue):
            # Everything in a target ends up verbatim in an IAM ARN: an id that is a pattern would widen the grant.
            if _GRANT_WIDENING & set(target.id):
                raise ConfigError(f"models: {target.id!r} would widen an IAM grant; name one exact resource")
            if target.kind == "bedrock-model" and not _MODEL_ID.match(target.id):
                raise ConfigError(f"models: {target.id!r} is not a Bedrock model id or inference profile id")
            if target.kind == "bedrock-arn" and not _BEDROCK_ARN.match(target.id):
                raise ConfigError(f"models: {target.id!r} is not a Bedrock ARN")
        try:
            catalogue_grants(catalogue, self.model_regions, self.api_key_kms_key_id)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc

    def _validate_auth(self) -> None:
        _range("authLeewaySeconds", self.auth_leeway_seconds, 0, MAX_AUTH_LEEWAY_SECONDS)
        if self.uses_cognito:
            oidc_only = {
                "authAudience": self.auth_audience,
                "authTokenUse": self.auth_token_use,
                "authJwksUrl": self.auth_jwks_url,
                "authOidcDiscovery": self.auth_oidc_discovery,
            }
            for key, value in oidc_only.items():
                if value:
                    raise ConfigError(
                        f"{key} applies to an external issuer: set authIssuer too (without it the stack creates "
                        "its own Cognito user pool)"
                    )
            return
        for key, value in (
            ("cognitoSelfSignUp", self.cognito_self_sign_up),
            ("cognitoThreatProtection", self.cognito_threat_protection),
        ):
            if value:
                raise ConfigError(f"{key} applies to the stack's Cognito user pool, which authIssuer replaces")
        _https_url("authIssuer", self.auth_issuer)
        if not self.auth_audience:
            # Without an audience, a token issued to any other client of the same issuer would open connections.
            raise ConfigError("authAudience: required with authIssuer (the client id(s) the tokens are issued to)")
        for key, values in (("authAudience", self.auth_audience), ("authTokenUse", self.auth_token_use)):
            for value in values:
                if not _LIST_ITEM.match(value):
                    raise ConfigError(f"{key}: {value!r} must be non-empty, without spaces or commas")
        if self.auth_jwks_url:
            _https_url("authJwksUrl", self.auth_jwks_url)
            if self.auth_oidc_discovery:
                raise ConfigError("authJwksUrl and authOidcDiscovery: set one (a JWKS URL makes discovery moot)")

    def _validate_web_client(self) -> None:
        domain, certificate = self.web_client_domain_name, self.web_client_certificate_arn
        if not self.web_client:
            for key, value in (("webClientDomainName", domain), ("webClientCertificateArn", certificate)):
                if value:
                    raise ConfigError(f"{key} applies to the web client: set webClient=true too")
            return
        if bool(domain) != bool(certificate):
            raise ConfigError(
                "webClientDomainName and webClientCertificateArn: set both (a custom domain needs its "
                "certificate) or neither"
            )
        if domain and not _DOMAIN_NAME.match(domain):
            raise ConfigError(f"webClientDomainName {domain!r}: a lower-case DNS name such as chat.example.com")
        if certificate and not _CLOUDFRONT_CERTIFICATE_ARN.match(certificate):
            raise ConfigError(
                f"webClientCertificateArn {certificate!r}: an ACM certificate ARN in us-east-1 "
                "(the only region CloudFront takes certificates from)"
            )

    def _validate_operations(self) -> None:
        if self.alarm_email and not _EMAIL.match(self.alarm_email):
            raise ConfigError(f"alarmEmail {self.alarm_email!r}: one e-mail address such as ops@example.com")
        if self.alarm_email and not self.alarms:
            raise ConfigError("alarmEmail subscribes to the alarms' topic: it needs alarms=true")
        _range("alarmAnswerErrorRatePercent", self.alarm_answer_error_rate_percent, 0.1, 100)
        _range("alarmFirstTokenP95Ms", self.alarm_first_token_p95_ms, 100, 600_000)
        _range("alarmConcurrencyPercent", self.alarm_concurrency_percent, 1, 100)
        for count in ("alarm_streaming_errors", "alarm_streaming_throttles", "alarm_dynamodb_throttles"):
            _range(_camel(count), getattr(self, count), 1, 1_000_000)
        _range("alarmApiServerErrors", self.alarm_api_server_errors, 1, 1_000_000)
        _range("accountConcurrencyLimit", self.account_concurrency_limit, 10, 1_000_000)
        # Lambda keeps 100 of the account's concurrency unreserved: a larger reservation fails the deployment.
        _range(
            "sendTextReservedConcurrency",
            self.send_text_reserved_concurrency,
            0,
            max(0, self.account_concurrency_limit - UNRESERVED_CONCURRENCY_MIN),
        )
        key = self.table_kms_key
        if key and key != "create" and not _KMS_KEY_ARN.match(key):
            raise ConfigError(f"tableKmsKey {key!r}: empty, `create`, or a KMS key ARN (arn:aws:kms:...:key/...)")

    def function_environment(self, table_name: str, *, catalogue: bool = True, quotas: bool = True) -> dict[str, str]:
        """The relay functions' environment, deployed or local. localgw runs every handler in one process and takes
        all of it; the stack leaves the catalogue and the quota limits out of functions that never read them."""
        variables = {
            env_vars.TABLE_NAME: table_name,
            env_vars.MODEL_ID: self.model_id,
            env_vars.MAX_TOKENS_DEFAULT: str(self.max_tokens_default),
            env_vars.MAX_TOKENS_LIMIT: str(self.max_tokens_limit),
            env_vars.CONNECTION_TTL_SECONDS: str(self.connection_ttl_seconds),
            env_vars.ATTACHMENT_TTL_DAYS: str(self.attachment_ttl_days),
            **{tunable.env: str(getattr(self, tunable.name)) for tunable in TUNABLES},
            **self.observability_environment(),
        }
        if catalogue:
            variables[env_vars.MODELS] = to_env_value(self.catalogue())
        if quotas:
            variables[env_vars.QUOTA_INFLIGHT] = str(self.quota_inflight)
            variables[env_vars.QUOTA_DAILY_OUTPUT_TOKENS] = str(self.quota_daily_output_tokens)
        return variables

    def observability_environment(self) -> dict[str, str]:
        """Powertools' settings: every function gets them; the authorizer gets nothing else of the relay's."""
        return {
            "POWERTOOLS_SERVICE_NAME": "ws-relay",
            "POWERTOOLS_METRICS_NAMESPACE": "WsRelay",
            "POWERTOOLS_LOG_LEVEL": self.log_level,
        }


def load_config(overrides: Mapping[str, Any] | None = None, cdk_json: Path = CDK_JSON) -> RelayConfig:
    """cdk.json's context with `overrides` on top: what localgw and the tests use (the CDK app uses node context)."""
    context = dict(json.loads(cdk_json.read_text()).get("context", {}))
    context.update(overrides or {})
    return RelayConfig.from_context(context)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _refuse_unknown_auth_keys(context: Mapping[str, Any], known: set[str]) -> None:
    """Unknown keys are ignored (the CDK shares the context), except anything that looks like an auth setting: a
    typo such as `authIsuer` would otherwise deploy a Cognito pool instead of the intended issuer, and a wish such
    as `auth=none` deserves an answer rather than silence."""
    for key in context:
        # The CDK's own keys hold ':' or '/' (`aws:cdk:...`, `@aws-cdk/...:authorizer...`); ours are plain names.
        if key in known or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", key):
            continue
        lowered = key.lower()
        if "auth" in lowered or "anonymous" in lowered or lowered.startswith("cognito"):
            raise ConfigError(
                f"{key}: not a setting. A deployed relay always authenticates $connect: with its own Cognito user "
                "pool (default) or with authIssuer + authAudience (see docs/configuration.md, Authentication)"
            )


def _https_url(key: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment or " " in url:
        raise ConfigError(f"{key} {url!r}: an https:// URL without query or fragment")


def _coerce(key: str, value: Any, default: Any) -> Any:
    # `-c key=value` flags arrive as strings; cdk.json values arrive typed.
    try:
        if default is None:
            # JSON-valued options (`models`): an object from cdk.json, JSON text from `-c`; kept as text.
            return value if isinstance(value, str) else json.dumps(value)
        if isinstance(default, bool):
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, tuple):
            if isinstance(value, str):
                value = json.loads(value) if value.strip().startswith("[") else [v for v in value.split(",") if v]
            return tuple(str(v).strip() for v in value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key}: cannot use {value!r} ({exc})") from exc


def _range(key: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ConfigError(f"{key} = {value}: must be between {low} and {high}")
