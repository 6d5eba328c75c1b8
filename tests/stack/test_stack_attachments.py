"""The attachments bucket (issue 15): private, encrypted, SSL-only, expiring, CORS for the web client only, and IAM
that lets `attach` put and `sendtext` get objects under `attachments/` and nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match

from lambdas import env_vars
from lambdas.routes import ROUTES
from tests.stack.conftest import Synth, synth
from tests.stack.template_queries import actions, as_list, function_by_handler, function_statements, render, resources

HANDLER = {route.key: route.handler for route in ROUTES}


def _bucket(template_json: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    found = {k: v for k, v in resources(template_json, "AWS::S3::Bucket").items() if k.startswith("Attachments")}
    ((logical_id, bucket),) = found.items()
    return logical_id, bucket


@pytest.fixture(scope="module")
def ttl_synth() -> Synth:
    return synth({"attachmentTtlDays": "7"})


@pytest.fixture(scope="module")
def web_synth() -> Synth:
    return synth({"webClient": "true"})


def test_the_bucket_is_private_encrypted_and_expires_objects_after_a_day(template_json) -> None:
    _, bucket = _bucket(template_json)
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 1 and rule["Status"] == "Enabled"
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert bucket["DeletionPolicy"] == "Retain"
    assert "CorsConfiguration" not in props  # no web client: no browser origin to allow


def test_attachment_ttl_days_sets_the_expiry(ttl_synth: Synth) -> None:
    _, bucket = _bucket(ttl_synth.json)
    assert bucket["Properties"]["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 7
    _, props = function_by_handler(ttl_synth.json, HANDLER["sendtext"])
    assert props["Environment"]["Variables"][env_vars.ATTACHMENT_TTL_DAYS] == "7"


def test_the_bucket_refuses_any_request_without_tls(template, template_json) -> None:
    logical_id, _ = _bucket(template_json)
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": logical_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                "Principal": {"AWS": "*"},
                            }
                        )
                    ]
                )
            },
        },
    )


def test_cors_allows_only_the_web_clients_origin_to_post(web_synth: Synth) -> None:
    _, bucket = _bucket(web_synth.json)
    (rule,) = bucket["Properties"]["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedMethods"] == ["POST"]
    (origin,) = rule["AllowedOrigins"]
    distributions = resources(web_synth.json, "AWS::CloudFront::Distribution")
    assert render(origin) == "https://${" + next(iter(distributions)) + ".DomainName}"


def _s3_statements(template_json: dict[str, Any], route_key: str) -> list[tuple[list[str], list[str]]]:
    return [
        (actions(s), [render(r) for r in as_list(s["Resource"])])
        for s in function_statements(template_json, HANDLER[route_key])
        if any(action.startswith("s3:") for action in actions(s))
    ]


def test_attach_may_only_put_and_sendtext_only_get_under_the_prefix(template_json) -> None:
    logical_id, _ = _bucket(template_json)
    objects = f"${{{logical_id}.Arn}}/attachments/*"
    assert _s3_statements(template_json, "attach") == [(["s3:PutObject"], [objects])]
    assert _s3_statements(template_json, "sendtext") == [(["s3:GetObject"], [objects])]


@pytest.mark.parametrize("route_key", [key for key in HANDLER if key not in ("attach", "sendtext")])
def test_no_other_function_touches_the_bucket(template_json, route_key: str) -> None:
    assert _s3_statements(template_json, route_key) == []
    _, props = function_by_handler(template_json, HANDLER[route_key])
    assert env_vars.ATTACHMENTS_BUCKET not in props.get("Environment", {}).get("Variables", {})


@pytest.mark.parametrize("route_key", ["attach", "sendtext"])
def test_the_functions_that_use_the_bucket_are_told_its_name(template_json, route_key: str) -> None:
    logical_id, _ = _bucket(template_json)
    _, props = function_by_handler(template_json, HANDLER[route_key])
    assert props["Environment"]["Variables"][env_vars.ATTACHMENTS_BUCKET] == {"Ref": logical_id}
