"""The browser client's hosting (`webClient`): absent by default; when on, a private bucket behind CloudFront with
Origin Access Control, a strict CSP, and a deployment that writes a config.json pointing at this stack.

The web variants are synthesized once per session with the cdk-nag plugin on, as `cdk synth` runs (`web_synth`); the
IAM, nag and cfn-lint checks of the same templates are in test_stack_web_checks.py, what gets uploaded in
test_stack_web_files.py.
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aws_cdk as cdk
import pytest

from stacks.config import RelayConfig, load_config
from stacks.constructs.bundling import BUNDLING_STACKS_CONTEXT
from stacks.constructs.web_client import CONFIG_KEY, client_settings
from stacks.nag import enable_aws_solutions_checks
from stacks.relay_stack import RelayStack
from tests.stack.conftest import OIDC_ISSUER, OIDC_OVERRIDES, OVERRIDES, Synth
from tests.stack.template_queries import render
from tests.stack.template_queries import resources as all_resources


def resources(template: Mapping[str, Any], resource_type: str) -> dict[str, Mapping[str, Any]]:
    """The web client's resources of a type: the attachments bucket (issue 15) belongs to another construct."""
    return {k: v for k, v in all_resources(template, resource_type).items() if not k.startswith("Attachments")}


WEB: Mapping[str, str] = {"webClient": "true"}
DOMAIN = "chat.example.com"
CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
WEB_VARIANTS: Mapping[str, Mapping[str, str]] = {
    # The defaults with the switch on: Cognito, `retain`, the cloudfront.net name.
    "cognito": WEB,
    # An external issuer: no user pool, so no Cognito settings and no Cognito origin in the CSP.
    "oidc": {**OIDC_OVERRIDES, **WEB},
    # Every other toggle flipped: stage `prod`, `destroy`, and a custom domain with its certificate.
    "overridden": {**OVERRIDES, **WEB, "webClientDomainName": DOMAIN, "webClientCertificateArn": CERTIFICATE_ARN},
}


@dataclass(frozen=True)
class WebSynth:
    config: RelayConfig
    stack: RelayStack
    json: dict[str, Any]
    outdir: Path
    findings: list[str]
    """The cdk-nag rule ids that stopped the synth (empty when it passed)."""


@functools.cache
def web_synth(variant: str) -> WebSynth:
    """One synth per variant and session, shared by the web test modules (a session fixture cannot be shared across
    modules without editing conftest.py)."""
    config = load_config(WEB_VARIANTS[variant])
    outdir = Path(tempfile.mkdtemp(prefix=f"web-{variant}-"))
    atexit.register(shutil.rmtree, outdir, ignore_errors=True)
    app = cdk.App(context={BUNDLING_STACKS_CONTEXT: []}, outdir=str(outdir))
    stack = RelayStack(app, config.stack_name, config=config)
    enable_aws_solutions_checks(app)
    findings: list[str] = []
    try:
        app.synth()
    except RuntimeError as exc:  # jsii re-raises the CDK's ValidationFailed error as a RuntimeError
        assert "ValidationFailed" in str(exc)
        report = json.loads((outdir / "validation-report.json").read_text())
        findings = [v["ruleName"] for plugin in report["pluginReports"] for v in plugin["violations"]]
    template = json.loads((outdir / stack.template_file).read_text())
    return WebSynth(config, stack, template, outdir, findings)


@pytest.fixture(params=list(WEB_VARIANTS))
def any_web(request: pytest.FixtureRequest) -> WebSynth:
    return web_synth(request.param)


@pytest.fixture
def cognito_web() -> WebSynth:
    return web_synth("cognito")


@pytest.fixture
def oidc_web() -> WebSynth:
    return web_synth("oidc")


@pytest.fixture
def overridden_web() -> WebSynth:
    return web_synth("overridden")


def _one(template: Mapping[str, Any], resource_type: str) -> tuple[str, Mapping[str, Any]]:
    (found,) = resources(template, resource_type).items()
    return found[0], found[1].get("Properties", {})


