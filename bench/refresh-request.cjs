// autocannon's setupRequest for the refresh scenario. autocannon runs its load in a worker thread
// and loads this file there, so the tokens come from a file (BENCH_REFRESH_TOKENS) rather than
// from the main thread's memory. Each request spends one token: refresh tokens are single use.
const { readFileSync } = require("node:fs");

const tokens = JSON.parse(readFileSync(process.env.BENCH_REFRESH_TOKENS, "utf8"));

module.exports = (request) => ({ ...request, body: JSON.stringify({ refresh_token: tokens.pop() ?? "spent" }) });
