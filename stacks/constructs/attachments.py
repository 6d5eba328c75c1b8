"""The attachments bucket (issue 15): private, encrypted, SSL-only, every public access blocked, objects expiring
after `attachmentTtlDays`, CORS for the web client's origin only, and grants that reach only the `attachments/`
prefix (lambdas.attachments.keys.PREFIX): the `attach` function may put there (its credentials sign the
presigned POSTs), the `sendtext` function may get from there, nothing else may do anything.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from lambdas import env_vars
from lambdas.attachments.keys import PREFIX
from stacks.nag import acknowledge

UPLOAD_ROUTE = "attach"
"""Its function signs the uploads: it needs s3:PutObject, since a presigned POST acts with the signer's rights."""
READ_ROUTE = "sendtext"
"""Its function reads the objects to send them to the model."""


class AttachmentBucket(Construct):
    """Exposes `bucket`; `grant(functions)` wires the functions that use it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        ttl_days: int,
        cors_origins: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            # SSE-S3: a presigned POST needs no KMS grant for it, and the uploads expire within days anyway.
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=False,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAttachments",
                    expiration=Duration.days(ttl_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            cors=[
                s3.CorsRule(
                    allowed_methods=[s3.HttpMethods.POST],
                    allowed_origins=list(cors_origins),
                    allowed_headers=["*"],
                    max_age=600,
                )
            ]
            if cors_origins
            else None,
            # Always kept on `cdk destroy`: CloudFormation cannot delete a bucket that still holds objects, and an
            # auto-delete custom resource would bring a function with broad S3 rights; the lifecycle rule empties
            # a left-behind bucket within `attachmentTtlDays`.
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "Uploads live a day or so and every read and write is the relay's own functions under their roles; "
            "CloudTrail data events can log them if needed, without a second bucket for access logs.",
        )

    def grant(self, functions: dict[str, lambda_.Function]) -> None:
        """PutObject to the `attach` function, GetObject to `sendtext`, each on `attachments/*` only; both get the
        bucket's name. Routes that are not there (a test's own route table) get nothing."""
        objects = self.bucket.arn_for_objects(f"{PREFIX}*")
        for route, action, sid in ((UPLOAD_ROUTE, "s3:PutObject", "UploadAttachments"),
                                   (READ_ROUTE, "s3:GetObject", "ReadAttachments")):  # fmt: skip
            function = functions.get(route)
            if function is None:
                continue
            function.add_environment(env_vars.ATTACHMENTS_BUCKET, self.bucket.bucket_name)
            function.add_to_role_policy(iam.PolicyStatement(sid=sid, actions=[action], resources=[objects]))
            acknowledge(
                function.role,
                f"AwsSolutions-IAM5[Resource::<{self._logical_id()}.Arn>/{PREFIX}*]",
                f"Object keys are minted per upload at run time; the grant is one action ({action}) on the "
                f"attachments bucket's `{PREFIX}` prefix only.",
            )

    def _logical_id(self) -> str:
        return str(Stack.of(self).resolve(self.bucket.node.default_child.logical_id))  # type: ignore[union-attr]
