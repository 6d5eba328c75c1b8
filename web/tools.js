// The page's one client-side tool, a demo of the tool loop (protocol v2): the model calls `browser_clock`, the
// page runs it here, in the browser, and sends the result back with `toolResults`; the model then answers with it.

export const BROWSER_CLOCK = Object.freeze({
  name: "browser_clock",
  description: "The current date and time on the user's computer (read from the browser), optionally in a time zone.",
  inputSchema: {
    type: "object",
    properties: { timeZone: { type: "string", description: "An IANA time zone such as Europe/Paris; default: the user's" } },
  },
});

export const TOOLS = [BROWSER_CLOCK];

/** Run one tool call: `{status: "success" | "error", content}` for its `toolResults` entry. */
export function runTool({ name, input }, now = new Date()) {
  if (name !== BROWSER_CLOCK.name) return { status: "error", content: `this page has no tool named ${name}` };
  const timeZone = typeof input?.timeZone === "string" && input.timeZone ? input.timeZone : undefined;
  try {
    const local = now.toLocaleString("en-GB", { timeZone, dateStyle: "full", timeStyle: "long" });
    const zone = timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
    return { status: "success", content: { now: now.toISOString(), local, timeZone: zone } };
  } catch {
    return { status: "error", content: `unknown time zone: ${timeZone}` };
  }
}
