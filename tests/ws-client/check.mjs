// Drives the server with the real `graphql-ws` client (and raw `ws` sockets for the
// protocol errors no well-behaved client commits), one line per check.
//
// Run by tests/api/graphql_ws_client.rs, which starts the server and passes everything the
// checks need as JSON in SCENARIO:
//   { wsUrl, httpUrl, conversationId, initTimeoutMs,
//     alice: { token, username }, bob: { token, username }, eve: { token } }
// alice and bob share the conversation; eve is not in it.
//
// Ends with "N passed, 0 failed" and exit status 0, or "X passed, Y failed" and status 1.

import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

import { assert, checkRunner, deferred, queue } from '../support/checks.mjs';

const GLOBAL_TIMEOUT_MS = 20_000;
const CHECK_TIMEOUT_MS = 5_000;
/** What the server may take beyond its own init timeout to close the socket. */
const CLOSE_SLACK_MS = 2_000;
const SUBPROTOCOL = 'graphql-transport-ws';

const MESSAGE_ADDED = `subscription($c: ID!, $after: String) {
  messageAdded(conversationId: $c, after: $after) { id content eventCursor sender { username } }
}`;
const SEND_MESSAGE = `mutation($i: SendMessageInput!) { sendMessage(input: $i) { id content } }`;

const scenario = readScenario();

// ------------------------------------------------------------------------------- helpers

function readScenario() {
  const raw = process.env.SCENARIO;
  if (!raw) {
    console.error('SCENARIO is not set: run this through `cargo test --test api graphql_ws_client`');
    process.exit(2);
  }
  try {
    return JSON.parse(raw);
  } catch (e) {
    console.error(`SCENARIO is not JSON: ${e.message}`);
    process.exit(2);
  }
}

function describe(value) {
  if (value instanceof Error) return value.message;
  if (value && typeof value === 'object' && 'code' in value && 'reason' in value) {
    return `close ${value.code} ${JSON.stringify(String(value.reason))}`;
  }
  // A socket error event (connection refused and the like).
  if (value && typeof value === 'object' && typeof value.message === 'string') {
    return `${value.type ?? 'error'}: ${value.message}`;
  }
  return JSON.stringify(value);
}

const bearer = (user) => ({ authorization: `Bearer ${user.token}` });

/** A graphql-ws client that never retries, so every close reaches the test as it happened. */
function client(options) {
  return createClient({
    url: scenario.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    ...options,
  });
}

