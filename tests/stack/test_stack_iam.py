"""Least privilege: no wildcard grants, and exact ARNs for @connections, Bedrock and every model catalogue target."""

from __future__ import annotations

from typing import Any

import pytest

from lambdas import table_schema
from lambdas.routes import AUTHORIZER, ROUTES
from stacks.constructs.functions import INDEX_ACTIONS, TABLE_ACTIONS
from stacks.model_grants import GEO_DESTINATION_REGIONS
from tests.stack.conftest import (
    CUSTOM_MODEL_ARN,
    FOUNDATION_MODEL_ID,
    GLOBAL_PROFILE_ID,
    KMS_KEY_ID,
    SECRET_FULL_ARN,
    SECRET_PARTIAL_ARN,
    Synth,
)
from tests.stack.template_queries import (
    ALLOWED_RESOURCE_WILDCARDS,
    actions,
    all_policy_statements,
    allowed_wildcard,
    as_list,
    function_by_handler,
    function_statements,
    render,
    resources,
    role_of,
    wildcard_problems,
)

HANDLER = {route.key: route.handler for route in ROUTES}
SILENT_ROUTES = ("$connect", "$disconnect")
# Every MESSAGE route (`$default`, `sendtext`, and any action added to ROUTES) answers by posting frames.
POSTING_ROUTES = tuple(route.key for route in ROUTES if route.key not in SILENT_ROUTES)
NON_STREAMING_ROUTES = tuple(route.key for route in ROUTES if not route.streaming)
PROFILE_ARN = "arn:${{AWS::Partition}}:bedrock:${{AWS::Region}}:${{AWS::AccountId}}:inference-profile/{}"
MODEL_ARN = "arn:${{AWS::Partition}}:bedrock:{}::foundation-model/{}"
DEFAULT_PROFILE = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
DEFAULT_MODEL = "anthropic.claude-haiku-4-5-20251001-v1:0"
# Every service a model catalogue can open; none of it belongs to a function that does not stream.
MODEL_SERVICES = ("bedrock:", "sagemaker:", "secretsmanager:", "ssm:", "kms:")


def _bedrock(statements: list[Any]) -> dict[str, dict[str, Any]]:
    """Bedrock statements by Sid, with resources and conditions rendered to text."""
    found = {}
    for statement in statements:
        if any(action.startswith("bedrock:") for action in actions(statement)):
            found[statement["Sid"]] = {
                "Action": actions(statement),
                "Resource": [render(r) for r in as_list(statement["Resource"])],
                "Condition": {
                    op: {key: render(value) for key, value in values.items()}
                    for op, values in statement.get("Condition", {}).items()
                },
            }
    return found


def _bedrock_of_send_text(synth: Synth) -> dict[str, dict[str, Any]]:
    return _bedrock(function_statements(synth.json, HANDLER["sendtext"]))


@pytest.mark.parametrize(
    "statement",
    [
        {"Action": "s3:GetObject", "Resource": "*"},
        {"Action": "s3:*", "Resource": "arn:aws:s3:::bucket/key"},
        {"Action": "logs:PutLogEvents", "Resource": {"Fn::Sub": "arn:${AWS::Partition}:logs:*:*:*"}},
        {"Action": "dynamodb:GetItem", "Resource": "arn:aws:dynamodb:us-east-1:123456789012:*"},
        {"Action": "bedrock:InvokeModel", "Resource": "arn:aws:bedrock:*::foundation-model/m"},
        {"Action": "sts:AssumeRole", "NotResource": "arn:aws:iam::123456789012:role/x"},
    ],
    ids=["star", "service-action", "logs-everything", "table-wildcard", "any-region", "not-resource"],
)
def test_wildcard_detector_catches_broad_statements(statement: dict[str, Any]) -> None:
    assert wildcard_problems(statement)


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:*",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:relay/*-??????",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:relay/openai-???",
        "arn:aws:sagemaker:us-east-1:123456789012:endpoint/llama*",
        "arn:aws:ssm:us-east-1:123456789012:parameter/relay/?",
        {"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/dev/*/@connections/*"},
    ],
    ids=["secret-star", "secret-prefix", "short-suffix", "endpoint-prefix", "parameter-char", "any-method"],
)
def test_wildcard_detector_catches_partial_wildcards(resource: Any) -> None:
    assert wildcard_problems({"Action": "s3:GetObject", "Resource": resource})


