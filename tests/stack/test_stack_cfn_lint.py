"""The synthesized template passes cfn-lint (the CloudFormation resource specs) without errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cfnlint.api import lint_file

from tests.stack.conftest import Synth


@pytest.mark.parametrize(
    "variant",
    [
        "default_synth",
        "overridden_synth",
        "global_profile_synth",
        "extended_synth",
        "oidc_synth",
        "catalogue_synth",
        "operations_synth",
    ],
)
def test_template_has_no_cfn_lint_errors(variant: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    synthesized: Synth = request.getfixturevalue(variant)
    path = tmp_path / "template.json"
    path.write_text(json.dumps(synthesized.json, indent=1))
    matches = lint_file(path)
    errors = [f"{m.rule.id} {m.message} ({m.path})" for m in matches if m.rule.id.startswith("E")]
    assert errors == []
    assert path.stat().st_size > 1000
