"""The web client's options: off by default, a string switch from `-c`, and a custom domain only as a complete,
CloudFront-usable pair."""

from __future__ import annotations

import pytest

from stacks.config import ConfigError, RelayConfig, load_config

CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"


def _domain(name: str, certificate: str = CERTIFICATE_ARN) -> dict[str, str]:
    return {"webClient": "true", "webClientDomainName": name, "webClientCertificateArn": certificate}


def test_the_web_client_is_off_by_default() -> None:
    config = load_config()
    assert config == RelayConfig()
    assert (config.web_client, config.web_client_domain_name, config.web_client_certificate_arn) == (False, "", "")


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("1", True), ("false", False), ("no", False)])
def test_the_switch_arrives_as_a_string_from_the_command_line(value: str, expected: bool) -> None:
    assert load_config({"webClient": value}).web_client is expected


def test_a_custom_domain_with_its_certificate_is_accepted() -> None:
    config = load_config(_domain("chat.example.com"))
    assert (config.web_client_domain_name, config.web_client_certificate_arn) == ("chat.example.com", CERTIFICATE_ARN)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"webClientDomainName": "chat.example.com"}, "webClientDomainName applies to the web client"),
        ({"webClientCertificateArn": CERTIFICATE_ARN}, "webClientCertificateArn applies to the web client"),
        ({"webClient": "true", "webClientDomainName": "chat.example.com"}, "set both"),
        ({"webClient": "true", "webClientCertificateArn": CERTIFICATE_ARN}, "set both"),
        (_domain("*.example.com"), "lower-case DNS name"),
        (_domain("Chat.Example.com"), "lower-case DNS name"),
        (_domain("chat.example.com", CERTIFICATE_ARN.replace("us-east-1", "eu-west-1")), "in us-east-1"),
        (_domain("chat.example.com", "my-cert"), "in us-east-1"),
    ],
    ids=[
        "domain-without-switch",
        "certificate-without-switch",
        "domain-without-certificate",
        "certificate-without-domain",
        "wildcard-domain",
        "upper-case-domain",
        "certificate-outside-us-east-1",
        "not-an-arn",
    ],
)
def test_invalid_web_client_settings_raise_a_config_error(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(overrides)
