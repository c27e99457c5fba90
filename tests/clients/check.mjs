// Drives the server with the GraphQL clients apps actually ship, one line per check:
// Apollo Client 4 (queries, mutations, its normalised cache and error classes), uploads
// through apollo-upload-client (the GraphQL multipart request spec), urql (queries over GET,
// mutations, subscriptions over graphql-ws), graphql-request, and the legacy
// subscriptions-transport-ws client (the `graphql-ws` subprotocol).
//
// Run by tests/api/clients.rs, which starts the server and passes everything the checks need
// as JSON in SCENARIO:
//   { httpUrl, wsUrl, conversationId, keepaliveSecs,
//     alice: { id, token, username }, bob: { id, token, username }, eve: { token } }
// alice and bob share the conversation, which has no messages yet; eve is not in it. The
// server sends keep-alives every `keepaliveSecs` seconds.
//
// Ends with "N passed, 0 failed" and exit status 0, or "X passed, Y failed" and status 1.

import { Buffer, File } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { deflateSync } from 'node:zlib';

import { ApolloClient, ApolloLink, CombinedGraphQLErrors, InMemoryCache, ServerError, gql } from '@apollo/client';
import { SetContextLink } from '@apollo/client/link/context';
import { Client as UrqlClient, cacheExchange, fetchExchange, subscriptionExchange } from '@urql/core';
import UploadHttpLink from 'apollo-upload-client/UploadHttpLink.mjs';
import { ClientError, GraphQLClient } from 'graphql-request';
import { createClient as createGraphqlWsClient } from 'graphql-ws';
import { SubscriptionClient } from 'subscriptions-transport-ws';
import WebSocket from 'ws';

import { assert, checkRunner, deferred, queue, sleep } from '../support/checks.mjs';

const GLOBAL_TIMEOUT_MS = 40_000;
const CHECK_TIMEOUT_MS = 8_000;

const scenario = readScenario();
const graphqlUrl = `${scenario.httpUrl}/graphql`;

// ------------------------------------------------------------------------------ documents

const ME = gql`
  query Me {
    me {
      id
      username
      headline
      avatarUrl
    }
  }
`;
const UPDATE_HEADLINE = gql`
  mutation UpdateHeadline($headline: String!) {
    updateProfile(input: { headline: $headline }) {
      id
      headline
    }
  }
`;
const RENAME = gql`
  mutation Rename($username: String!) {
    updateProfile(input: { username: $username }) {
      id
      username
    }
  }
`;
const UPLOAD_AVATAR = gql`
  mutation UploadAvatar($file: Upload!) {
    uploadAvatar(file: $file) {
      id
      avatarUrl
    }
  }
`;
// Plain strings for the clients that take them (urql, graphql-request, the ws clients).
const PROFILE = `query Profile($username: String!) {
  userByUsername(username: $username) { id username headline avatarUrl }
}`;
const SEND_MESSAGE = `mutation SendMessage($i: SendMessageInput!) {
  sendMessage(input: $i) { id content sender { username } }
}`;
const MESSAGE_ADDED = `subscription MessageAdded($c: ID!, $after: String) {
  messageAdded(conversationId: $c, after: $after) { id content eventCursor sender { username } }
}`;

// -------------------------------------------------------------------------------- helpers

function readScenario() {
  const raw = process.env.SCENARIO;
  if (!raw) {
    console.error('SCENARIO is not set: run this through `cargo test --test api clients`');
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
  if (value instanceof Error) {
    const extra = value.bodyText ? ` (status ${value.statusCode}, body ${value.bodyText})` : '';
    // fetch's network errors ("fetch failed") say what happened in `cause`.
    const cause = value.cause ? ` [cause: ${describe(value.cause)}]` : '';
    return `${value.constructor.name}: ${value.message}${extra}${cause}`;
  }
  return JSON.stringify(value);
}

const bearer = (user) => `Bearer ${user.token}`;

/** The error Apollo Client rejected `promise` with; fails when it resolved. */
async function apolloError(promise) {
  try {
    const result = await promise;
    throw new Error(`expected an error, got ${JSON.stringify(result.data)}`);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('expected an error')) throw error;
    return error;
  }
}

