// GraphQL over HTTP conformance: every audit of graphql-http's `serverAudits` against the
// server at $URL (the `/graphql` endpoint). A warning counts as a failure: the test asks
// for every audit ok. Prints one line per audit and a summary; exits 1 on any failure.
import { serverAudits } from 'graphql-http';

const url = process.env.URL;
if (!url) {
  console.error('set URL to the /graphql endpoint');
  process.exit(2);
}

let passed = 0;
let failed = 0;
for (const audit of serverAudits({ url })) {
  const result = await audit.fn();
  if (result.status === 'ok') {
    passed += 1;
    console.log(`ok    ${result.id} ${result.name}`);
    continue;
  }
  failed += 1;
  let detail = '';
  if (result.response) {
    const body = await result.response.text().catch(() => '');
    detail = ` [${result.response.status} ${result.response.headers.get('content-type')}] ${body.slice(0, 300)}`;
  }
  console.log(`${result.status.padEnd(5)} ${result.id} ${result.name}: ${result.reason}${detail}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
