"""The single DynamoDB table."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template

from lambdas import table_schema
from tests.stack.conftest import Synth
from tests.stack.template_queries import resources


def test_table_is_on_demand_with_string_keys_ttl_pitr_and_aws_managed_encryption(template: Template) -> None:
    template.resource_count_is("AWS::DynamoDB::Table", 1)
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [
                {"AttributeName": table_schema.PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": table_schema.SORT_KEY, "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": table_schema.PARTITION_KEY, "AttributeType": "S"},
                {"AttributeName": table_schema.SORT_KEY, "AttributeType": "S"},
                {"AttributeName": table_schema.OWNER_INDEX_PARTITION_KEY, "AttributeType": "S"},
                {"AttributeName": table_schema.OWNER_INDEX_SORT_KEY, "AttributeType": "S"},
            ],
            "TimeToLiveSpecification": {"AttributeName": table_schema.TTL_ATTRIBUTE, "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            # SSEEnabled without a KMS key is the AWS-managed key (aws/dynamodb).
            "SSESpecification": {"SSEEnabled": True},
        },
    )


def test_conversations_are_listed_through_the_one_owner_index(template: Template) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": table_schema.OWNER_INDEX,
                    "KeySchema": [
                        {"AttributeName": table_schema.OWNER_INDEX_PARTITION_KEY, "KeyType": "HASH"},
                        {"AttributeName": table_schema.OWNER_INDEX_SORT_KEY, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ]
        },
    )


def test_table_is_retained_by_default(template_json: dict[str, Any]) -> None:
    (table,) = resources(template_json, "AWS::DynamoDB::Table").values()
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    assert "KMSMasterKeyId" not in table["Properties"]["SSESpecification"]


def test_destroy_removal_policy_deletes_the_table(overridden_synth: Synth) -> None:
    (table,) = resources(overridden_synth.json, "AWS::DynamoDB::Table").values()
    assert table["DeletionPolicy"] == "Delete"
