// Prints the Stripe-Signature header the official `stripe` package makes for PAYLOAD signed
// with WEBHOOK_SECRET (stripe.webhooks.generateTestHeaderString); tests/api/escrow.rs delivers
// it with the payload.

import Stripe from 'stripe';

const { PAYLOAD, WEBHOOK_SECRET } = process.env;
if (!PAYLOAD || !WEBHOOK_SECRET) {
  console.error('PAYLOAD and WEBHOOK_SECRET are required');
  process.exit(2);
}
// Only used for its webhook helpers: no request reaches Stripe.
const stripe = new Stripe('sk_test_unused');
process.stdout.write(stripe.webhooks.generateTestHeaderString({ payload: PAYLOAD, secret: WEBHOOK_SECRET }));
