"""The boto3 clients' settings that change what a user's browser talks to."""

from __future__ import annotations

import pytest

from lambdas import clients


@pytest.fixture
def s3_in(monkeypatch: pytest.MonkeyPatch):
    def make(region: str, endpoint: str | None = None):
        monkeypatch.setenv("AWS_DEFAULT_REGION", region)  # as Lambda sets it (with AWS_REGION)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
            monkeypatch.delenv(name, raising=False)
        if endpoint:
            monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
        clients.s3.cache_clear()
        return clients.s3()

    yield make
    clients.s3.cache_clear()


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1"])
def test_a_presigned_post_goes_to_the_buckets_regional_name(s3_in, region):
    # The deployed page's CSP allows https://*.s3.{region}.amazonaws.com; the global name would redirect a new bucket.
    post = s3_in(region).generate_presigned_post("relay-attachments", "attachments/u/a1")
    assert post["url"] == f"https://relay-attachments.s3.{region}.amazonaws.com/"


def test_a_local_endpoint_keeps_path_style(s3_in):
    post = s3_in("us-east-1", "http://127.0.0.1:4566").generate_presigned_post("relay-attachments", "k")
    assert post["url"] == "http://127.0.0.1:4566/relay-attachments"