def test_every_allowed_wildcard_has_a_reason_and_matches_only_its_shape() -> None:
    assert all(len(reason) > 60 for _, reason in ALLOWED_RESOURCE_WILDCARDS)
    assert allowed_wildcard(f"{SECRET_PARTIAL_ARN}-??????")
    assert allowed_wildcard(
        "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi1}/prod/POST/@connections/*"
    )
    assert (
        wildcard_problems({"Action": "secretsmanager:GetSecretValue", "Resource": f"{SECRET_PARTIAL_ARN}-??????"}) == []
    )


@pytest.mark.parametrize(
    "variant",
    [
        "default_synth",
        "overridden_synth",
        "foundation_model_synth",
        "global_profile_synth",
        "extended_synth",
        "oidc_synth",
        "catalogue_synth",
    ],
)
def test_no_policy_statement_grants_a_wildcard(variant: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(variant)
    statements = list(all_policy_statements(synth.json))
    assert statements
    problems = {f"{logical_id}: {problem}" for logical_id, s in statements for problem in wildcard_problems(s)}
    assert problems == set()


@pytest.mark.parametrize("route_key", POSTING_ROUTES)
def test_message_routes_may_only_post_to_this_stages_connections(template_json: dict[str, Any], route_key: str) -> None:
    (api_id,) = resources(template_json, "AWS::ApiGatewayV2::Api")
    manage = [
        s
        for s in function_statements(template_json, HANDLER[route_key])
        if "execute-api:ManageConnections" in actions(s)
    ]
    assert [(actions(s), [render(r) for r in as_list(s["Resource"])]) for s in manage] == [
        (
            ["execute-api:ManageConnections"],
            [
                f"arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{{api_id}}}/dev/POST/@connections/*"
            ],
        )
    ]


@pytest.mark.parametrize("route_key", SILENT_ROUTES)
def test_connect_and_disconnect_cannot_post_frames(template_json: dict[str, Any], route_key: str) -> None:
    granted = {a for s in function_statements(template_json, HANDLER[route_key]) for a in actions(s)}
    assert "execute-api:ManageConnections" not in granted
    assert not [a for a in granted if a.startswith("bedrock:")]


def test_connections_grant_follows_the_stage(overridden_synth: Synth) -> None:
    resources_ = [
        render(r)
        for s in function_statements(overridden_synth.json, HANDLER["sendtext"])
        if "execute-api:ManageConnections" in actions(s)
        for r in as_list(s["Resource"])
    ]
    assert len(resources_) == 1
    assert resources_[0].endswith("/prod/POST/@connections/*")


@pytest.mark.parametrize("route_key", NON_STREAMING_ROUTES)
def test_only_the_streaming_function_may_call_models(catalogue_synth: Synth, route_key: str) -> None:
    # The `models` function lists the catalogue from its environment: it never calls a model or reads a key.
    granted = {a for s in function_statements(catalogue_synth.json, HANDLER[route_key]) for a in actions(s)}
    assert granted
    assert not [a for a in granted if a.startswith(MODEL_SERVICES)]


@pytest.mark.parametrize("variant", ["default_synth", "oidc_synth"])
def test_the_authorizer_may_only_write_its_own_logs(variant: str, request: pytest.FixtureRequest) -> None:
    # It verifies tokens against the issuer's JWKS over HTTPS: no AWS API, so no permission but its log group.
    synth: Synth = request.getfixturevalue(variant)
    _, props = function_by_handler(synth.json, AUTHORIZER.handler)
    (statement,) = function_statements(synth.json, AUTHORIZER.handler)
    assert sorted(actions(statement)) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == {"Fn::GetAtt": [props["LoggingConfig"]["LogGroup"]["Ref"], "Arn"]}
    role = synth.json["Resources"][role_of(synth.json, AUTHORIZER.handler)]["Properties"]
    assert "ManagedPolicyArns" not in role and "Policies" not in role


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.key)
def test_table_access_is_item_reads_and_writes_on_the_one_table(template_json: dict[str, Any], route) -> None:
    (table_id,) = resources(template_json, "AWS::DynamoDB::Table")
    table = [
        s
        for s in function_statements(template_json, route.handler)
        if any(a.startswith("dynamodb:") for a in actions(s))
    ]
    # Items on the table; Query on each secondary index by name (never the CDK's `index/*`).
    assert [(sorted(actions(s)), [render(r) for r in as_list(s["Resource"])]) for s in table] == [
        (sorted(TABLE_ACTIONS), [f"${{{table_id}.Arn}}"]),
        (list(INDEX_ACTIONS), [f"${{{table_id}.Arn}}/index/{table_schema.OWNER_INDEX}"]),
    ]
    assert "dynamodb:Scan" not in TABLE_ACTIONS
    indexes = template_json["Resources"][table_id]["Properties"]["GlobalSecondaryIndexes"]
    assert [index["IndexName"] for index in indexes] == [table_schema.OWNER_INDEX]


