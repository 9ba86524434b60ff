// The GraphQL-over-HTTP spec's reference audit (graphql-http's auditServer) against a running
// bridge. Usage: BRIDGE_TOKEN=<admin token> node audit.mjs http://127.0.0.1:<port>/graphql
// Prints every audit that did not pass (MUST failures, SHOULD warnings, MAY notices) and a
// summary line; exits 1 on any MUST failure or SHOULD warning, 2 on a usage error.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
const token = process.env.BRIDGE_TOKEN;
if (!url || !token) {
  console.error('usage: BRIDGE_TOKEN=<admin token> node audit.mjs <graphql url>');
  process.exit(2);
}

// Every audit request carries the admin token, as any client of the bridge does.
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};

const results = await auditServer({ url, fetchFn });
const label = { error: 'MUST failure', warn: 'SHOULD warning', notice: 'MAY notice' };
const count = { ok: 0, error: 0, warn: 0, notice: 0 };
for (const r of results) {
  count[r.status] += 1;
  if (r.status !== 'ok') {
    console.log(`${label[r.status]}: ${r.name} [${r.id}]\n    ${r.reason}`);
  }
}
console.log(
  `graphql-http audit: ${count.ok} ok, ${count.error} MUST failures, ${count.warn} SHOULD warnings, ` +
    `${count.notice} MAY notices`,
);
process.exit(count.error + count.warn > 0 ? 1 : 0);
