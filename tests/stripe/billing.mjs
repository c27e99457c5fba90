// Billing subscription events signed with the official `stripe` package and posted to the
// running server's POST /webhooks/stripe; tests/api/billing.rs starts the server, checks a
// user out on the mock Stripe API (their customer), runs this script and then checks the
// database and the user's plan.
// Environment: BASE_URL, WEBHOOK_SECRET, CUSTOMER_ID, USER_ID, STRIPE_API_VERSION.

import { assert, checkRunner } from '../support/checks.mjs';
import { deliver as post, event, expectStatus, now, sign } from './events.mjs';

const { BASE_URL, WEBHOOK_SECRET, CUSTOMER_ID, USER_ID, STRIPE_API_VERSION } = process.env;
assert(
  BASE_URL && WEBHOOK_SECRET && CUSTOMER_ID && USER_ID && STRIPE_API_VERSION,
  'BASE_URL, WEBHOOK_SECRET, CUSTOMER_ID, USER_ID and STRIPE_API_VERSION are required',
);

const T = now();
const SUBSCRIPTION = 'sub_node_billing';

function subscriptionEvent(id, type, created, status) {
  return event(id, type, created, {
    id: SUBSCRIPTION,
    object: 'subscription',
    cancel_at_period_end: false,
    collection_method: 'charge_automatically',
    created: created - 600,
    currency: 'usd',
    customer: CUSTOMER_ID,
    items: {
      object: 'list',
      data: [{
        id: 'si_node_billing',
        object: 'subscription_item',
        current_period_start: created - 600,
        current_period_end: created + 30 * 24 * 3600,
        price: { id: 'price_gigmarket_pro_monthly', object: 'price', unit_amount: 1900, currency: 'usd' },
        quantity: 1,
        subscription: SUBSCRIPTION,
      }],
      has_more: false,
      url: `/v1/subscription_items?subscription=${SUBSCRIPTION}`,
    },
    livemode: false,
    metadata: { gigmarket_user_id: USER_ID, gigmarket_plan: 'pro' },
    start_date: created - 600,
    status,
  }, STRIPE_API_VERSION);
}

function invoiceEvent(id, type, created) {
  const paid = type === 'invoice.paid';
  return event(id, type, created, {
    id: `in_${id}`,
    object: 'invoice',
    amount_due: 1900,
    amount_paid: paid ? 1900 : 0,
    billing_reason: 'subscription_cycle',
    customer: CUSTOMER_ID,
    parent: { type: 'subscription_details', subscription_details: { metadata: {}, subscription: SUBSCRIPTION } },
    status: paid ? 'paid' : 'open',
  }, STRIPE_API_VERSION);
}

const deliver = (payload, options = {}) => post(BASE_URL, payload, sign(payload, { secret: WEBHOOK_SECRET, ...options }));

async function expectOutcome(payload, outcome, what) {
  const result = await deliver(payload);
  expectStatus(result, 200, what);
  assert(result.body.outcome === outcome, `${what}: expected ${outcome}, got ${JSON.stringify(result.body)}`);
}

const { check, runAll } = checkRunner({
  checkTimeoutMs: 10_000,
  globalTimeoutMs: 50_000,
  describe: (error) => error?.message ?? String(error),
});

const created = subscriptionEvent('evt_node_sub_created', 'customer.subscription.created', T - 60, 'active');

check('customer.subscription.created (active) is applied', () => expectOutcome(created, 'APPLIED', 'created'));

check('the same event delivered 3 times at once has no second effect', async () => {
  const results = await Promise.all(Array.from({ length: 3 }, () => deliver(created)));
  for (const result of results) {
    expectStatus(result, 200, 'redelivery');
    assert(result.body.duplicate === true, `applied again: ${JSON.stringify(result.body)}`);
  }
  return '3 duplicates';
});

check('a billing event signed with the wrong secret gets 400', async () => {
  const payload = invoiceEvent('evt_node_forged', 'invoice.paid', T);
  expectStatus(await deliver(payload, { secret: 'whsec_not_ours' }), 400, 'wrong secret');
});

check('invoice.payment_failed is applied', () =>
  expectOutcome(invoiceEvent('evt_node_inv_failed', 'invoice.payment_failed', T - 30), 'APPLIED', 'payment failed'));

check('an older invoice.paid arriving late is stale', () =>
  expectOutcome(invoiceEvent('evt_node_inv_old_paid', 'invoice.paid', T - 40), 'STALE', 'older paid'));

check('customer.subscription.deleted is applied', () =>
  expectOutcome(subscriptionEvent('evt_node_sub_deleted', 'customer.subscription.deleted', T - 5, 'canceled'), 'APPLIED', 'deleted'));

await runAll();
