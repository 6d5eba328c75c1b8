"""The browser chat client (`web/`) on CloudFront: a private S3 bucket read only through Origin Access Control, a
strict Content-Security-Policy, and a deployment that uploads web/ with a config.json generated from this stack.

The deployment's custom resource (aws_s3_deployment.BucketDeployment) runs on a role of ours with exact grants: the
CDK's own grants would read the whole CDK asset bucket (`s3:GetObject*` on `{assets}/*`), write with action
wildcards, attach AWSLambdaBasicExecutionRole and invalidate any distribution (`cloudfront:*Invalidation` on `*`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import Aws, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from stacks.config import RelayConfig
from stacks.constructs.auth import RelayAuth
from stacks.constructs.log_groups import log_group
from stacks.nag import acknowledge

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
INDEX = "index.html"
CONFIG_KEY = "config.json"

DEPLOYED_EXTENSIONS: tuple[str, ...] = (".html", ".js", ".css", ".svg", ".png", ".ico", ".webmanifest", ".txt")
"""The files localgw serves from web/ (`localgw.web.CONTENT_TYPES` bar .json): the deployment ships the same set."""

# Glob patterns, applied in order (a `!` pattern takes a file back): everything is out, then the top-level files with
# a served extension are back in. Subdirectories (tests, fixtures) and dotfiles stay out, and so do test modules.
# config.json is named although no `!` pattern brings .json back: should one ever be added, a local config.json must
# still never stand in for the generated one.
ASSET_EXCLUDE: tuple[str, ...] = (
    "*",
    ".*",
    *(f"!*{extension}" for extension in DEPLOYED_EXTENSIONS),
    "*.test.js",
    "*.spec.js",
    CONFIG_KEY,
)

# Browsers revalidate every file on each load (a 304 when unchanged), so a deploy never leaves a page running a mix
# of old and new modules; CloudFront keeps its copy for a day, and every deploy invalidates it anyway.
CACHE_CONTROL = (s3deploy.CacheControl.max_age(Duration.seconds(0)), s3deploy.CacheControl.s_max_age(Duration.days(1)))
HSTS_MAX_AGE = Duration.days(730)
DEPLOYMENT_FUNCTION_PREFIX = "Custom::CDKBucketDeployment"
"""The construct id of BucketDeployment's singleton handler starts with its `lambdaPurpose`."""

# What the deployment handler does (the CDK's bucket-deployment-handler/index.py): `aws s3 cp` each source zip;
# `aws s3 sync --delete` into the bucket; when a `destroy` stack deletes it, `aws s3 rm --recursive`; then
# CreateInvalidation and its waiter. tests/stack/test_stack_web_checks.py pins the handler's code hash, so an
# aws-cdk-lib upgrade that changes the handler fails a test until these lists are checked against it again.
SOURCE_ACTIONS: tuple[str, ...] = ("s3:GetObject",)
# Deliberately not s3:GetBucketTagging: before emptying, the handler skips the `rm` when the bucket carries any
# `aws-cdk:cr-owned` tag, and the deployment always tags its own bucket, so with that permission a deleted stack's
# bucket is never emptied and cannot be deleted (aws/aws-cdk#33397). Denied the read, the handler treats the bucket
# as not owned and empties it.
BUCKET_ACTIONS: tuple[str, ...] = ("s3:ListBucket",)
OBJECT_ACTIONS: tuple[str, ...] = ("s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload")
INVALIDATION_ACTIONS: tuple[str, ...] = ("cloudfront:CreateInvalidation", "cloudfront:GetInvalidation")


@dataclass(frozen=True)
class ClientSettings:
    """What the page is told (`config`, written as config.json) and where it may connect (`connect_src`, beyond
    'self'), made in one place so the two never disagree."""

    config: Mapping[str, Any]
    connect_src: tuple[str, ...]


def client_settings(*, ws_url: str, ws_origin: str, auth: RelayAuth, config: RelayConfig) -> ClientSettings:
    """config.json for the deployed page (the contract in web/config.js) and the origins its CSP must allow."""
    if auth.user_pool is not None and auth.client is not None:
        region = Aws.REGION
        return ClientSettings(
            config={
                "wsUrl": ws_url,
                "auth": {
                    "mode": "cognito",
                    "region": region,
                    "userPoolId": auth.user_pool.user_pool_id,
                    "clientId": auth.client.user_pool_client_id,
                },
            },
            # The page calls InitiateAuth on the pool's regional endpoint (web/cognito.js), and nothing else.
            connect_src=(ws_origin, f"https://cognito-idp.{region}.{Aws.URL_SUFFIX}"),
        )
    oidc: dict[str, Any] = {"mode": "oidc", "issuer": auth.issuer}
    # The audience is the client id only when there is exactly one; with several, the page cannot tell which.
    if len(config.auth_audience) == 1:
        oidc["clientId"] = config.auth_audience[0]
    # No sign-in origin: the page has no OIDC sign-in to call one with (docs/configuration.md, Web client).
    return ClientSettings(config={"wsUrl": ws_url, "auth": oidc}, connect_src=(ws_origin,))


