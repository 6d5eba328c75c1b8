"""The single DynamoDB table's key schema: read by the CDK stack, by localgw (which creates it locally) and by store.

Single-table design: `pk`/`sk` strings; items expire through the `ttl` attribute (epoch seconds).
Dependency-free on purpose (imported by the CDK app).
"""

PARTITION_KEY = "pk"
SORT_KEY = "sk"
TTL_ATTRIBUTE = "ttl"

# Conversations listed by owner, most recently updated first (the only secondary index).
OWNER_INDEX = "byOwner"
OWNER_INDEX_PARTITION_KEY = "gsi1pk"
OWNER_INDEX_SORT_KEY = "gsi1sk"