/** The first `extensions.code` of a GraphQL error that Apollo Client surfaced. */
function apolloErrorCode(error) {
  assert(CombinedGraphQLErrors.is(error), `expected CombinedGraphQLErrors, got ${describe(error)}`);
  return error.errors[0]?.extensions?.code;
}

// ------------------------------------------------------------------------- the clients

/**
 * Apollo Client as a web app sets it up: a context link adds the signed-in user's token to
 * every request, and apollo-upload-client's terminating link sends operations with files as
 * multipart requests (and all others as ordinary JSON POSTs). `preflight: false` leaves out
 * the `Apollo-Require-Preflight` header that Apollo's CSRF rule asks uploads to carry.
 */
function apolloClient(user, { preflight = true } = {}) {
  const auth = new SetContextLink((previous) => ({
    headers: { ...previous.headers, authorization: bearer(user) },
  }));
  const http = new UploadHttpLink({
    uri: graphqlUrl,
    headers: preflight ? { 'Apollo-Require-Preflight': 'true' } : {},
  });
  return new ApolloClient({ link: ApolloLink.from([auth, http]), cache: new InMemoryCache() });
}

/** Every fetch urql makes, for the checks that care how it sent a request. */
const urqlRequests = [];

function urqlClient(user, { ws } = {}) {
  const exchanges = [cacheExchange, fetchExchange];
  if (ws) {
    exchanges.push(
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || '' };
          return {
            subscribe(sink) {
              return { unsubscribe: ws.subscribe(input, sink) };
            },
          };
        },
      }),
    );
  }
  return new UrqlClient({
    url: graphqlUrl,
    exchanges,
    fetchOptions: () => (user ? { headers: { authorization: bearer(user) } } : {}),
    fetch: (url, init) => {
      urqlRequests.push({ url: String(url), method: init?.method ?? 'GET' });
      return fetch(url, init);
    },
  });
}

const apollo = apolloClient(scenario.alice);
const state = { headline: null, avatarUrl: null, sentByUrql: null };

