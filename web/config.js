// The page's settings come from config.json beside index.html, so one build of web/ runs anywhere: localgw
// writes it from the running gateway, a deployment writes the stack's URL and user pool (docs/web.md).

export async function loadConfig(url = "config.json") {
  const response = await fetch(url, { cache: "no-store" });
  if (!response.ok) throw new Error(`config.json could not be loaded (HTTP ${response.status})`);
  const config = await response.json();
  if (typeof config?.wsUrl !== "string" || !/^wss?:\/\/[^\s]+$/.test(config.wsUrl)) {
    throw new Error('config.json: "wsUrl" must be a ws:// or wss:// URL');
  }
  const mode = config.auth?.mode ?? "none";
  if (mode === "cognito" && !(config.auth.region && config.auth.userPoolId && config.auth.clientId)) {
    throw new Error('config.json: cognito auth needs "region", "userPoolId" and "clientId"');
  }
  return { ...config, auth: { ...config.auth, mode }, simulated: config.simulated === true };
}
