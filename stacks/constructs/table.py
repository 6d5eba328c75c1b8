"""The relay's single DynamoDB table (key names shared with the handlers and localgw through `table_schema`)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from lambdas import table_schema


class RelayTable(Construct):
    """On-demand, encrypted with an AWS-managed key (or `kms_key`: `create` or a key ARN), point-in-time recovery
    on, items expire through `ttl`. Exposes `table` and `index_names` (its secondary indexes, which the functions are
    granted one by one)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, removal_policy: RemovalPolicy, kms_key: str = ""
    ) -> None:
        super().__init__(scope, construct_id)
        encryption_key: kms.IKey | None = None
        if kms_key == "create":
            encryption_key = kms.Key(
                self,
                "Key",
                description="Encrypts the relay's table (prompts, answers, conversations)",
                enable_key_rotation=True,
                removal_policy=removal_policy,
            )
        elif kms_key:
            encryption_key = kms.Key.from_key_arn(self, "Key", kms_key)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=table_schema.PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=table_schema.SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=table_schema.TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED
            if encryption_key
            else dynamodb.TableEncryption.AWS_MANAGED,
            encryption_key=encryption_key,
            removal_policy=removal_policy,
        )
        # Conversations by owner, newest first (`conversations` action); items without the keys stay out of it.
        self.table.add_global_secondary_index(
            index_name=table_schema.OWNER_INDEX,
            partition_key=dynamodb.Attribute(
                name=table_schema.OWNER_INDEX_PARTITION_KEY, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name=table_schema.OWNER_INDEX_SORT_KEY, type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        self.index_names: tuple[str, ...] = (table_schema.OWNER_INDEX,)
