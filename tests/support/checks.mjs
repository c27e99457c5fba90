// What the Node check scripts under tests/ share: assertions, promise plumbing for
// callback-style clients, and the runner that prints one line per check and the summary
// "N passed, 0 failed" that tests/api/node.rs `run_checks` reads. Plain ES module, no
// packages, imported by relative path.

export function assert(condition, message) {
  if (!condition) throw new Error(message);
}

export function deferred() {
  let resolve, reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A deferred nobody awaited yet must not crash the process when it rejects.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** Values pushed by callbacks, taken in order; a failure ends every later `next()`. */
export function queue() {
  const items = [];
  const waiters = [];
  let failure = null;
  return {
    push(item) {
      const waiter = waiters.shift();
      if (waiter) waiter.resolve(item);
      else items.push(item);
    },
    fail(error) {
      failure ??= error;
      for (const waiter of waiters.splice(0)) waiter.reject(error);
    },
    next() {
      if (items.length) return Promise.resolve(items.shift());
      if (failure) return Promise.reject(failure);
      const waiter = deferred();
      waiters.push(waiter);
      return waiter.promise;
    },
  };
}

function withTimeout(promise, ms) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no result within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Checks run one after another, each within its own time limit and all within
 * `globalTimeoutMs`. `check(name, run, timeoutMs?)` registers one (`run` returns an optional
 * detail for the success line); `runAll(cleanup?)` runs them, prints the summary and exits
 * with status 1 on any failure. `describe` turns a failure into its line.
 */
export function checkRunner({ checkTimeoutMs, globalTimeoutMs, describe }) {
  const checks = [];
  let passed = 0;
  let failed = 0;
  const finish = () => {
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(failed > 0 ? 1 : 0);
  };
  return {
    check(name, run, timeoutMs = checkTimeoutMs) {
      checks.push({ name, run, timeoutMs });
    },
    async runAll(cleanup = () => {}) {
      setTimeout(() => {
        const pending = checks.length - passed - failed;
        console.log(`FAIL global timeout: ${pending} check(s) unfinished after ${globalTimeoutMs} ms`);
        failed += pending;
        finish();
      }, globalTimeoutMs).unref();
      for (const { name, run, timeoutMs } of checks) {
        try {
          const detail = await withTimeout(Promise.resolve().then(run), timeoutMs);
          passed += 1;
          console.log(`ok   ${name}${detail ? ` (${detail})` : ''}`);
        } catch (error) {
          failed += 1;
          console.log(`FAIL ${name}: ${describe(error)}`);
        }
      }
      cleanup();
      finish();
    },
  };
}
