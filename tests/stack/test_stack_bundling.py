"""The Lambda asset is built without Docker: arm64 / CPython 3.13 wheels from pip plus the `lambdas` package."""

from __future__ import annotations

import json
import os
from pathlib import Path

import aws_cdk as cdk
import pytest

from lambdas.routes import ROUTES
from stacks.config import load_config
from stacks.constructs.bundling import LAMBDAS_DIR, BundlingError, LocalPythonBundling, pip_install_command
from stacks.relay_stack import RelayStack


def test_pip_fetches_only_binary_wheels_for_lambda_arm64_python_3_13(tmp_path: Path) -> None:
    command = " ".join(pip_install_command(Path("lambdas/requirements.txt"), tmp_path))
    assert "--platform manylinux2014_aarch64" in command
    assert "--only-binary=:all:" in command
    assert "--python-version 3.13" in command
    assert "--implementation cp" in command
    assert f"--target {tmp_path}" in command


def test_a_pip_failure_stops_the_synth_with_pips_message(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("this is not a requirement ===\n")
    bundler = LocalPythonBundling(requirements=requirements)
    with pytest.raises(BundlingError, match="failed"):
        bundler.try_bundle(str(tmp_path / "out"), image=None)


@pytest.mark.slow
def test_synth_bundles_the_asset_locally(tmp_path: Path) -> None:
    # GIVEN an app with bundling on (no aws:cdk:bundling-stacks context), as `cdk synth`/`cdk deploy` run it
    config = load_config()
    app = cdk.App(outdir=str(tmp_path))
    RelayStack(app, config.stack_name, config=config)
    # WHEN it synthesizes
    assembly = app.synth()

    # THEN every function's code is one asset directory holding the package and arm64 CPython 3.13 wheels
    assets = json.loads((tmp_path / f"{config.stack_name}.assets.json").read_text())["files"]
    (asset,) = [a for a in assets.values() if a["source"].get("packaging") == "zip"]
    root = Path(assembly.directory) / asset["source"]["path"]
    shipped = {p.relative_to(root) for p in (root / "lambdas").rglob("*.py")}
    source = {p.relative_to(LAMBDAS_DIR.parent) for p in LAMBDAS_DIR.rglob("*.py") if "tests" not in p.parts}
    assert shipped == source
    # The handler strings resolve inside the asset, as the Lambda runtime will import them.
    for route in ROUTES:
        assert Path(route.handler.rpartition(".")[0].replace(".", "/") + ".py") in shipped, route.handler
    assert (root / "aws_lambda_powertools").is_dir()
    assert [p.name for p in root.glob("msgspec/_core.cpython-313-aarch64-linux-gnu.so")]
    assert not (root / "pydantic").exists(), "pydantic is a test-only dependency now; the asset must not carry it"
    # The X-Ray SDK for `-c tracing=true` is there, without a botocore of its own to shadow the runtime's.
    assert (root / "aws_xray_sdk").is_dir()
    assert not (root / "botocore").exists() and not (root / "boto3").exists()
    assert not list(root.rglob("__pycache__"))
    assert not (root / "lambdas" / "tests").exists()
    # The HTTP function's handler is a start-up script the Lambda Web Adapter executes, with its web server's wheels.
    assert os.access(root / "lambdas" / "openai_http" / "run.sh", os.X_OK)
    assert (root / "aiohttp").is_dir()
