"""Who may open a connection: the stack's own Cognito user pool (default) or an external OIDC issuer.

Either way the `$connect` authorizer verifies a JWT; this construct only decides whose, and hands the authorizer its
RELAY_AUTH_* variables (`environment`). There is deliberately no variant without an issuer.
"""

from __future__ import annotations

from aws_cdk import Duration, Fn, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from lambdas import env_vars
from stacks.config import RelayConfig
from stacks.nag import acknowledge

COGNITO_TOKEN_USE = "access"
"""Cognito access tokens carry the app client id in `client_id`; ID tokens are for the client app, not for APIs."""
ACCESS_TOKEN_VALIDITY = Duration.hours(1)
ID_TOKEN_VALIDITY = Duration.hours(1)
REFRESH_TOKEN_VALIDITY = Duration.days(30)
PASSWORD_MIN_LENGTH = 12


class RelayAuth(Construct):
    """Exposes `issuer` (the exact `iss` accepted), `environment` (the authorizer's RELAY_AUTH_* variables) and, with
    Cognito, `user_pool` and `client` (both None with an external issuer)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: RelayConfig, removal_policy: RemovalPolicy
    ) -> None:
        super().__init__(scope, construct_id)
        self.user_pool: cognito.UserPool | None = None
        self.client: cognito.UserPoolClient | None = None
        if config.uses_cognito:
            self.user_pool = _user_pool(self, config, removal_policy)
            self.client = _app_client(self, self.user_pool)
            # The form Cognito writes into `iss`; URLSuffix keeps it right in the China partition (amazonaws.com.cn).
            self.issuer: str = Fn.sub(
                "https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}/${UserPoolId}",
                {"UserPoolId": self.user_pool.user_pool_id},
            )
            # Cognito access tokens name the app client in `client_id`, which the verifier matches as the audience.
            audience = self.client.user_pool_client_id
            token_uses: tuple[str, ...] = (COGNITO_TOKEN_USE,)
        else:
            self.issuer = config.auth_issuer
            audience = ",".join(config.auth_audience)
            token_uses = config.auth_token_use

        self.environment: dict[str, str] = {
            env_vars.AUTH_ISSUER: self.issuer,
            env_vars.AUTH_AUDIENCE: audience,
            env_vars.AUTH_LEEWAY_SECONDS: str(config.auth_leeway_seconds),
        }
        if token_uses:
            self.environment[env_vars.AUTH_TOKEN_USE] = ",".join(token_uses)
        if config.auth_jwks_url:
            self.environment[env_vars.AUTH_JWKS_URL] = config.auth_jwks_url
        if config.auth_oidc_discovery:
            self.environment[env_vars.AUTH_OIDC_DISCOVERY] = "true"


def _user_pool(scope: Construct, config: RelayConfig, removal_policy: RemovalPolicy) -> cognito.UserPool:
    threat_protection = config.cognito_threat_protection
    pool = cognito.UserPool(
        scope,
        "UserPool",
        user_pool_name=f"{config.stack_name}-users",
        # Off by default: with it on, anyone on the internet can create an account and spend model budget (within
        # the per-user quotas). An administrator creates users instead (docs/security.md).
        self_sign_up_enabled=config.cognito_self_sign_up,
        # Users sign in with their username or their email address; both compare case-insensitively.
        sign_in_aliases=cognito.SignInAliases(username=True, email=True),
        sign_in_case_sensitive=False,
        standard_attributes=cognito.StandardAttributes(email=cognito.StandardAttribute(required=True, mutable=True)),
        auto_verify=cognito.AutoVerifiedAttrs(email=True),
        account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
        password_policy=cognito.PasswordPolicy(
            min_length=PASSWORD_MIN_LENGTH,
            require_lowercase=True,
            require_uppercase=True,
            require_digits=True,
            require_symbols=True,
            temp_password_validity=Duration.days(3),
        ),
        # Optional TOTP only: SMS needs an SNS role and costs per message; required MFA would break the
        # USER_PASSWORD_AUTH sign-in of scripts and CLI users (docs/security.md).
        mfa=cognito.Mfa.OPTIONAL,
        mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
        # Lite covers everything used here (passwords, TOTP, token revocation); Plus is what threat protection needs.
        feature_plan=cognito.FeaturePlan.PLUS if threat_protection else cognito.FeaturePlan.LITE,
        standard_threat_protection_mode=(
            cognito.StandardThreatProtectionMode.FULL_FUNCTION if threat_protection else None
        ),
        # A retained pool is also protected against deletion outside CloudFormation: it holds the user accounts.
        deletion_protection=removal_policy == RemovalPolicy.RETAIN,
        removal_policy=removal_policy,
    )
    acknowledge(
        pool,
        "AwsSolutions-COG2",
        "MFA is optional (TOTP) rather than required: the relay's users sign in from scripts and CLIs with "
        "USER_PASSWORD_AUTH, which a mandatory MFA challenge would break; users may still enrol a TOTP app.",
    )
    if not threat_protection:
        acknowledge(
            pool,
            "AwsSolutions-COG8",
            "Threat protection needs the Plus feature plan, billed per monthly active user; it is the "
            "cognitoThreatProtection switch (off by default), and the pool keeps a strong password policy meanwhile.",
        )
    return pool


def _app_client(scope: Construct, pool: cognito.UserPool) -> cognito.UserPoolClient:
    return pool.add_client(
        "AppClient",
        # A public client: browsers and CLIs cannot keep a secret, and a secret would force a SECRET_HASH on
        # every initiate-auth call.
        generate_secret=False,
        auth_flows=cognito.AuthFlow(user_password=True, user_srp=True),
        access_token_validity=ACCESS_TOKEN_VALIDITY,
        id_token_validity=ID_TOKEN_VALIDITY,
        refresh_token_validity=REFRESH_TOKEN_VALIDITY,
        # "Incorrect username or password" for unknown users too: sign-in must not tell which accounts exist.
        prevent_user_existence_errors=True,
        enable_token_revocation=True,
        # No hosted UI or OAuth redirect flows (the CDK's default would enable them with an example.com callback).
        disable_o_auth=True,
        supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
    )