ATTACHMENT_UPLOADS = f"https://*.s3.{Aws.REGION}.{Aws.URL_SUFFIX}"
"""Where the page POSTs attachments: the presigned POST names the bucket on S3's regional endpoint
(`https://{bucket}.s3.{region}.amazonaws.com/`, lambdas/clients.py). The one wildcard in the policy: naming the
bucket would be a dependency cycle (the bucket's CORS names the distribution, whose headers policy would name the
bucket), and script-src 'self' already keeps injected code from running to send anything anywhere."""


def content_security_policy(connect_src: Sequence[str]) -> str:
    """Only the page's own files run or style it; it talks to itself, the relay, its sign-in endpoint and S3 (for
    attachments); thumbnails of the files picked are blob: URLs."""
    directives = {
        "default-src": ("'none'",),
        "script-src": ("'self'",),
        "style-src": ("'self'",),
        "img-src": ("'self'", "data:", "blob:"),
        "connect-src": ("'self'", *connect_src, ATTACHMENT_UPLOADS),
        "base-uri": ("'none'",),
        "form-action": ("'none'",),
        "frame-ancestors": ("'none'",),
    }
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


class WebClient(Construct):
    """Exposes `bucket`, `distribution`, `deployment`, `deployment_role` and `url` (https://)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: ClientSettings,
        config: RelayConfig,
        removal_policy: RemovalPolicy,
        source: Path = WEB_DIR,
    ) -> None:
        super().__init__(scope, construct_id)
        if not (source / INDEX).is_file():
            raise FileNotFoundError(f"{source / INDEX} is missing: webClient deploys the browser client in {source}")
        destroy = removal_policy == RemovalPolicy.DESTROY
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            # No versioning: web/ is in git and every deploy rewrites the bucket; old versions would only keep a
            # `destroy` stack from deleting it.
            versioned=False,
            # No auto_delete_objects: its custom resource brings AWSLambdaBasicExecutionRole and a bucket policy with
            # s3:DeleteObject*, s3:GetBucket* and s3:List*. A `destroy` stack empties the bucket through the
            # deployment instead (retain_on_delete=False below).
            removal_policy=removal_policy,
        )
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "The bucket holds only the static files of web/, public by design; it is written only by this stack's "
            "deployment and read only by this distribution (Origin Access Control), so its access log would record "
            "nothing but CloudFront's fetches, at the cost of a second bucket.",
        )
        self.distribution = self._distribution(settings, config)
        self.url: str = f"https://{config.web_client_domain_name or self.distribution.distribution_domain_name}"
        self.deployment_role = iam.Role(
            self,
            "DeploymentRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Uploads the web client to its bucket and invalidates its distribution",
        )
        deployment_logs = log_group(
            self, "DeploymentLogs", days=config.log_retention_days, removal_policy=removal_policy
        )
        deployment_logs.grant_write(self.deployment_role)
        self.deployment = s3deploy.BucketDeployment(
            self,
            "Deployment",
            sources=[
                s3deploy.Source.asset(str(source), exclude=list(ASSET_EXCLUDE)),
                # Not escape=True: in this aws-cdk-lib each deploy-time value already arrives as a quoted JSON
                # string, and the handler's escaping would quote it again into invalid JSON. The values (ids, the
                # region, URLs) hold no character that needs escaping.
                s3deploy.Source.json_data(CONFIG_KEY, dict(settings.config)),
            ],
            destination_bucket=self.bucket,
            distribution=self.distribution,
            distribution_paths=["/*"],
            cache_control=list(CACHE_CONTROL),
            # The construct's grants land on an immutable view of the role and are dropped; ours are below.
            role=self.deployment_role.without_policy_updates(),
            log_group=deployment_logs,
            # `destroy`: deleting the deployment empties the bucket, so CloudFormation can then delete the bucket.
            retain_on_delete=not destroy,
        )
        self._grant_deployment()

    def _distribution(self, settings: ClientSettings, config: RelayConfig) -> cloudfront.Distribution:
        headers = cloudfront.ResponseHeadersPolicy(
            self,
            "Headers",
            response_headers_policy_name=_account_unique_name("relay-web-headers"),
            comment="Relay web client: strict CSP and security headers",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy(settings.connect_src), override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=HSTS_MAX_AGE, include_subdomains=True, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
            ),
        )
        custom_domain = bool(config.web_client_domain_name)
        distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"{config.stack_name} web client",
            default_root_object=INDEX,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(
                    self.bucket,
                    origin_access_control=cloudfront.S3OriginAccessControl(
                        self,
                        "OriginAccessControl",
                        origin_access_control_name=_account_unique_name("relay-web"),
                        signing=cloudfront.Signing.SIGV4_ALWAYS,
                    ),
                ),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=headers,
            ),
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            domain_names=[config.web_client_domain_name] if custom_domain else None,
            certificate=(
                acm.Certificate.from_certificate_arn(self, "Certificate", config.web_client_certificate_arn)
                if custom_domain
                else None
            ),
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if custom_domain else None,
        )
        acknowledge(
            distribution,
            "AwsSolutions-CFR3",
            "The distribution serves only the public, static files of web/, the same to everyone; requests carry no "
            "credentials (tokens go to Cognito and to the WebSocket API, whose access log records every connection).",
        )
        acknowledge(
            distribution,
            "AwsSolutions-CFR1",
            "No geo restriction: the relay has no regional audience to restrict to; access is controlled by sign-in "
            "at Cognito and by the $connect authorizer, not by where the static page is fetched from.",
        )
        acknowledge(
            distribution,
            "AwsSolutions-CFR2",
            "No WAF web ACL: the distribution serves static files only (GET/HEAD from S3, cached); the relay itself "
            "is API Gateway with per-route throttling and per-user quotas, and a web ACL would add a monthly fee.",
        )
        if not custom_domain:
            acknowledge(
                distribution,
                "AwsSolutions-CFR4",
                "The cloudfront.net name uses CloudFront's default certificate, whose security policy cannot be "
                "raised above TLSv1; set webClientDomainName and webClientCertificateArn for TLSv1.2_2021.",
            )
        return distribution

    def _grant_deployment(self) -> None:
        role = self.deployment_role
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadSourceZips",
                actions=list(SOURCE_ACTIONS),
                # Each zip the deployment copies, by its exact key in the CDK asset bucket.
                resources=[asset.bucket.arn_for_objects(asset.s3_object_key) for asset in _source_assets(self)],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(sid="ListSite", actions=list(BUCKET_ACTIONS), resources=[self.bucket.bucket_arn])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteSite", actions=list(OBJECT_ACTIONS), resources=[self.bucket.arn_for_objects("*")]
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="InvalidateSite",
                actions=list(INVALIDATION_ACTIONS),
                resources=[self.distribution.distribution_arn],
            )
        )
        # The custom resource runs only once its grants exist (the function alone does not wait for the policy).
        self.deployment.node.add_dependency(role)
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{_logical_id(self.bucket)}.Arn>/*]",
            "`aws s3 sync --delete` writes every file of web/ and deletes any file no longer in it, keys known only "
            "at deploy time; the grant is this one bucket, which holds nothing but the web client.",
        )
        acknowledge(
            _deployment_function(self),
            "AwsSolutions-L1",
            "The CDK's own BucketDeployment handler: aws-cdk-lib picks its runtime (and ships the code for it), so it "
            "moves with the aws-cdk-lib version pinned in requirements.txt, not with this stack.",
        )


def _account_unique_name(prefix: str) -> str:
    """A name for a CloudFront policy or origin access control. Those are unique per account, not per region, and the
    CDK's default name comes from the construct path alone, so the same stack in a second region would collide; the
    region and the stack id's UUID keep them apart (and within the 64 characters an origin access control allows)."""
    stack_uuid = Fn.select(2, Fn.split("/", Aws.STACK_ID))
    return Fn.join("-", [prefix, Aws.REGION, stack_uuid])


def _source_assets(web_client: WebClient) -> list[s3_assets.Asset]:
    """The zips `Source.asset` and `Source.json_data` staged: the deployment creates them as its own children."""
    found = [child for child in web_client.deployment.node.children if isinstance(child, s3_assets.Asset)]
    if len(found) != 2:
        raise RuntimeError(f"expected the web/ zip and the config.json zip, found {len(found)} assets")
    return found


def _deployment_function(scope: Construct) -> lambda_.Function:
    """The deployment's handler: a singleton the CDK creates at the top of the stack, not inside the deployment."""
    found = [
        child
        for child in Stack.of(scope).node.children
        if isinstance(child, lambda_.Function) and child.node.id.startswith(DEPLOYMENT_FUNCTION_PREFIX)
    ]
    if len(found) != 1:
        raise RuntimeError(f"expected one {DEPLOYMENT_FUNCTION_PREFIX}* function, found {len(found)}")
    return found[0]


def _logical_id(bucket: s3.Bucket) -> str:
    """How cdk-nag names the bucket in a finding: its logical id, as `<LogicalId.Arn>`."""
    return Stack.of(bucket).get_logical_id(bucket.node.default_child)
