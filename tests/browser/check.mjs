// The playground in a real browser with no network: Debian's Chromium, headless, every
// request to anything but the server under test refused. Types a query into GraphiQL's
// editor, runs it, reads the answer, then does the same as a signed-in user through the
// headers editor, and saves a screenshot.
//
// Environment: GM_URL (the server), GM_TOKEN (an access token), GM_USERNAME (its user),
// GM_SCREENSHOT (where to write the PNG), CHROMIUM (default /usr/bin/chromium).
import { chromium } from "playwright-core";

const url = process.env.GM_URL;
const origin = new URL(url).origin;
const fail = (message) => {
  console.error(`FAIL ${message}`);
  process.exit(1);
};
setTimeout(() => fail("timed out after 60 s"), 60_000).unref();

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
const foreign = [];
await page.route("**/*", (route) => {
  const target = route.request().url();
  if (target.startsWith(origin)) return route.continue();
  foreign.push(target);
  return route.abort();
});
const problems = [];
page.on("console", (m) => {
  if (m.type() === "error") problems.push(m.text());
});
page.on("pageerror", (e) => problems.push(String(e)));

const response = await page.goto(`${url}/graphql`);
const policy = response.headers()["content-security-policy"] || "";
if (!policy.includes("script-src 'self'")) fail(`no strict CSP: ${policy}`);
await page.waitForSelector(".graphiql-container", { timeout: 20_000 }).catch(() => fail(`GraphiQL did not render; errors: ${problems.join(" | ")}`));

async function run(query) {
  const editor = page.locator(".graphiql-query-editor .CodeMirror").first();
  await editor.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  await page.keyboard.type(query, { delay: 5 });
  await page.keyboard.press("Escape");
  // GraphiQL re-reads the document's operations after a short debounce.
  await page.waitForTimeout(500);
  await page.locator(".graphiql-execute-button").click();
}

async function resultContains(text) {
  const result = page.locator(".result-window");
  await result.getByText(text).first().waitFor({ timeout: 15_000 }).catch(async () =>
    fail(`the result pane does not show ${text}: ${await result.innerText()}`)
  );
}

await run("{ taskTemplates { key name } }");
await resultContains("SHOPIFY_APP");

// Signed in through the headers editor.
await page.getByText("Headers", { exact: true }).click();
const headers = page.locator(".graphiql-editor-tool .CodeMirror").last();
await headers.click();
await page.keyboard.press("Control+A");
await page.keyboard.press("Delete");
await page.keyboard.type(`{"Authorization": "Bearer ${process.env.GM_TOKEN}"}`, { delay: 2 });
await run("{ me { username } }");
await resultContains(process.env.GM_USERNAME);

// A subscription over the WebSocket, authenticated by the same header: a task posted nearby
// (over HTTP, from here) appears in the result pane.
await run("subscription { nearbyTaskPosted(lat: 48.2082, lng: 16.3738, radiusMeters: 3000) { task { title } } }");
await page.waitForTimeout(1_000);
const posted = await fetch(`${url}/graphql`, {
  method: "POST",
  headers: { "content-type": "application/json", authorization: `Bearer ${process.env.GM_TOKEN}` },
  body: JSON.stringify({
    query: "mutation($i: PostTaskInput!) { postTask(input: $i) { id } }",
    variables: {
      i: {
        task: {
          title: "Hang three shelves in a hallway", description: "Three wall shelves, drill and plugs provided; concrete wall.",
          category: "repairs", budgetType: "FIXED", budgetMinCents: 3000, budgetMaxCents: 4500, duration: "LESS_THAN_A_WEEK",
          locationType: "ONSITE", address: "Stephansplatz 1", location: { lat: 48.2085, lng: 16.3721 },
          mode: "IMMEDIATE", acceptanceDeadline: new Date(Date.now() + 3_600_000).toISOString(),
        },
      },
    },
  }),
}).then((r) => r.json());
if (posted.errors) fail(`posting a task: ${JSON.stringify(posted.errors)}`);
await resultContains("Hang three shelves in a hallway");

await page.screenshot({ path: process.env.GM_SCREENSHOT, fullPage: false });
if (foreign.length) fail(`the page asked for ${foreign.join(", ")}`);
const relevant = problems.filter((p) => !p.includes("favicon"));
if (relevant.length) fail(`browser errors: ${relevant.join(" | ")}`);
await browser.close();
console.log("ok");
