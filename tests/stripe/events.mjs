// What the check scripts share: Stripe event envelopes, signing them with the official
// `stripe` package (stripe.webhooks.generateTestHeaderString) and posting them to the
// server's POST /webhooks/stripe.

import Stripe from 'stripe';
import { assert } from '../support/checks.mjs';

// Only used for its webhook helpers: no request reaches Stripe.
const stripe = new Stripe('sk_test_unused');

export const now = () => Math.floor(Date.now() / 1000);

/** A Stripe event (the documented envelope) around `object`. */
export function event(id, type, created, object, apiVersion) {
  return JSON.stringify({
    id,
    object: 'event',
    api_version: apiVersion,
    created,
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  });
}

/** A `Stripe-Signature` header for `payload`. */
export function sign(payload, { secret, timestamp } = {}) {
  return stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });
}

/** POSTs a delivery to `baseUrl`; answers its status and body. */
export async function deliver(baseUrl, payload, signature) {
  const headers = { 'content-type': 'application/json' };
  if (signature !== undefined) headers['stripe-signature'] = signature;
  const response = await fetch(`${baseUrl}/webhooks/stripe`, { method: 'POST', headers, body: payload });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, body };
}

export function expectStatus(result, status, what) {
  assert(result.status === status, `${what}: expected ${status}, got ${result.status} ${JSON.stringify(result.body)}`);
}
