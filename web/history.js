// A conversation's `history` frames are put back together by the relay client (`relay.history(id)` resolves once
// the final frame is in, split turns merged); this module keeps the merge rule at hand for tests and devtools.

export { mergeTurns } from "./relay-client.js";
