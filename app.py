#!/usr/bin/env python3
"""CDK entry point: read the context once into a typed RelayConfig, build the stack, synthesize."""

from __future__ import annotations

import aws_cdk as cdk

from stacks.config import RelayConfig
from stacks.constructs.bundling import BUNDLING_STACKS_CONTEXT
from stacks.nag import enable_aws_solutions_checks
from stacks.relay_stack import RelayStack

app = cdk.App()
# cdk.json's context plus any `-c key=value` flags; the CDK's own keys in the same context are ignored.
config = RelayConfig.from_context(app.node.get_all_context())
if config.skip_bundling:
    # Must happen before the first construct is added; it overrides whatever the CLI asked to bundle.
    app.node.set_context(BUNDLING_STACKS_CONTEXT, [])
RelayStack(app, config.stack_name, config=config)
if config.cdk_nag:
    enable_aws_solutions_checks(app)
app.synth()
