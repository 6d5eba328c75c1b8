"""Who may connect: the stack's own Cognito user pool and app client, or an external OIDC issuer (no pool)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.stack.conftest import Synth
from tests.stack.template_queries import resources


def _pool(synth: Synth) -> Mapping[str, Any]:
    (pool,) = resources(synth.json, "AWS::Cognito::UserPool").values()
    return pool


def _client(synth: Synth) -> Mapping[str, Any]:
    (client,) = resources(synth.json, "AWS::Cognito::UserPoolClient").values()
    return client["Properties"]


def test_only_administrators_create_users_by_default(default_synth: Synth, overridden_synth: Synth) -> None:
    assert _pool(default_synth)["Properties"]["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
    assert _pool(overridden_synth)["Properties"]["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": False}


def test_passwords_are_long_and_mixed(default_synth: Synth) -> None:
    assert _pool(default_synth)["Properties"]["Policies"]["PasswordPolicy"] == {
        "MinimumLength": 12,
        "RequireLowercase": True,
        "RequireUppercase": True,
        "RequireNumbers": True,
        "RequireSymbols": True,
        "TemporaryPasswordValidityDays": 3,
    }


def test_users_sign_in_with_username_or_verified_email_case_insensitively(default_synth: Synth) -> None:
    props = _pool(default_synth)["Properties"]
    assert props["AliasAttributes"] == ["email"]
    assert props["UsernameConfiguration"] == {"CaseSensitive": False}
    assert props["AutoVerifiedAttributes"] == ["email"]
    assert props["Schema"] == [{"Name": "email", "Required": True, "Mutable": True}]
    assert props["AccountRecoverySetting"] == {"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]}


def test_mfa_is_optional_with_an_authenticator_app_only(default_synth: Synth) -> None:
    props = _pool(default_synth)["Properties"]
    assert (props["MfaConfiguration"], props["EnabledMfas"]) == ("OPTIONAL", ["SOFTWARE_TOKEN_MFA"])
    assert "SmsConfiguration" not in props


def test_threat_protection_is_a_paid_switch(default_synth: Synth, overridden_synth: Synth) -> None:
    off = _pool(default_synth)["Properties"]
    assert off["UserPoolTier"] == "LITE"
    assert "UserPoolAddOns" not in off
    on = _pool(overridden_synth)["Properties"]
    assert on["UserPoolTier"] == "PLUS"
    assert on["UserPoolAddOns"] == {"AdvancedSecurityMode": "ENFORCED"}


def test_the_pool_follows_the_removal_policy(default_synth: Synth, overridden_synth: Synth) -> None:
    retained = _pool(default_synth)
    assert (retained["DeletionPolicy"], retained["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert retained["Properties"]["DeletionProtection"] == "ACTIVE"
    destroyed = _pool(overridden_synth)
    assert destroyed["DeletionPolicy"] == "Delete"
    assert destroyed["Properties"]["DeletionProtection"] == "INACTIVE"


def test_the_app_client_is_public_with_password_and_srp_sign_in(default_synth: Synth) -> None:
    client = _client(default_synth)
    assert client["GenerateSecret"] is False
    assert sorted(client["ExplicitAuthFlows"]) == [
        "ALLOW_REFRESH_TOKEN_AUTH",
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_USER_SRP_AUTH",
    ]
    (pool_id,) = resources(default_synth.json, "AWS::Cognito::UserPool")
    assert client["UserPoolId"] == {"Ref": pool_id}


def test_tokens_are_short_lived_and_unknown_users_look_like_wrong_passwords(default_synth: Synth) -> None:
    client = _client(default_synth)
    assert (client["AccessTokenValidity"], client["IdTokenValidity"]) == (60, 60)
    assert client["RefreshTokenValidity"] == 30 * 24 * 60
    assert client["TokenValidityUnits"] == {"AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "minutes"}
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    assert client["EnableTokenRevocation"] is True


def test_the_app_client_has_no_hosted_ui_or_oauth_redirects(default_synth: Synth) -> None:
    client = _client(default_synth)
    assert client["AllowedOAuthFlowsUserPoolClient"] is False
    assert not {"AllowedOAuthFlows", "CallbackURLs", "LogoutURLs"} & set(client)
    assert client["SupportedIdentityProviders"] == ["COGNITO"]


def test_an_external_issuer_replaces_the_user_pool(oidc_synth: Synth) -> None:
    assert not [r for r in oidc_synth.json["Resources"].values() if r["Type"].startswith("AWS::Cognito::")]
    # Still exactly one authorizer on $connect: the issuer changes, authentication does not go away.
    assert len(resources(oidc_synth.json, "AWS::ApiGatewayV2::Authorizer")) == 1