/** Sends a message over HTTP, as the web app does. */
async function sendMessage(user, content) {
  const response = await fetch(`${scenario.httpUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
    body: JSON.stringify({
      query: SEND_MESSAGE,
      variables: { i: { conversationId: scenario.conversationId, content } },
    }),
  });
  const body = await response.json();
  assert(response.ok && !body.errors, `sendMessage answered ${response.status}: ${JSON.stringify(body)}`);
  return body.data.sendMessage;
}

/** A raw socket speaking graphql-transport-ws by hand; `closed` resolves to {code, reason}. */
async function rawSocket() {
  const ws = new WebSocket(scenario.wsUrl, SUBPROTOCOL);
  const messages = queue();
  const closed = new Promise((resolve) => {
    ws.on('close', (code, reason) => {
      const event = { code, reason: reason.toString() };
      messages.fail(new Error(`socket closed: ${describe(event)}`));
      resolve(event);
    });
  });
  ws.on('message', (data) => {
    try {
      messages.push(JSON.parse(data.toString()));
    } catch {
      messages.fail(new Error(`the server sent non-JSON: ${data}`));
    }
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.on('error', () => {}); // surfaced through `closed`
  assert(ws.protocol === SUBPROTOCOL, `server chose subprotocol ${JSON.stringify(ws.protocol)}`);
  return {
    ws,
    closed,
    send: (message) => ws.send(typeof message === 'string' ? message : JSON.stringify(message)),
    next: () => messages.next(),
    /** connection_init with `user`'s token, then waits for the ack. */
    async init(user) {
      this.send({ type: 'connection_init', payload: bearer(user) });
      const ack = await this.next();
      assert(ack.type === 'connection_ack', `expected connection_ack, got ${JSON.stringify(ack)}`);
    },
  };
}

/** Runs `act` on a fresh raw socket and expects the server to close it with `code`. */
async function expectRawClose(code, act) {
  const socket = await rawSocket();
  try {
    await act(socket);
    const event = await socket.closed;
    assert(event.code === code, `expected close ${code}, got ${describe(event)}`);
    return `close ${event.code} ${JSON.stringify(event.reason)}`;
  } finally {
    socket.ws.terminate();
  }
}

// -------------------------------------------------------------------------------- checks

const { check, runAll } = checkRunner({
  checkTimeoutMs: CHECK_TIMEOUT_MS,
  globalTimeoutMs: GLOBAL_TIMEOUT_MS,
  describe,
});

// Bob's subscription, shared by the first two checks.
const bob = { client: null, deliveries: queue(), connected: deferred(), first: null, stop: () => {} };

check('bob subscribes with graphql-ws and receives the message alice sends over HTTP', async () => {
  bob.client = client({
    connectionParams: bearer(scenario.bob),
    on: { connected: () => bob.connected.resolve() },
  });
  // Event cursors are sequence numbers, so `after: "0"` replays from the start of the
  // conversation: the message arrives whether it was sent before or after the server started
  // the subscription, with no sleep to guess when that was.
  bob.stop = bob.client.subscribe(
    { query: MESSAGE_ADDED, variables: { c: scenario.conversationId, after: '0' } },
    {
      next: (result) => bob.deliveries.push(result),
      error: (error) => {
        const failure = new Error(`subscription failed: ${describe(error)}`);
        bob.connected.reject(failure);
        bob.deliveries.fail(failure);
      },
      complete: () => bob.deliveries.fail(new Error('the server completed the subscription')),
    },
  );
  await bob.connected.promise;
  const sent = await sendMessage(scenario.alice, 'hello bob, from graphql-ws');
  const result = await bob.deliveries.next();
  assert(!result.errors, `errors in delivery: ${JSON.stringify(result.errors)}`);
  const message = result.data?.messageAdded;
  assert(message, `no messageAdded in ${JSON.stringify(result)}`);
  assert(message.id === sent.id, `delivered message ${message.id}, sent ${sent.id}`);
  assert(message.content === 'hello bob, from graphql-ws', `content ${JSON.stringify(message.content)}`);
  assert(message.sender?.username === scenario.alice.username, `sender ${JSON.stringify(message.sender)}`);
  assert(
    typeof message.eventCursor === 'string' && message.eventCursor !== '',
    `eventCursor ${JSON.stringify(message.eventCursor)}`,
  );
  bob.first = message;
  return `eventCursor ${message.eventCursor}`;
});

check('the same subscription then delivers the next message live, with a new eventCursor', async () => {
  assert(bob.first, 'skipped: the previous check did not get a subscription going');
  // The first delivery proves the subscription's live receiver is registered.
  await sendMessage(scenario.alice, 'and another one, live');
  const result = await bob.deliveries.next();
  const message = result.data?.messageAdded;
  assert(message, `no messageAdded in ${JSON.stringify(result)}`);
  assert(message.content === 'and another one, live', `content ${JSON.stringify(message.content)} (a duplicate?)`);
  assert(message.eventCursor && message.eventCursor !== bob.first.eventCursor, `eventCursor ${message.eventCursor}`);
  bob.stop();
  await bob.client.dispose();
  return `eventCursor ${message.eventCursor}`;
});

check('a new graphql-ws subscription resuming after the first eventCursor gets the second message', async () => {
  assert(bob.first, 'skipped: the first check did not receive a message');
  const resumed = client({ connectionParams: bearer(scenario.bob) });
  const delivery = deferred();
  const stop = resumed.subscribe(
    { query: MESSAGE_ADDED, variables: { c: scenario.conversationId, after: bob.first.eventCursor } },
    {
      next: (result) => delivery.resolve(result),
      error: (error) => delivery.reject(new Error(`subscription failed: ${describe(error)}`)),
      complete: () => delivery.reject(new Error('the server completed the subscription')),
    },
  );
  try {
    const result = await delivery.promise;
    const message = result.data?.messageAdded;
    assert(message?.content === 'and another one, live', `first delivery ${JSON.stringify(result)}`);
    return `eventCursor ${message.eventCursor}`;
  } finally {
    stop();
    await resumed.dispose();
  }
});

check('eve, not in the conversation, gets a FORBIDDEN error through the sink', async () => {
  const eve = client({ connectionParams: bearer(scenario.eve) });
  const outcome = deferred();
  eve.subscribe(
    { query: MESSAGE_ADDED, variables: { c: scenario.conversationId } },
    {
      next: (result) => outcome.reject(new Error(`eve received ${JSON.stringify(result)}`)),
      error: (error) => outcome.resolve(error),
      complete: () => outcome.reject(new Error('completed without an error')),
    },
  );
  try {
    const errors = await outcome.promise;
    assert(Array.isArray(errors), `expected GraphQL errors, got ${describe(errors)}`);
    const code = errors[0]?.extensions?.code;
    assert(code === 'FORBIDDEN', `extensions.code ${JSON.stringify(code)} in ${JSON.stringify(errors)}`);
    return `${errors[0].message}`;
  } finally {
    await eve.dispose();
  }
});

check('graphql-ws with a garbage token sees close 4403', async () => {
  const closed = deferred();
  const reported = deferred();
  const forged = client({
    lazy: false,
    connectionParams: { authorization: 'Bearer not.a.real.token' },
    onNonLazyError: (error) => reported.resolve(error),
    on: {
      connected: () => closed.reject(new Error('the server acknowledged a garbage token')),
      closed: (event) => closed.resolve(event),
    },
  });
  try {
    const event = await closed.promise;
    assert(event.code === 4403, `on.closed saw ${describe(event)}`);
    const error = await reported.promise;
    assert(error?.code === 4403, `onNonLazyError got ${describe(error)}`);
    return `close ${event.code} ${JSON.stringify(event.reason)}`;
  } finally {
    await forged.dispose();
  }
});

check('graphql-ws reusing a subscription id sees close 4409 in on.closed and both sinks', async () => {
  const closed = deferred();
  const dup = client({
    connectionParams: bearer(scenario.bob),
    generateID: () => 'same-id',
    on: { closed: (event) => closed.resolve(event) },
  });
  const sinkErrors = [deferred(), deferred()];
  for (const outcome of sinkErrors) {
    dup.subscribe(
      { query: MESSAGE_ADDED, variables: { c: scenario.conversationId } },
      {
        next: () => {},
        error: (error) => outcome.resolve(error),
        complete: () => outcome.reject(new Error('completed without an error')),
      },
    );
  }
  try {
    const event = await closed.promise;
    assert(event.code === 4409, `on.closed saw ${describe(event)}`);
    for (const outcome of sinkErrors) {
      const error = await outcome.promise;
      assert(error?.code === 4409, `sink.error got ${describe(error)}`);
    }
    return `close ${event.code} ${JSON.stringify(event.reason)}`;
  } finally {
    await dup.dispose();
  }
});

check(
  `a raw socket that sends nothing sees close 4408 (init timeout ${scenario.initTimeoutMs} ms)`,
  () => expectRawClose(4408, async () => {}),
  scenario.initTimeoutMs + CLOSE_SLACK_MS,
);

check('a raw socket that subscribes before connection_init sees close 4401', () =>
  expectRawClose(4401, async (socket) => {
    socket.send({
      id: '1',
      type: 'subscribe',
      payload: { query: MESSAGE_ADDED, variables: { c: scenario.conversationId } },
    });
  }),
);

check('a raw socket that sends connection_init twice sees close 4429', () =>
  expectRawClose(4429, async (socket) => {
    await socket.init(scenario.bob);
    socket.send({ type: 'connection_init', payload: bearer(scenario.bob) });
  }),
);

check('a raw socket that subscribes twice with one id sees close 4409', () =>
  expectRawClose(4409, async (socket) => {
    await socket.init(scenario.bob);
    const subscribe = {
      id: 'dup',
      type: 'subscribe',
      payload: { query: MESSAGE_ADDED, variables: { c: scenario.conversationId } },
    };
    socket.send(subscribe);
    socket.send(subscribe);
  }),
);

check('a raw socket that sends non-JSON sees close 4400', () =>
  expectRawClose(4400, async (socket) => {
    socket.send('this is not json');
  }),
);

// ---------------------------------------------------------------------------------- run

await runAll();
