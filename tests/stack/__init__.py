"""Tests of the CDK app: the synthesized template, its IAM, cdk-nag, cfn-lint, bundling and the real CDK CLI."""

import os

# jsii starts node on the first aws_cdk import; on Node 20 it prints an end-of-life banner into every run.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