def test_inference_profile_grants_the_profile_and_the_model_through_it(default_synth: Synth) -> None:
    assert default_synth.config.model_id == DEFAULT_PROFILE
    profile = PROFILE_ARN.format(DEFAULT_PROFILE)
    via_profile = {"StringEquals": {"bedrock:InferenceProfileArn": profile}}
    assert _bedrock_of_send_text(default_synth) == {
        "InvokeInferenceProfile": {
            "Action": ["bedrock:InvokeModelWithResponseStream"],
            "Resource": [profile],
            "Condition": {},
        },
        "InvokeModelViaProfile": {
            "Action": ["bedrock:InvokeModelWithResponseStream"],
            "Resource": [
                MODEL_ARN.format(r, DEFAULT_MODEL) for r in ("${AWS::Region}", *GEO_DESTINATION_REGIONS["us"])
            ],
            "Condition": via_profile,
        },
    }


def test_explicit_model_regions_replace_the_geography_default(overridden_synth: Synth) -> None:
    statement = _bedrock_of_send_text(overridden_synth)["InvokeModelViaProfile"]
    assert statement["Resource"] == [
        MODEL_ARN.format(r, DEFAULT_MODEL) for r in ("${AWS::Region}", "us-east-1", "us-west-2")
    ]


def test_foundation_model_id_grants_only_that_model_in_the_stack_region(foundation_model_synth: Synth) -> None:
    assert _bedrock_of_send_text(foundation_model_synth) == {
        "InvokeFoundationModel": {
            "Action": ["bedrock:InvokeModelWithResponseStream"],
            "Resource": [MODEL_ARN.format("${AWS::Region}", FOUNDATION_MODEL_ID)],
            "Condition": {},
        }
    }
    assert "inference-profile" not in str(foundation_model_synth.json["Resources"])


def test_profile_id_never_grants_the_model_outside_the_profile(default_synth: Synth) -> None:
    for sid, statement in _bedrock_of_send_text(default_synth).items():
        if any(":foundation-model/" in r for r in statement["Resource"]):
            condition = statement["Condition"]["StringEquals"]["bedrock:InferenceProfileArn"]
            assert condition == PROFILE_ARN.format(DEFAULT_PROFILE), sid


def test_global_profile_grants_the_region_less_model_as_aws_documents(global_profile_synth: Synth) -> None:
    model = GLOBAL_PROFILE_ID.removeprefix("global.")
    profile = PROFILE_ARN.format(GLOBAL_PROFILE_ID)
    assert _bedrock_of_send_text(global_profile_synth) == {
        "InvokeInferenceProfile": {
            "Action": ["bedrock:InvokeModelWithResponseStream"],
            "Resource": [profile],
            "Condition": {},
        },
        "InvokeModelInSourceRegionViaProfile": {
            "Action": ["bedrock:InvokeModelWithResponseStream"],
            "Resource": [MODEL_ARN.format("${AWS::Region}", model)],
            "Condition": {"StringEquals": {"bedrock:InferenceProfileArn": profile}},
        },
        "InvokeGlobalModelViaProfile": {
            "Action": ["bedrock:InvokeModelWithResponseStream"],
            "Resource": [f"arn:${{AWS::Partition}}:bedrock:::foundation-model/{model}"],
            "Condition": {
                "StringEquals": {"aws:RequestedRegion": "unspecified", "bedrock:InferenceProfileArn": profile}
            },
        },
    }


