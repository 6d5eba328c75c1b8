// One answer's frames in seq order, once each, and the page's requestIds: both are the relay client's
// (clients/js, @ws-llm-relay/client, served beside this file as relay-client.js). Kept as a module for devtools and
// the browser tests, which read an answer's ordering rules straight from here.

export { AnswerState as Answer, newRequestId } from "./relay-client.js";