def _deployment(template: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    return _one(template, "Custom::CDKBucketDeployment")


def _csp(template: Mapping[str, Any]) -> dict[str, list[str]]:
    _, policy = _one(template, "AWS::CloudFront::ResponseHeadersPolicy")
    text = render(
        policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    )
    directives = [part.split() for part in text.split(";")]
    return {name: sources for name, *sources in directives}


def _client_config(synth: WebSynth) -> dict[str, Any]:
    """config.json as the deployment writes it: the staged file with each marker replaced by its deploy-time value
    (markers carry their own JSON quotes), read back as JSON."""
    _, props = _deployment(synth.json)
    _, config_key = props["SourceObjectKeys"]  # the sources in order: web/, then config.json
    text = (synth.outdir / f"asset.{config_key.removesuffix('.zip')}" / CONFIG_KEY).read_text()
    for marker, value in props["SourceMarkers"][1].items():
        text = text.replace(marker, render(value))
    return json.loads(text)


def _distribution_arn(distribution_id: str) -> str:
    return f"arn:${{AWS::Partition}}:cloudfront::${{AWS::AccountId}}:distribution/${{{distribution_id}}}"


# --- the switch ---------------------------------------------------------------------------------------------------


def test_the_web_client_is_off_by_default(default_synth: Synth) -> None:
    assert default_synth.config.web_client is False
    assert default_synth.stack.web_client is None
    for resource_type in (
        "AWS::S3::Bucket",
        "AWS::S3::BucketPolicy",
        "AWS::CloudFront::Distribution",
        "AWS::CloudFront::OriginAccessControl",
        "AWS::CloudFront::ResponseHeadersPolicy",
        "Custom::CDKBucketDeployment",
    ):
        assert resources(default_synth.json, resource_type) == {}, resource_type
    assert "WebClientUrl" not in default_synth.json["Outputs"]


def test_the_switch_adds_the_hosting_and_its_url(any_web: WebSynth) -> None:
    assert any_web.stack.web_client is not None
    for resource_type in (
        "AWS::S3::Bucket",
        "AWS::S3::BucketPolicy",
        "AWS::CloudFront::Distribution",
        "AWS::CloudFront::OriginAccessControl",
        "AWS::CloudFront::ResponseHeadersPolicy",
        "Custom::CDKBucketDeployment",
    ):
        assert len(resources(any_web.json, resource_type)) == 1, resource_type
    # No auto-delete custom resource in any variant: it would bring AWSLambdaBasicExecutionRole and wildcard grants.
    assert resources(any_web.json, "Custom::S3AutoDeleteObjects") == {}


def test_the_url_output_is_the_distribution_or_the_custom_domain(
    cognito_web: WebSynth, overridden_web: WebSynth
) -> None:
    distribution_id, _ = _one(cognito_web.json, "AWS::CloudFront::Distribution")
    assert render(cognito_web.json["Outputs"]["WebClientUrl"]["Value"]) == f"https://${{{distribution_id}.DomainName}}"
    assert overridden_web.json["Outputs"]["WebClientUrl"]["Value"] == f"https://{DOMAIN}"


# --- the bucket ---------------------------------------------------------------------------------------------------


def test_the_bucket_is_private_encrypted_and_unversioned(any_web: WebSynth) -> None:
    _, bucket = _one(any_web.json, "AWS::S3::Bucket")
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "VersioningConfiguration" not in bucket
    assert "WebsiteConfiguration" not in bucket


def test_only_this_distribution_may_read_the_bucket_and_only_over_tls(any_web: WebSynth) -> None:
    bucket_id, _ = _one(any_web.json, "AWS::S3::Bucket")
    distribution_id, _ = _one(any_web.json, "AWS::CloudFront::Distribution")
    _, policy = _one(any_web.json, "AWS::S3::BucketPolicy")
    assert policy["Bucket"] == {"Ref": bucket_id}
    statements = [
        {
            "Effect": s["Effect"],
            "Principal": s["Principal"],
            "Action": s["Action"],
            "Resource": sorted(
                render(r) for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
            ),
            "Condition": {op: {k: render(v) for k, v in c.items()} for op, c in s.get("Condition", {}).items()},
        }
        for s in policy["PolicyDocument"]["Statement"]
    ]
    assert statements == [
        {
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "s3:*",
            "Resource": [f"${{{bucket_id}.Arn}}", f"${{{bucket_id}.Arn}}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": [f"${{{bucket_id}.Arn}}/*"],
            "Condition": {"StringEquals": {"AWS:SourceArn": _distribution_arn(distribution_id)}},
        },
    ]


def test_the_bucket_follows_the_removal_policy(cognito_web: WebSynth, overridden_web: WebSynth) -> None:
    # retain: the bucket and its files stay. destroy: deleting the deployment empties the bucket, which then goes.
    for synth, policy, retain_on_delete in ((cognito_web, "Retain", True), (overridden_web, "Delete", False)):
        bucket_id, _ = _one(synth.json, "AWS::S3::Bucket")
        assert synth.json["Resources"][bucket_id]["DeletionPolicy"] == policy
        assert synth.json["Resources"][bucket_id]["UpdateReplacePolicy"] == policy
        _, deployment = _deployment(synth.json)
        assert deployment["RetainOnDelete"] is retain_on_delete


# --- the distribution ---------------------------------------------------------------------------------------------


def test_the_distribution_reads_the_bucket_through_origin_access_control(any_web: WebSynth) -> None:
    bucket_id, _ = _one(any_web.json, "AWS::S3::Bucket")
    oac_id, oac = _one(any_web.json, "AWS::CloudFront::OriginAccessControl")
    assert {k: v for k, v in oac["OriginAccessControlConfig"].items() if k != "Name"} == {
        "OriginAccessControlOriginType": "s3",
        "SigningBehavior": "always",
        "SigningProtocol": "sigv4",
    }
    _, distribution = _one(any_web.json, "AWS::CloudFront::Distribution")
    (origin,) = distribution["DistributionConfig"]["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": [bucket_id, "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    # No legacy origin access identity alongside.
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert resources(any_web.json, "AWS::CloudFront::CloudFrontOriginAccessIdentity") == {}


def test_cloudfront_names_are_unique_per_region_and_stack(any_web: WebSynth) -> None:
    # CloudFront names are account-wide: the same stack deployed to two regions must not collide.
    def name(prefix: str) -> dict[str, Any]:
        stack_uuid = {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}
        return {"Fn::Join": ["-", [prefix, {"Ref": "AWS::Region"}, stack_uuid]]}

    _, oac = _one(any_web.json, "AWS::CloudFront::OriginAccessControl")
    assert oac["OriginAccessControlConfig"]["Name"] == name("relay-web")
    _, headers = _one(any_web.json, "AWS::CloudFront::ResponseHeadersPolicy")
    assert headers["ResponseHeadersPolicyConfig"]["Name"] == name("relay-web-headers")
    # At most 64 characters for an origin access control: prefix, the longest region name, a 36-character UUID.
    assert len("relay-web-") + len("ap-southeast-7-") + 36 <= 64


def test_the_distribution_serves_index_html_over_https_only(any_web: WebSynth) -> None:
    headers_id, _ = _one(any_web.json, "AWS::CloudFront::ResponseHeadersPolicy")
    _, distribution = _one(any_web.json, "AWS::CloudFront::Distribution")
    config = distribution["DistributionConfig"]
    assert config["DefaultRootObject"] == "index.html"
    assert config["PriceClass"] == "PriceClass_100"
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    assert behavior["ResponseHeadersPolicyId"] == {"Ref": headers_id}
    assert "CacheBehaviors" not in config


def test_a_custom_domain_brings_its_certificate_and_tls12(cognito_web: WebSynth, overridden_web: WebSynth) -> None:
    default = _one(cognito_web.json, "AWS::CloudFront::Distribution")[1]["DistributionConfig"]
    # CloudFront's default certificate for the cloudfront.net name: no aliases, no certificate to configure.
    assert "Aliases" not in default and "ViewerCertificate" not in default
    custom = _one(overridden_web.json, "AWS::CloudFront::Distribution")[1]["DistributionConfig"]
    assert custom["Aliases"] == [DOMAIN]
    assert custom["ViewerCertificate"] == {
        "AcmCertificateArn": CERTIFICATE_ARN,
        "MinimumProtocolVersion": "TLSv1.2_2021",
        "SslSupportMethod": "sni-only",
    }


# --- response headers ---------------------------------------------------------------------------------------------


def test_the_csp_lets_the_page_reach_only_itself_the_relay_and_cognito(cognito_web: WebSynth) -> None:
    (api_id,) = resources(cognito_web.json, "AWS::ApiGatewayV2::Api")
    csp = _csp(cognito_web.json)
    assert csp["connect-src"] == [
        "'self'",
        f"${{{api_id}.ApiEndpoint}}",  # wss://{apiId}.execute-api.{region}.amazonaws.com, as API Gateway reports it
        "https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}",
        "https://*.s3.${AWS::Region}.${AWS::URLSuffix}",  # attachment uploads (the bucket is the host)
    ]
    assert csp == {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:"],
        "connect-src": csp["connect-src"],
        "base-uri": ["'none'"],
        "form-action": ["'none'"],
        "frame-ancestors": ["'none'"],
    }


def test_the_csp_never_allows_inline_code_or_wildcards(any_web: WebSynth) -> None:
    # The one wildcard: S3's global endpoint for attachment uploads, only in connect-src (web_client.py says why).
    csp = _csp(any_web.json)
    sources = {source for directive in csp.values() for source in directive} - {
        "https://*.s3.${AWS::Region}.${AWS::URLSuffix}"
    }
    assert not [s for s in sources if "unsafe" in s or "*" in s or s in ("http:", "https:", "ws:", "wss:")]
    assert [name for name, values in csp.items() if "https://*.s3.${AWS::Region}.${AWS::URLSuffix}" in values] == [
        "connect-src"
    ]


def test_without_cognito_the_csp_has_no_sign_in_origin(oidc_web: WebSynth) -> None:
    (api_id,) = resources(oidc_web.json, "AWS::ApiGatewayV2::Api")
    uploads = "https://*.s3.${AWS::Region}.${AWS::URLSuffix}"
    assert _csp(oidc_web.json)["connect-src"] == ["'self'", f"${{{api_id}.ApiEndpoint}}", uploads]


def test_security_headers_are_set_and_override_the_origin(any_web: WebSynth) -> None:
    _, policy = _one(any_web.json, "AWS::CloudFront::ResponseHeadersPolicy")
    headers = policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert headers["StrictTransportSecurity"] == {
        "AccessControlMaxAgeSec": 63_072_000,
        "IncludeSubdomains": True,
        "Override": True,
    }
    assert headers["ContentTypeOptions"] == {"Override": True}
    assert headers["ReferrerPolicy"] == {"ReferrerPolicy": "no-referrer", "Override": True}
    assert headers["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
    assert headers["ContentSecurityPolicy"]["Override"] is True


# --- the deployment and config.json -------------------------------------------------------------------------------


def test_config_json_points_the_page_at_this_stack_and_its_user_pool(cognito_web: WebSynth) -> None:
    (api_id,) = resources(cognito_web.json, "AWS::ApiGatewayV2::Api")
    (pool_id,) = resources(cognito_web.json, "AWS::Cognito::UserPool")
    (client_id,) = resources(cognito_web.json, "AWS::Cognito::UserPoolClient")
    config = _client_config(cognito_web)
    assert config == {
        "wsUrl": f"wss://${{{api_id}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/dev",
        "auth": {
            "mode": "cognito",
            "region": "${AWS::Region}",
            "userPoolId": f"${{{pool_id}}}",
            "clientId": f"${{{client_id}}}",
        },
    }
    # The same URL the stack outputs for every other client.
    assert config["wsUrl"] == render(cognito_web.json["Outputs"]["WebSocketUrl"]["Value"])


def test_config_json_follows_the_stage(overridden_web: WebSynth) -> None:
    assert _client_config(overridden_web)["wsUrl"].endswith(".${AWS::URLSuffix}/prod")


def test_config_json_names_an_external_issuer(oidc_web: WebSynth) -> None:
    # Two audiences in OIDC_OVERRIDES: the page cannot tell which is its client id, so none is written.
    assert _client_config(oidc_web)["auth"] == {"mode": "oidc", "issuer": OIDC_ISSUER}


@pytest.mark.parametrize(("audience", "expected"), [(("spa",), {"clientId": "spa"}), (("api", "spa"), {})])
def test_an_issuer_with_one_audience_gives_the_page_its_client_id(
    audience: tuple[str, ...], expected: dict[str, str]
) -> None:
    config = load_config({**OIDC_OVERRIDES, "authAudience": ",".join(audience)})
    auth = SimpleNamespace(user_pool=None, client=None, issuer=OIDC_ISSUER)
    settings = client_settings(ws_url="wss://w/dev", ws_origin="wss://w", auth=auth, config=config)  # type: ignore[arg-type]
    assert settings.config["auth"] == {"mode": "oidc", "issuer": OIDC_ISSUER, **expected}
    assert settings.connect_src == ("wss://w",)


def test_deploy_time_values_are_not_escaped_twice(any_web: WebSynth) -> None:
    # Each marker's value arrives as a quoted JSON string; the handler's `jsonEscape` would quote it again.
    _, props = _deployment(any_web.json)
    assert not [config for config in props["SourceMarkersConfig"] if config.get("jsonEscape")]
    for markers in props["SourceMarkers"]:
        for value in markers.values():
            text = render(value)
            assert text.startswith('"') and text.endswith('"') and '"' not in text[1:-1], text


def test_the_deployment_syncs_prunes_and_invalidates_everything(any_web: WebSynth) -> None:
    distribution_id, _ = _one(any_web.json, "AWS::CloudFront::Distribution")
    bucket_id, _ = _one(any_web.json, "AWS::S3::Bucket")
    _, props = _deployment(any_web.json)
    assert props["DestinationBucketName"] == {"Ref": bucket_id}
    assert "DestinationBucketKeyPrefix" not in props
    assert props["Prune"] is True
    assert props["DistributionId"] == {"Ref": distribution_id}
    assert props["DistributionPaths"] == ["/*"]
    # Browsers revalidate on every load (no mix of old and new modules after a deploy); CloudFront keeps a day.
    assert props["SystemMetadata"] == {"cache-control": "max-age=0, s-maxage=86400"}
