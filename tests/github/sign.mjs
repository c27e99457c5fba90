// Prints the X-Hub-Signature-256 header value (`sha256=<hex>`) that @octokit/webhooks-methods
// makes for PAYLOAD signed with WEBHOOK_SECRET, exactly as GitHub signs a delivery;
// tests/api/github.rs sends it with the payload.

import { sign, verify } from '@octokit/webhooks-methods';

const { PAYLOAD, WEBHOOK_SECRET } = process.env;
if (!PAYLOAD || !WEBHOOK_SECRET) {
  console.error('PAYLOAD and WEBHOOK_SECRET are required');
  process.exit(2);
}
const signature = await sign(WEBHOOK_SECRET, PAYLOAD);
// The library's own verifier must accept what it signed.
if (!(await verify(WEBHOOK_SECRET, PAYLOAD, signature))) {
  console.error('octokit could not verify its own signature');
  process.exit(1);
}
process.stdout.write(signature);
