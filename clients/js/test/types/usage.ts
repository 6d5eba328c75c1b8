// Compiled, never run (`npm run typecheck`): the hand-written relay-client.d.ts describes the API as documented.
import { RelayClient, RelayError, type AnswerEvent, type AnswerResult, type ModelInfo } from "@ws-llm-relay/client";

async function usage(getToken: () => Promise<string>): Promise<void> {
  const relay = new RelayClient({ url: "ws://127.0.0.1:8080/dev", token: ({ fresh }) => (fresh ? getToken() : getToken()) });
  const off = relay.on("state", ({ state, delayMs }) => console.log(state, delayMs));
  const answer = relay.ask({ text: "hi", model: "claude", maxTokens: 100, temperature: 0.2 });
  for await (const event of answer) {
    const e: AnswerEvent = event;
    switch (e.type) {
      case "start":
        console.log(e.conversationId);
        break;
      case "text":
        console.log(e.text.length);
        break;
      case "reasoning":
        console.log(e.redacted, e.text.length);
        break;
      case "toolUse":
        console.log(e.toolUseId, e.name, e.input);
        break;
      case "done":
        console.log(e.stopReason, e.usage?.outputTokens);
        break;
      case "error":
        console.log(e.error.code, e.error.retryAfter, e.error.field);
        break;
    }
  }
  const result: AnswerResult = await answer.done;
  if (result.stopReason === "tool_use") {
    const toolResults = result.toolUses.map((call) => ({ toolUseId: call.toolUseId, content: { ok: true }, status: "success" as const }));
    relay.ask({ conversationId: result.conversationId ?? undefined, toolResults, tools: [{ name: "clock", inputSchema: { type: "object" } }] });
  }
  const file = await relay.attach(new Blob(["hi"], { type: "text/plain" }), { fileName: "hi.txt" });
  relay.ask({ text: "read it", attachments: [file.attachmentId], reasoning: { budgetTokens: 1024 }, toolChoice: "auto" });
  const text: string = await answer.text();
  answer.cancel();
  const models: ModelInfo[] = await relay.models();
  const page = await relay.conversations({ limit: 5, cursor: null });
  const history = await relay.history(page.conversations[0].conversationId);
  console.log(result.usage, text, models[0].id, page.next, history.turns[0].role);
  try {
    await relay.connect();
  } catch (error) {
    if (error instanceof RelayError && error.retryable) console.log(error.code);
  }
  off();
  relay.close();
}
void usage;