/** A PNG of `width`×`height` RGBA pixels, built here so the bytes are known exactly. */
function png(width, height) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (bytes) => {
    let c = 0xffffffff;
    for (const byte of bytes) c = crcTable[(c ^ byte) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA, deflate, no filter method, no interlace
  const rows = [];
  for (let y = 0; y < height; y++) {
    rows.push(0); // filter type: none
    for (let x = 0; x < width; x++) rows.push(x * 40, y * 40, 200, 255);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.from(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// --------------------------------------------------------------------------------- checks

const { check, runAll } = checkRunner({
  checkTimeoutMs: CHECK_TIMEOUT_MS,
  globalTimeoutMs: GLOBAL_TIMEOUT_MS,
  describe,
});

check('Apollo Client: a query returns the signed-in user', async () => {
  const { data } = await apollo.query({ query: ME, fetchPolicy: 'network-only' });
  assert(data?.me, `no me in ${JSON.stringify(data)}`);
  assert(data.me.id === scenario.alice.id, `me.id ${data.me.id}, expected ${scenario.alice.id}`);
  assert(data.me.username === scenario.alice.username, `me.username ${data.me.username}`);
  assert(data.me.__typename === 'User', `__typename ${data.me.__typename}`);
  return `me = ${data.me.username}`;
});

check('Apollo Client: a mutation updates the normalised cache and a fresh query sees it', async () => {
  const headline = `Rust and GraphQL, ${randomUUID().slice(0, 8)}`;
  const { data } = await apollo.mutate({ mutation: UPDATE_HEADLINE, variables: { headline } });
  assert(data?.updateProfile?.headline === headline, `mutation answered ${JSON.stringify(data)}`);
  // The mutation's User (same id and __typename) was merged into the cached `me`.
  const cached = apollo.readQuery({ query: ME });
  assert(cached?.me?.headline === headline, `cached me.headline ${JSON.stringify(cached?.me?.headline)}`);
  const { data: fresh } = await apollo.query({ query: ME, fetchPolicy: 'network-only' });
  assert(fresh.me.headline === headline, `the server answers headline ${JSON.stringify(fresh.me.headline)}`);
  state.headline = headline;
  return `headline ${JSON.stringify(headline)}`;
});

check('Apollo Client: a validation error reaches CombinedGraphQLErrors with extensions.code', async () => {
  const error = await apolloError(apollo.mutate({ mutation: RENAME, variables: { username: 'no spaces!' } }));
  const code = apolloErrorCode(error);
  assert(code === 'VALIDATION_ERROR', `extensions.code ${JSON.stringify(code)} in ${describe(error)}`);
  const fields = error.errors[0].extensions.fields;
  assert(fields && typeof fields.username === 'string', `extensions.fields ${JSON.stringify(fields)}`);
  const { data } = await apollo.query({ query: ME, fetchPolicy: 'network-only' });
  assert(data.me.username === scenario.alice.username, `username changed to ${data.me.username}`);
  return `${code}: username ${fields.username}`;
});

check('apollo-upload-client: a PNG uploads as a multipart request and is served back', async () => {
  const bytes = png(4, 3);
  const file = new File([bytes], 'avatar.png', { type: 'image/png' });
  const { data } = await apollo.mutate({ mutation: UPLOAD_AVATAR, variables: { file } });
  const url = data?.uploadAvatar?.avatarUrl;
  assert(typeof url === 'string', `uploadAvatar answered ${JSON.stringify(data)}`);
  assert(
    url.startsWith(`${scenario.httpUrl}/uploads/avatars/`) && url.endsWith('.png'),
    `avatarUrl ${url} is not a .png under ${scenario.httpUrl}/uploads/avatars/`,
  );
  const served = await fetch(url);
  assert(served.ok, `GET ${url} answered ${served.status}`);
  const type = served.headers.get('content-type');
  assert(type === 'image/png', `GET ${url} has content-type ${type}`);
  const body = Buffer.from(await served.arrayBuffer());
  assert(body.equals(bytes), `served ${body.length} bytes, uploaded ${bytes.length} (or different ones)`);
  const { data: fresh } = await apollo.query({ query: ME, fetchPolicy: 'network-only' });
  assert(fresh.me.avatarUrl === url, `me.avatarUrl ${fresh.me.avatarUrl}`);
  state.avatarUrl = url;
  return `${bytes.length} bytes at ${new URL(url).pathname}`;
});

check('apollo-upload-client: a file that is not an image is refused with VALIDATION_ERROR', async () => {
  // Named and typed as a PNG: the server judges by content.
  const file = new File(['<svg xmlns="http://www.w3.org/2000/svg"/>'], 'avatar.png', { type: 'image/png' });
  const error = await apolloError(apollo.mutate({ mutation: UPLOAD_AVATAR, variables: { file } }));
  const code = apolloErrorCode(error);
  assert(code === 'VALIDATION_ERROR', `extensions.code ${JSON.stringify(code)} in ${describe(error)}`);
  const fields = error.errors[0].extensions.fields;
  assert(typeof fields?.file === 'string', `extensions.fields ${JSON.stringify(fields)}`);
  return `file ${fields.file}`;
});

check('apollo-upload-client without Apollo-Require-Preflight is refused (CSRF) and stores nothing', async () => {
  const careless = apolloClient(scenario.alice, { preflight: false });
  const file = new File([png(2, 2)], 'avatar.png', { type: 'image/png' });
  const error = await apolloError(careless.mutate({ mutation: UPLOAD_AVATAR, variables: { file } }));
  careless.stop();
  // A 4xx answer reaches Apollo as GraphQL errors when it is application/graphql-response+json
  // and as a ServerError (status and body) when it is application/json.
  let outcome;
  if (CombinedGraphQLErrors.is(error)) {
    outcome = `CombinedGraphQLErrors ${apolloErrorCode(error)}`;
  } else if (ServerError.is(error)) {
    assert(error.statusCode >= 400 && error.statusCode < 500, `status ${error.statusCode}`);
    outcome = `ServerError ${error.statusCode} ${JSON.parse(error.bodyText)?.errors?.[0]?.extensions?.code}`;
  } else {
    // The server reads the body before refusing, so the answer always arrives (a server that
    // answers and closes while the client is still sending makes fetch fail with EPIPE).
    throw new Error(`expected a GraphQL error or a ServerError, got ${describe(error)}`);
  }
  assert(outcome.endsWith(' FORBIDDEN'), `refused with ${outcome}`);
  const { data } = await apollo.query({ query: ME, fetchPolicy: 'network-only' });
  assert(data.me.avatarUrl === state.avatarUrl, `avatarUrl changed to ${data.me.avatarUrl}`);
  return outcome;
});

check('graphql-request: a query with a bearer token, and a ClientError with extensions.code', async () => {
  const signedIn = new GraphQLClient(graphqlUrl, { headers: { authorization: bearer(scenario.bob) } });
  const data = await signedIn.request('query { me { id username } }');
  assert(data.me?.id === scenario.bob.id, `me ${JSON.stringify(data.me)}`);
  const anonymous = new GraphQLClient(graphqlUrl);
  try {
    await anonymous.request(`mutation { updateProfile(input: { headline: "anonymous" }) { id } }`);
  } catch (error) {
    assert(error instanceof ClientError, `expected ClientError, got ${describe(error)}`);
    const code = error.response.errors?.[0]?.extensions?.code;
    assert(code === 'UNAUTHORIZED', `extensions.code ${JSON.stringify(code)} (status ${error.response.status})`);
    return `me = ${data.me.username}; anonymous mutation: ${code}`;
  }
  throw new Error('the anonymous mutation succeeded');
});

check('urql: a query (sent as GET) sees what Apollo changed', async () => {
  assert(state.headline && state.avatarUrl, 'skipped: the Apollo mutation or upload check failed');
  const urql = urqlClient(null);
  const before = urqlRequests.length;
  const result = await urql.query(PROFILE, { username: scenario.alice.username }).toPromise();
  assert(!result.error, `error ${result.error?.message}`);
  const user = result.data?.userByUsername;
  assert(user?.id === scenario.alice.id, `userByUsername ${JSON.stringify(result.data)}`);
  assert(user.headline === state.headline, `headline ${JSON.stringify(user.headline)}`);
  assert(user.avatarUrl === state.avatarUrl, `avatarUrl ${user.avatarUrl}`);
  const sent = urqlRequests.slice(before);
  assert(sent.length === 1 && sent[0].method === 'GET', `urql sent ${JSON.stringify(sent)}`);
  return `GET, headline and avatarUrl match`;
});

// alice's legacy subscription, shared by the next three checks.
const legacy = { client: null, deliveries: queue(), subscription: null, closed: null };

check('subscriptions-transport-ws: alice connects with connectionParams and subscribes', async () => {
  const connected = deferred();
  legacy.client = new SubscriptionClient(
    scenario.wsUrl,
    {
      reconnect: false,
      // A legacy app passes its token this way; the server reads `authorization`.
      connectionParams: { authorization: bearer(scenario.alice) },
      connectionCallback: (error) => (error ? connected.reject(new Error(describe(error))) : connected.resolve()),
    },
    WebSocket,
  );
  // The client itself only says "disconnected"; the socket's close event has the code.
  legacy.client.client.addEventListener('close', (event) => {
    legacy.closed = `close ${event.code} ${JSON.stringify(event.reason)}`;
    const failure = new Error(`the legacy connection closed: ${legacy.closed}`);
    connected.reject(failure);
    legacy.deliveries.fail(failure);
  });
  // The conversation has no messages yet, so replaying from the start (`after: "0"`) makes
  // the first delivery the next message, however quickly it is sent.
  legacy.subscription = legacy.client
    .request({ query: MESSAGE_ADDED, variables: { c: scenario.conversationId, after: '0' } })
    .subscribe({
      next: (result) => legacy.deliveries.push(result),
      error: (error) => legacy.deliveries.fail(new Error(`subscription failed: ${describe(error)}`)),
      complete: () => legacy.deliveries.fail(new Error('the server completed the subscription')),
    });
  await connected.promise;
  return `connected over ${legacy.client.client?.protocol}`;
});

check(
  'subscriptions-transport-ws: the idle subscription outlives three keep-alive intervals',
  async () => {
    assert(legacy.client, 'skipped: no legacy client');
    // A legacy client sends no protocol message by itself (it only listens to the server's
    // `ka`); only its WebSocket library's answers to Ping frames tell the server it is there.
    await sleep(scenario.keepaliveSecs * 3_500);
    assert(legacy.client.status === WebSocket.OPEN, `the connection closed: ${legacy.closed}`);
    return `${scenario.keepaliveSecs * 3.5} s idle`;
  },
  CHECK_TIMEOUT_MS + scenario.keepaliveSecs * 3_500,
);

check("urql: bob's mutation reaches alice's legacy subscription", async () => {
  assert(legacy.client, 'skipped: no legacy client');
  const urql = urqlClient(scenario.bob);
  const content = 'hello alice, from urql';
  const result = await urql
    .mutation(SEND_MESSAGE, { i: { conversationId: scenario.conversationId, content } })
    .toPromise();
  assert(!result.error, `error ${result.error?.message}`);
  const sent = result.data?.sendMessage;
  assert(sent?.content === content, `sendMessage answered ${JSON.stringify(result.data)}`);
  state.sentByUrql = sent;
  const delivery = await legacy.deliveries.next();
  assert(!delivery.errors, `errors in delivery: ${JSON.stringify(delivery.errors)}`);
  const message = delivery.data?.messageAdded;
  assert(message?.id === sent.id, `delivered ${JSON.stringify(delivery)}, sent ${sent.id}`);
  assert(message.content === content, `content ${JSON.stringify(message.content)}`);
  assert(message.sender?.username === scenario.bob.username, `sender ${JSON.stringify(message.sender)}`);
  legacy.subscription.unsubscribe();
  legacy.client.close();
  return `message ${sent.id}, eventCursor ${message.eventCursor}`;
});

check('subscriptions-transport-ws: eve, not in the conversation, gets FORBIDDEN through observer.error', async () => {
  const eve = new SubscriptionClient(
    scenario.wsUrl,
    { reconnect: false, connectionParams: { authorization: bearer(scenario.eve) } },
    WebSocket,
  );
  const outcome = deferred();
  eve.onDisconnected(() => outcome.reject(new Error('the server closed the connection')));
  eve
    .request({ query: MESSAGE_ADDED, variables: { c: scenario.conversationId } })
    .subscribe({
      next: (result) => outcome.reject(new Error(`eve received ${JSON.stringify(result)}`)),
      error: (error) => outcome.resolve(error),
      complete: () => outcome.reject(new Error('completed without an error')),
    });
  try {
    const error = await outcome.promise;
    const code = error?.extensions?.code;
    assert(code === 'FORBIDDEN', `extensions.code ${JSON.stringify(code)} in ${describe(error)}`);
    return error.message;
  } finally {
    eve.close();
  }
});

check("urql over graphql-ws: bob's subscription gets urql's message, then Apollo's live", async () => {
  assert(state.sentByUrql, "skipped: urql's message was not sent");
  const ws = createGraphqlWsClient({
    url: scenario.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: { authorization: bearer(scenario.bob) },
  });
  const urql = urqlClient(scenario.bob, { ws });
  const deliveries = queue();
  const { unsubscribe } = urql
    .subscription(MESSAGE_ADDED, { c: scenario.conversationId, after: '0' })
    .subscribe((result) => (result.error ? deliveries.fail(result.error) : deliveries.push(result.data)));
  try {
    const replayed = (await deliveries.next())?.messageAdded;
    assert(replayed?.id === state.sentByUrql.id, `first delivery ${JSON.stringify(replayed)}`);
    const content = 'and hello bob, from Apollo';
    const { data } = await apollo.mutate({
      mutation: gql(SEND_MESSAGE),
      variables: { i: { conversationId: scenario.conversationId, content } },
    });
    const live = (await deliveries.next())?.messageAdded;
    assert(live?.id === data.sendMessage.id, `second delivery ${JSON.stringify(live)}, sent ${data.sendMessage.id}`);
    assert(live.content === content && live.sender?.username === scenario.alice.username, JSON.stringify(live));
    return `replayed ${replayed.id}, live ${live.id}`;
  } finally {
    unsubscribe();
    await ws.dispose();
  }
});

// ------------------------------------------------------------------------------------ run

await runAll(() => apollo.stop());
