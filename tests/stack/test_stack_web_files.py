"""What the deployment uploads: the top-level files of web/ that localgw also serves, never tests, dotfiles or a
local config.json, and the generated config.json beside them."""

from __future__ import annotations

import re
from pathlib import Path

import aws_cdk as cdk
import pytest

from localgw.web import CONTENT_TYPES
from stacks.config import load_config
from stacks.constructs.bundling import BUNDLING_STACKS_CONTEXT
from stacks.constructs.web_client import CONFIG_KEY, DEPLOYED_EXTENSIONS, WEB_DIR, ClientSettings, WebClient
from tests.stack.template_queries import resources
from tests.stack.test_stack_web import WEB, web_synth


def _staged_files(outdir: Path, object_key: str) -> set[str]:
    root = outdir / f"asset.{object_key.removesuffix('.zip')}"
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def test_the_deployment_ships_web_and_nothing_else() -> None:
    synth = web_synth("cognito")
    ((_, deployment),) = resources(synth.json, "Custom::CDKBucketDeployment").items()
    files_key, config_key = deployment["Properties"]["SourceObjectKeys"]
    expected = {p.name for p in WEB_DIR.iterdir() if p.is_file() and p.suffix in DEPLOYED_EXTENSIONS}
    assert "index.html" in expected
    assert _staged_files(synth.outdir, files_key) == expected
    assert _staged_files(synth.outdir, config_key) == {CONFIG_KEY}


def test_the_deployed_extensions_are_the_ones_localgw_serves() -> None:
    # What works locally is what gets deployed; config.json is generated in both places, never a file.
    assert set(DEPLOYED_EXTENSIONS) == set(CONTENT_TYPES) - {".json"}


def _stage_fixture(source: Path, outdir: Path) -> list[set[str]]:
    """Build the web client alone from `source` and list the files of each zip the deployment would copy."""
    app = cdk.App(context={BUNDLING_STACKS_CONTEXT: []}, outdir=str(outdir))
    stack = cdk.Stack(app, "WebFixture")
    web = WebClient(
        stack,
        "Web",
        settings=ClientSettings(config={"wsUrl": "wss://example.com/dev"}, connect_src=("wss://example.com",)),
        config=load_config(WEB),
        removal_policy=cdk.RemovalPolicy.RETAIN,
        source=source,
    )
    zips = []
    for child in web.deployment.node.children:
        if isinstance(child, cdk.aws_s3_assets.Asset):
            root = outdir / child.asset_path
            zips.append({str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()})
    return zips


def test_dev_and_test_files_stay_out_of_the_bucket(tmp_path: Path) -> None:
    source = tmp_path / "web"
    for name in (
        "index.html",
        "app.js",
        "style.css",
        "favicon.ico",
        "config.json",  # a local one must never replace the generated one
        "app.test.js",
        "notes.md",
        ".DS_Store",
        ".env.js",
        "tests/helper.js",
        "fixtures/page.html",
    ):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(name)
    files, config = _stage_fixture(source, tmp_path / "out")
    assert files == {"index.html", "app.js", "style.css", "favicon.ico"}
    assert config == {CONFIG_KEY}


def test_a_missing_client_stops_the_synth_clearly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=re.escape("index.html is missing")):
        _stage_fixture(tmp_path, tmp_path / "out")
