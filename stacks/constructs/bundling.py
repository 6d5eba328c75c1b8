"""The one Lambda code asset: the `lambdas` package plus its third-party wheels for arm64 / CPython 3.13.

Bundled locally with pip's cross-platform wheel download, so `cdk synth` needs no Docker. The asset root holds the
`lambdas/` package itself, which is what makes handler strings like `lambdas.handlers.sendtext.handler` resolve.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_

REPO_ROOT = Path(__file__).resolve().parents[2]
LAMBDAS_DIR = REPO_ROOT / "lambdas"
REQUIREMENTS = LAMBDAS_DIR / "requirements.txt"
NO_DEPS_REQUIREMENTS = LAMBDAS_DIR / "requirements-nodeps.txt"
"""Installed with --no-deps: their dependencies (botocore) come with the Lambda runtime."""

BUNDLING_STACKS_CONTEXT = "aws:cdk:bundling-stacks"
"""The CDK's own switch: `[]` skips every asset's bundling. The CLI refuses `-c aws:...` keys, hence `skipBundling`."""

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
PIP_PLATFORM = "manylinux2014_aarch64"
PIP_PYTHON_VERSION = "3.13"

# Kept out of both the asset hash and the copied package: bytecode built by the host's Python is useless to 3.13,
# and tests are not shipped.
EXCLUDE = ("__pycache__", "*.pyc", "tests")


class BundlingError(RuntimeError):
    """pip could not produce the Lambda dependencies for the target platform."""


@jsii.implements(ILocalBundling)
class LocalPythonBundling:
    """Builds the asset on the host: pip fetches arm64 wheels, then the `lambdas` package is copied next to them."""

    def __init__(
        self,
        source: Path = LAMBDAS_DIR,
        requirements: Path = REQUIREMENTS,
        no_deps_requirements: Path | None = NO_DEPS_REQUIREMENTS,
    ) -> None:
        self._source = source
        self._requirements = requirements
        self._no_deps_requirements = no_deps_requirements

    def try_bundle(self, output_dir: str, *, image: Any = None, **_options: Any) -> bool:
        out = Path(output_dir)
        self._install_requirements(out)
        shutil.copytree(self._source, out / self._source.name, ignore=shutil.ignore_patterns(*EXCLUDE))
        # True tells the CDK the asset is built; a failure raises instead of silently falling back to Docker.
        return True

    def _install_requirements(self, out: Path) -> None:
        commands = [pip_install_command(self._requirements, out)]
        if self._no_deps_requirements is not None and self._no_deps_requirements.exists():
            commands.append([*pip_install_command(self._no_deps_requirements, out), "--no-deps"])
        for pip in commands:
            command = [*pip, "--quiet", "--disable-pip-version-check"]
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise BundlingError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr.strip()}")


def pip_install_command(requirements: Path, target: Path) -> list[str]:
    """Only binary wheels for the Lambda platform: a source build on the host would target the wrong CPU."""
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "-r",
        str(requirements),
        "--platform",
        PIP_PLATFORM,
        "--only-binary=:all:",
        "--python-version",
        PIP_PYTHON_VERSION,
        "--implementation",
        "cp",
        "--target",
        str(target),
        # Host-compiled .pyc files would be for the wrong Python version.
        "--no-compile",
    ]


def lambda_code() -> lambda_.Code:
    """The shared asset. Docker is only the fallback the CDK requires an image for; local bundling always answers."""
    return lambda_.Code.from_asset(
        str(LAMBDAS_DIR),
        exclude=list(EXCLUDE),
        bundling=BundlingOptions(
            image=RUNTIME.bundling_image,
            command=[
                "bash",
                "-c",
                "pip install --no-compile -r requirements.txt -t /asset-output"
                " && pip install --no-compile --no-deps -r requirements-nodeps.txt -t /asset-output"
                " && mkdir -p /asset-output/lambdas"
                " && cp -r . /asset-output/lambdas"
                " && rm -rf /asset-output/lambdas/tests && find /asset-output/lambdas -name __pycache__ -prune"
                " -exec rm -rf {} +",
            ],
            local=LocalPythonBundling(),
        ),
    )
