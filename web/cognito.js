// Amazon Cognito's InitiateAuth, called directly with fetch: the whole of what a browser needs to turn a
// username and password into an access token, without the AWS SDK. Cognito's public endpoint allows
// cross-origin calls and needs no AWS credentials for an app client without a secret.
// NOTE: written to Cognito's documented wire format and tested only against a local stub (no AWS here).

const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/** The endpoint for `region`; the region comes from config.json, so it is checked before it becomes a host. */
export function cognitoEndpoint(region) {
  if (!REGION.test(region || "")) throw new Error(`config.json: "${region}" is not an AWS region`);
  return `https://cognito-idp.${region}.amazonaws.com/`;
}

/** POST InitiateAuth; resolves with AuthenticationResult ({AccessToken, ExpiresIn, RefreshToken, ...}). */
export async function initiateAuth({ region, clientId }, authFlow, authParameters) {
  const response = await fetch(cognitoEndpoint(region), {
    method: "POST",
    headers: {
      "Content-Type": "application/x-amz-json-1.1",
      "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
    },
    body: JSON.stringify({ AuthFlow: authFlow, ClientId: clientId, AuthParameters: authParameters }),
    credentials: "omit",
    cache: "no-store",
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    // Cognito names the error in __type ("NotAuthorizedException", ...) and explains it in message.
    const kind = String(body.__type || `HTTP ${response.status}`).split("#").pop();
    throw new Error(body.message ? `${body.message} (${kind})` : kind);
  }
  if (body.ChallengeName) throw new Error(`Cognito asks for ${body.ChallengeName}, which this page does not handle`);
  if (!body.AuthenticationResult?.AccessToken) throw new Error("Cognito answered without an access token");
  return body.AuthenticationResult;
}

export function signIn(settings, username, password) {
  return initiateAuth(settings, "USER_PASSWORD_AUTH", { USERNAME: username, PASSWORD: password });
}

export function refresh(settings, refreshToken) {
  return initiateAuth(settings, "REFRESH_TOKEN_AUTH", { REFRESH_TOKEN: refreshToken });
}
