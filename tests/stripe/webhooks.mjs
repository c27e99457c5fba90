// Signs Stripe webhook events with the official `stripe` package
// (stripe.webhooks.generateTestHeaderString) and posts them to the running server's
// POST /webhooks/stripe; tests/api/payments.rs starts the server, onboards a freelancer on the
// mock Stripe API, runs this script and then checks the database.
// Environment: BASE_URL, WEBHOOK_SECRET, ACCOUNT_ID, STRIPE_API_VERSION.

import { assert, checkRunner } from '../support/checks.mjs';
import { deliver as post, event as envelope, expectStatus, now, sign as signWith } from './events.mjs';

const { BASE_URL, WEBHOOK_SECRET, ACCOUNT_ID, STRIPE_API_VERSION } = process.env;
assert(BASE_URL && WEBHOOK_SECRET && ACCOUNT_ID && STRIPE_API_VERSION, 'BASE_URL, WEBHOOK_SECRET, ACCOUNT_ID and STRIPE_API_VERSION are required');

const T = now();
const event = (id, type, created, object) => envelope(id, type, created, object, STRIPE_API_VERSION);
const sign = (payload, { secret = WEBHOOK_SECRET, timestamp } = {}) => signWith(payload, { secret, timestamp });
const deliver = (payload, signature) => post(BASE_URL, payload, signature);

function accountUpdated(id, created, payouts) {
  return event(id, 'account.updated', created, {
    id: ACCOUNT_ID,
    object: 'account',
    business_type: 'individual',
    capabilities: { transfers: payouts ? 'active' : 'inactive' },
    charges_enabled: payouts,
    country: 'US',
    created: created - 3600,
    default_currency: 'usd',
    details_submitted: true,
    metadata: {},
    payouts_enabled: payouts,
    type: 'express',
  });
}

const { check, runAll } = checkRunner({
  checkTimeoutMs: 10_000,
  globalTimeoutMs: 50_000,
  describe: (error) => error?.message ?? String(error),
});

const enabled = accountUpdated('evt_node_enabled', T - 30, true);

check('a signed account.updated is applied', async () => {
  const result = await deliver(enabled, sign(enabled));
  expectStatus(result, 200, 'valid delivery');
  assert(result.body.outcome === 'APPLIED' && result.body.duplicate === false, JSON.stringify(result.body));
});

check('the same event delivered 5 times at once has no second effect', async () => {
  const results = await Promise.all(Array.from({ length: 5 }, () => deliver(enabled, sign(enabled))));
  for (const result of results) {
    expectStatus(result, 200, 'redelivery');
    assert(result.body.duplicate === true, `a redelivery was applied again: ${JSON.stringify(result.body)}`);
  }
  return '5 duplicates';
});

check('a payload signed with the wrong secret gets 400', async () => {
  const payload = accountUpdated('evt_node_wrong_secret', T, false);
  expectStatus(await deliver(payload, sign(payload, { secret: 'whsec_not_ours' })), 400, 'wrong secret');
});

check('a signature timestamped 301 s ago gets 400', async () => {
  const payload = accountUpdated('evt_node_stale', T, false);
  expectStatus(await deliver(payload, sign(payload, { timestamp: now() - 301 })), 400, 'stale timestamp');
});

check('a truncated body gets 400', async () => {
  const payload = accountUpdated('evt_node_truncated', T, false);
  const signature = sign(payload);
  expectStatus(await deliver(payload.slice(0, payload.length - 20), signature), 400, 'truncated body');
});

check('a delivery without Stripe-Signature gets 400', async () => {
  const payload = accountUpdated('evt_node_unsigned', T, false);
  expectStatus(await deliver(payload, undefined), 400, 'missing header');
});

check('a header with several v1 signatures passes when one matches', async () => {
  const payload = accountUpdated('evt_node_enabled', T - 30, true);
  const good = sign(payload);
  const other = sign(payload, { secret: 'whsec_not_ours' });
  const [timestamp, goodV1] = good.split(',');
  const otherV1 = other.split(',')[1];
  const result = await deliver(payload, `${timestamp},${otherV1},${goodV1}`);
  expectStatus(result, 200, 'several signatures');
  assert(result.body.duplicate === true, 'an already recorded event');
});

check('an unknown event type gets 2xx and is recorded', async () => {
  const payload = event('evt_node_unknown', 'invoice.created', T, { id: 'in_node', object: 'invoice' });
  const result = await deliver(payload, sign(payload));
  expectStatus(result, 200, 'unknown type');
  assert(result.body.outcome === 'IGNORED', JSON.stringify(result.body));
});

check('out-of-order account.updated: the newest state wins', async () => {
  const newer = accountUpdated('evt_node_newer', T - 5, false);
  const older = accountUpdated('evt_node_older', T - 20, true);
  const first = await deliver(newer, sign(newer));
  expectStatus(first, 200, 'newer');
  assert(first.body.outcome === 'APPLIED', JSON.stringify(first.body));
  const late = await deliver(older, sign(older));
  expectStatus(late, 200, 'older');
  assert(late.body.outcome === 'STALE', `an older state was applied: ${JSON.stringify(late.body)}`);
});

await runAll();
