"""The relay's single DynamoDB table (key names shared with the handlers and localgw through `table_schema`)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from lambdas import table_schema


class RelayTable(Construct):
    """On-demand, encrypted with an AWS-managed key, point-in-time recovery on, items expire through `ttl`.
    Exposes `table` and `index_names` (its secondary indexes, which the functions are granted one by one)."""

    def __init__(self, scope: Construct, construct_id: str, *, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
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
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
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