def _model_statements(synth: Synth) -> dict[str, dict[str, Any]]:
    """SendText's statements for models and their API keys, by Sid, rendered to text."""
    found = {}
    for statement in function_statements(synth.json, HANDLER["sendtext"]):
        if any(action.startswith(MODEL_SERVICES) for action in actions(statement)):
            found[statement["Sid"]] = {
                "Action": actions(statement),
                "Resource": [render(r) for r in as_list(statement["Resource"])],
                "Condition": {
                    op: {key: render(value) for key, value in values.items()}
                    for op, values in statement.get("Condition", {}).items()
                },
            }
    return found


def test_a_catalogue_grants_exactly_its_models_endpoints_and_keys(catalogue_synth: Synth) -> None:
    nova_profile = PROFILE_ARN.format("us.amazon.nova-lite-v1:0")
    stream = ["bedrock:InvokeModelWithResponseStream"]
    us_regions = ("${AWS::Region}", *GEO_DESTINATION_REGIONS["us"])
    assert _model_statements(catalogue_synth) == {
        # haiku: the first Bedrock model keeps the statements `modelId` alone produces.
        "InvokeInferenceProfile": {
            "Action": stream,
            "Resource": [PROFILE_ARN.format(DEFAULT_PROFILE)],
            "Condition": {},
        },
        "InvokeModelViaProfile": {
            "Action": stream,
            "Resource": [MODEL_ARN.format(r, DEFAULT_MODEL) for r in us_regions],
            "Condition": {"StringEquals": {"bedrock:InferenceProfileArn": PROFILE_ARN.format(DEFAULT_PROFILE)}},
        },
        # titan: a foundation model in the stack's region.
        "InvokeFoundationModel2": {
            "Action": stream,
            "Resource": [MODEL_ARN.format("${AWS::Region}", "amazon.titan-text-express-v1")],
            "Condition": {},
        },
        # nova (bedrock-converse): the same profile rules; ConverseStream is authorized by the same action.
        "InvokeInferenceProfile3": {"Action": stream, "Resource": [nova_profile], "Condition": {}},
        "InvokeModelViaProfile3": {
            "Action": stream,
            "Resource": [MODEL_ARN.format(r, "amazon.nova-lite-v1:0") for r in us_regions],
            "Condition": {"StringEquals": {"bedrock:InferenceProfileArn": nova_profile}},
        },
        # custom: a Bedrock ARN, granted as configured.
        "InvokeBedrockArns": {"Action": stream, "Resource": [CUSTOM_MODEL_ARN], "Condition": {}},
        # sm-llama: the endpoint in the stack's region and account, its name lower-cased as SageMaker's ARNs are.
        "InvokeSageMakerEndpoints": {
            "Action": ["sagemaker:InvokeEndpointWithResponseStream"],
            "Resource": [
                "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:endpoint/llama3-8b-instruct"
            ],
            "Condition": {},
        },
        # gpt (partial ARN: the documented six-character suffix match) and groq (complete ARN, as given).
        "ReadApiKeySecrets": {
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": [f"{SECRET_PARTIAL_ARN}-??????", SECRET_FULL_ARN],
            "Condition": {},
        },
        # vllm: the parameter by name in the stack's region and account.
        "ReadApiKeyParameters": {
            "Action": ["ssm:GetParameter"],
            "Resource": ["arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/relay/vllm-key"],
            "Condition": {},
        },
        # apiKeyKmsKeyId: decrypt with that one key only.
        "DecryptApiKeys": {
            "Action": ["kms:Decrypt"],
            "Resource": [f"arn:${{AWS::Partition}}:kms:${{AWS::Region}}:${{AWS::AccountId}}:key/{KMS_KEY_ID}"],
            "Condition": {},
        },
    }


@pytest.mark.parametrize("variant", ["default_synth", "oidc_synth", "overridden_synth"])
def test_without_a_catalogue_only_the_model_id_is_granted(variant: str, request: pytest.FixtureRequest) -> None:
    # Nothing but the Bedrock statements `modelId` has always produced: no SageMaker, secret, parameter or key.
    synth: Synth = request.getfixturevalue(variant)
    assert set(_model_statements(synth)) == {"InvokeInferenceProfile", "InvokeModelViaProfile"}
    granted = {a for _, s in all_policy_statements(synth.json) for a in actions(s)}
    assert not [a for a in granted if a.startswith(("sagemaker:", "secretsmanager:", "ssm:", "kms:"))]
