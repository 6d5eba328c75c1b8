// Where the WebSocket's token comes from, per config.json `auth.mode`:
//   "dev"     — localgw's dev issuer (GET tokenUrl?sub=USER): any user name, no password; LOCAL ONLY.
//   "cognito" — a Cognito user pool: the sign-in form, then InitiateAuth (cognito.js); refreshed before expiry.
//   "none"    — no token (localgw --no-auth).
// Every source has `token({fresh})` → Promise<string|null>, `forget()`, and `user` for the page header.

import { refresh, signIn } from "./cognito.js";

const EARLY_MS = 60_000; // renew a token this long before it expires: a reconnect must not race the expiry

export function tokenSource(auth, { askForCredentials, storage = localStorage } = {}) {
  switch (auth?.mode) {
    case "dev":
      return new DevTokens(auth.tokenUrl || "/dev/token", storage);
    case "cognito":
      return new CognitoTokens(auth, askForCredentials);
    case "none":
    case undefined:
      return { user: null, token: async () => null, forget() {} };
    default:
      throw new Error(`config.json: unknown auth mode "${auth.mode}"`);
  }
}

const USER_KEY = "relay-chat.dev-user";
export const DEV_USER = /^[A-Za-z0-9_.@-]{1,128}$/;

class DevTokens {
  constructor(tokenUrl, storage) {
    this.tokenUrl = tokenUrl;
    this.storage = storage;
    this.user = storage.getItem(USER_KEY) || "dev-user";
    this.cached = null;
  }

  setUser(user) {
    if (!DEV_USER.test(user)) throw new Error("A user is 1-128 characters of A-Z a-z 0-9 _ . @ -");
    this.user = user;
    this.storage.setItem(USER_KEY, user);
    this.forget();
  }

  forget() {
    this.cached = null;
  }

  async token({ fresh = false } = {}) {
    if (!fresh && this.cached && this.cached.expiresAt * 1000 - Date.now() > EARLY_MS) return this.cached.token;
    const url = new URL(this.tokenUrl, location.href);
    url.searchParams.set("sub", this.user);
    const response = await fetch(url, { cache: "no-store" });
    const body = await response.json().catch(() => ({}));
    if (!response.ok || !body.token) {
      throw new Error(body.message || `the dev token endpoint answered ${response.status}`);
    }
    this.cached = { token: body.token, expiresAt: body.expiresAt };
    return body.token;
  }
}

class CognitoTokens {
  constructor(settings, askForCredentials) {
    this.settings = { region: settings.region, clientId: settings.clientId };
    this.askForCredentials = askForCredentials;
    this.user = null;
    this.forget();
  }

  forget() {
    this.access = null;
    this.expiresAt = 0;
  }

  async token() {
    // A failed handshake says nothing about why (browsers hide the 401): a token with time left is kept, since a
    // network failure is the likelier cause, and renewed only when it is about to expire.
    if (this.access && this.expiresAt - Date.now() > EARLY_MS) return this.access;
    if (this.refreshToken) {
      try {
        return this.store(await refresh(this.settings, this.refreshToken));
      } catch (error) {
        if (error instanceof TypeError) throw error; // offline: keep the refresh token for the next attempt
        this.refreshToken = null;
      }
    }
    // The form calls signIn itself, so it can show Cognito's answer (a wrong password) and let the user retry.
    const attempt = (name, password) => signIn(this.settings, name, password);
    const { username, result } = await this.askForCredentials(attempt);
    this.user = username;
    return this.store(result);
  }

  store(result) {
    this.access = result.AccessToken;
    this.expiresAt = Date.now() + (result.ExpiresIn || 3600) * 1000;
    if (result.RefreshToken) this.refreshToken = result.RefreshToken;
    return this.access;
  }
}
