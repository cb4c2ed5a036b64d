// The browser suite's harness: the real tessera binary on a fresh SQLite database, real
// Chromium through playwright-core, and the helpers every test shares (users made through
// the API, counting the requests a browser context makes, screenshots, waiting for the
// pages' background work to finish without sleeping).
//
// Time: the server runs on the real clock; only the browser's clock is fake
// (`context.clock.install` before the first navigation, then `fastForward`/`runFor`). A
// token therefore stays valid on the server while the browser believes minutes have
// passed; the client decides when to refresh from `expires_at - server_time`, corrected
// by the browser's own elapsed time.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

/** This directory (tests/browser). */
export const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The repository's root. */
export const ROOT = path.resolve(HERE, '..', '..');
/** Where screenshots go: the repository's `target/browser-artifacts/`. */
export const ARTIFACTS = path.join(ROOT, 'target', 'browser-artifacts');
/** axe-core's browser build, injected into pages for the accessibility check. */
export const AXE_PATH = path.join(HERE, 'node_modules', 'axe-core', 'axe.min.js');
/** Debian's Chromium. */
export const CHROMIUM = process.env.TESSERA_CHROMIUM || '/usr/bin/chromium';

/** The signing secret of every server the suite starts (32 characters, fixed). */
export const JWT_SECRET = 'browser-suite-secret-0123456789ab';
/** The bootstrapped administrator's name and password. */
export const ADMIN = { username: 'admin', password: 'browser-admin-password-1' };
/** The password of the users the tests create. */
export const USER_PASSWORD = 'user-password-12345';

/** One second, one minute, in milliseconds. */
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;

/** Playwright's timeout for one step (a click, a navigation, a selector): a failing step
 * says which one, instead of the whole test hanging. */
export const STEP_TIMEOUT_MS = 20_000;

/** The tessera binary: `TESSERA_BIN`, as the Rust test sets it. */
function tesseraBinary() {
  const bin = process.env.TESSERA_BIN;
  if (!bin) {
    throw new Error(
      'TESSERA_BIN is not set: point it at a built tessera binary ' +
        '(cargo build -p tessera, then TESSERA_BIN=target/debug/tessera), ' +
        'or run the suite through `cargo test -p tessera --test api browser`',
    );
  }
  if (!existsSync(bin)) {
    throw new Error(`TESSERA_BIN=${bin} does not exist; build it with cargo build -p tessera`);
  }
  return path.resolve(bin);
}

/**
 * Runs `tessera serve` with `env` in `dir` and resolves, once it has printed `tessera
 * listening on URL`, with `{ child, base, exited }` (`exited` resolves with the exit code
 * and signal). Everything it writes to stderr goes to `onStderr`.
 */
async function spawnTessera(bin, dir, env, onStderr) {
  const child = spawn(bin, ['serve'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
    onStderr(chunk);
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const seen = [];
  const lines = createInterface({ input: child.stdout });
  let base;
  try {
    base = await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`tessera did not announce its address within 30 s; stdout: ${JSON.stringify(seen)}; stderr: ${stderr}`)),
        30_000,
      );
      lines.on('line', (line) => {
        const prefix = 'tessera listening on ';
        if (line.startsWith(prefix)) {
          clearTimeout(timer);
          resolve(line.slice(prefix.length).trim());
        } else {
          seen.push(line);
        }
      });
      exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`tessera exited (code ${code}, signal ${signal}) before listening; stdout: ${JSON.stringify(seen)}; stderr: ${stderr}`));
      });
    });
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw error;
  }
  // Keep draining stdout so the server never blocks on a full pipe.
  lines.on('line', () => {});
  if (!base.startsWith('http://')) base = `http://${base}`;
  return { child, base, exited };
}

/**
 * Starts `tessera serve` on 127.0.0.1:0 with a fresh SQLite database in a new temporary
 * directory, the fixed secret, and the bootstrapped `admin`; `settings` adds or overrides
 * settings (for example `{ TESSERA_JWT_EXPIRATION_MINUTES: '15' }`). Resolves once the
 * server has printed `tessera listening on URL`. Call `stop()` at the end (it kills the
 * server and removes the directory); `t.after(() => server.stop())` does that.
 *
 * `kill()` and `restart()` take the server away (SIGKILL, as a crash or a power cut would)
 * and bring it back on the same address and the same database file, so the sessions of
 * before the crash are still there.
 */
export async function startServer(settings = {}) {
  const bin = tesseraBinary();
  const dir = mkdtempSync(path.join(tmpdir(), 'tessera-browser-'));
  const env = {};
  // A clean slate: no setting leaks in from the developer's shell.
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('TESSERA_') && !key.startsWith('AYANOVA_')) env[key] = value;
  }
  Object.assign(env, {
    TESSERA_LISTEN: '127.0.0.1:0',
    TESSERA_DATABASE_URL: `sqlite://${path.join(dir, 't.db')}`,
    TESSERA_JWT_SECRET: JWT_SECRET,
    TESSERA_ADMIN_PASSWORD: ADMIN.password,
    TESSERA_JWT_EXPIRATION_MINUTES: '15',
    TESSERA_LOG: 'warn',
    ...settings,
  });
  let stderr = '';
  const collect = (chunk) => {
    stderr += chunk;
  };
  let running;
  try {
    running = await spawnTessera(bin, dir, env, collect);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const { base } = running;
  /** Kills the running process, if any, and waits for it to exit. */
  const killRunning = async () => {
    if (!running) return;
    const { child, exited } = running;
    running = null;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  let stopped = false;
  return {
    base,
    dir,
    /** Everything the server has written to stderr so far (every run of it). */
    stderr: () => stderr,
    /** Whether a server process is running (not killed, not stopped). */
    get running() {
      return running !== null;
    },
    /** Kills the server with SIGKILL and waits for it to exit; its database stays. */
    async kill() {
      await killRunning();
    },
    /**
     * Starts the server again, after `kill()`, on the same address (`base`) and the same
     * database file; resolves once it listens.
     */
    async restart() {
      if (stopped) throw new Error('restart() after stop()');
      if (running) throw new Error('restart() while the server is running: kill() it first');
      const again = await spawnTessera(bin, dir, { ...env, TESSERA_LISTEN: new URL(base).host }, collect);
      running = again;
      if (again.base !== base) {
        await killRunning();
        throw new Error(`tessera came back on ${again.base}, not on ${base}`);
      }
    },
    /** Kills the server, waits for it to exit, and removes its directory. */
    async stop() {
      if (stopped) return;
      stopped = true;
      await killRunning();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A TCP proxy on 127.0.0.1:0 in front of `target` (a server's base URL) that records the
 * head of every HTTP/1.1 request passing through it, as the server receives it: `{ method,
 * path, headers, status, body }` (header names in lower case; `status` and `body` the
 * server's answer, once it came, matched to the requests of a connection in order) in
 * `requests`, in order. The
 * bytes are passed on untouched, `Host` included, so to the server and to the browser the
 * proxy's address is the server's own origin. `close()` stops it and cuts every connection.
 */
export async function startProxy(target) {
  const { hostname, port } = new URL(target);
  const requests = [];
  const sockets = new Set();
  const server = createServer((client) => {
    sockets.add(client);
    const upstream = connect({ host: hostname, port: Number(port) });
    sockets.add(upstream);
    // This connection's requests not answered yet, oldest first.
    const waiting = [];
    const parseRequests = headParser((requestLine, headers) => {
      const [method, requestPath] = requestLine.split(' ');
      const request = { method, path: requestPath, headers, status: undefined, body: undefined };
      requests.push(request);
      waiting.push(request);
    });
    let answered = null;
    const parseResponses = headParser(
      (statusLine) => {
        const status = Number.parseInt(statusLine.split(' ')[1], 10);
        // 1xx answers are followed by the real one.
        answered = status >= 200 && waiting.length > 0 ? waiting.shift() : null;
        if (answered) answered.status = status;
        // Answers that never have a body, whatever their Content-Length says.
        return !(status < 200 || status === 204 || status === 304 || answered?.method === 'HEAD');
      },
      (body) => {
        if (answered) answered.body = body.toString('utf8');
      },
    );
    client.on('data', (chunk) => {
      parseRequests(chunk);
      upstream.write(chunk);
    });
    client.on('end', () => upstream.end());
    upstream.on('data', (chunk) => {
      parseResponses(chunk);
      client.write(chunk);
    });
    upstream.on('end', () => client.end());
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    requests,
    /** The recorded requests to `pathname`. */
    to(pathname) {
      return requests.filter((request) => request.path.split('?')[0] === pathname);
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * A parser of the HTTP/1.1 messages sent one way on one connection, fed its bytes in
 * order: calls `onHead(firstLine, headers)` for each message head (header names in lower
 * case; it returns false for a message that has no body whatever its headers say, an
 * answer to HEAD or a 304), then `onBody(bytes)` with its body (`Content-Length`; empty
 * without one). A
 * chunked body ends the parsing of that direction: neither browsers' `fetch` bodies nor
 * tessera's JSON answers are chunked.
 */
function headParser(onHead, onBody = () => {}) {
  let buffer = Buffer.alloc(0);
  let bodyLeft = 0;
  let body = [];
  let lost = false;
  return (chunk) => {
    if (lost) return;
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      if (bodyLeft > 0) {
        const take = Math.min(bodyLeft, buffer.length);
        body.push(buffer.subarray(0, take));
        buffer = buffer.subarray(take);
        bodyLeft -= take;
        if (bodyLeft > 0) return;
        onBody(Buffer.concat(body));
        body = [];
      }
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [firstLine, ...lines] = buffer.subarray(0, end).toString('latin1').split('\r\n');
      buffer = buffer.subarray(end + 4);
      const headers = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        if (colon < 0) continue;
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
      }
      if (onHead(firstLine, headers) === false) {
        onBody(Buffer.alloc(0));
        continue;
      }
      if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
        lost = true;
        return;
      }
      bodyLeft = Number.parseInt(headers['content-length'] ?? '0', 10) || 0;
      if (bodyLeft === 0) onBody(Buffer.alloc(0));
    }
  };
}

/** A JSON call to the API from Node (no browser): `{ status, headers, body }`. */
export async function api(base, method, pathname, { token, body, headers = {} } = {}) {
  const init = { method, headers: { ...headers } };
  if (token) init.headers.authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(new URL(pathname, base), init);
  const text = await response.text();
  let parsed = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON: keep the text.
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

/** Logs in through the API in body mode (no cookie) and returns the login answer's body. */
export async function apiLogin(base, username, password) {
  const answer = await api(base, 'POST', '/api/auth/login', { body: { username, password } });
  if (answer.status !== 200) {
    throw new Error(`API login of ${username} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  }
  return answer.body;
}

/** The bootstrapped administrator's access token. */
export async function adminToken(base) {
  return (await apiLogin(base, ADMIN.username, ADMIN.password)).access_token;
}

/** Creates a user through the admin API and returns it (`{ id, username, roles, ... }`). */
export async function createUser(base, username, { password = USER_PASSWORD, roles = [] } = {}) {
  const token = await adminToken(base);
  const answer = await api(base, 'POST', '/api/users', { token, body: { username, password, roles } });
  if (answer.status !== 201) {
    throw new Error(`creating ${username} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  }
  return answer.body.user ?? answer.body;
}

/** Launches headless Debian Chromium. */
export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run installs it)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/**
 * A new browser context (one "device": its own cookies, storage and tabs) on `base`, with
 * - `clock`: when given (`{ time }` in ms since the epoch), the fake clock is installed
 *   before any page exists, so every tab of the context shares it;
 * - `bypassCSP`: only for the accessibility check, which injects axe-core;
 * - counting of every request to `/api/…` (`device.count(path)`, `device.total()`), done
 *   in a route handler so a request is counted before the page can see its answer;
 * - a record of every console error, uncaught exception and CSP violation of every page
 *   (`device.problems`), see `assertNoProblems`.
 */
export async function newDevice(browser, base, { clock, bypassCSP = false, name = 'device', userAgent } = {}) {
  const context = await browser.newContext({ baseURL: base, bypassCSP, ...(userAgent ? { userAgent } : {}) });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  if (clock) await context.clock.install({ time: clock.time });

  const counts = new Map();
  const answers = [];
  // Requests to /api/… sent and not yet answered (headers received) nor failed. Not
  // `requestfinished`: Chromium reports that only once the page has read the whole body,
  // which a page ignoring an error's body never does.
  const pending = new Set();
  let idleWaiters = [];
  const wakeIdle = () => {
    if (pending.size > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  };
  const done = (request) => {
    if (pending.delete(request)) wakeIdle();
  };
  await context.route(
    (url) => url.pathname.startsWith('/api/'),
    async (route) => {
      const request = route.request();
      const pathname = new URL(request.url()).pathname;
      counts.set(pathname, (counts.get(pathname) ?? 0) + 1);
      pending.add(request);
      try {
        await route.continue();
      } catch {
        // The page went away before the request could go on.
        done(request);
      }
    },
  );
  context.on('requestfailed', done);
  context.on('response', (response) => {
    const request = response.request();
    const url = new URL(response.url());
    if (url.pathname.startsWith('/api/')) {
      answers.push({ method: request.method(), path: url.pathname, status: response.status() });
    }
    done(request);
  });

  const problems = [];
  const watch = (page) => {
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      const text = message.text();
      const where = message.location()?.url ?? '';
      problems.push({ page: page.url(), kind: 'console', text, where });
    });
    page.on('pageerror', (error) => {
      problems.push({ page: page.url(), kind: 'pageerror', text: String(error?.stack ?? error) });
    });
  };
  context.on('page', watch);
  // A CSP violation is also reported to the console, but the event says precisely what was
  // blocked; report it as a console error of its own.
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || 'inline'} (${event.sourceFile}:${event.lineNumber})`);
    });
  });

  const device = {
    name,
    context,
    base,
    problems,
    answers,
    /** How many requests this context has made to `pathname` (e.g. `/api/auth/refresh`). */
    count(pathname) {
      return counts.get(pathname) ?? 0;
    },
    /** How many requests this context has made to `/api/…` in all. */
    total() {
      let sum = 0;
      for (const n of counts.values()) sum += n;
      return sum;
    },
    /** Every `/api/…` path counted so far, with its count (for failure messages). */
    counts() {
      return Object.fromEntries(counts);
    },
    /** Resolves once no `/api/…` request of this context is in flight. */
    idle() {
      if (pending.size === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    /** A new tab. */
    async newPage() {
      return context.newPage();
    },
    pages() {
      return context.pages();
    },
    async close() {
      await context.close();
    },
  };
  // The page helpers find their device through the page's context.
  context.__tesseraDevice = device;
  return device;
}

/**
 * Waits, without sleeping, until the background work of every tab of `device` is over: in
 * each tab, a real macrotask (a MessageChannel message; the fake clock does not touch it)
 * and then the `tessera-refresh` Web Lock, which every refresh holds while it runs, so a
 * refresh that was started is finished once the lock is ours; then until no `/api/…`
 * request is in flight. Repeats until a whole round changes no count.
 */
export async function settle(device) {
  for (let round = 0; round < 50; round += 1) {
    const before = device.total();
    for (const page of device.pages()) {
      try {
        await page.evaluate(async () => {
          const macrotask = () =>
            new Promise((resolve) => {
              const channel = new MessageChannel();
              channel.port1.onmessage = () => {
                channel.port1.close();
                resolve();
              };
              channel.port2.postMessage(null);
            });
          for (let i = 0; i < 3; i += 1) {
            await macrotask();
            if (navigator.locks) await navigator.locks.request('tessera-refresh', () => {});
          }
        });
      } catch (error) {
        // A tab navigating away (to /login, say) destroys the context we were evaluating
        // in; the next round looks at the new document.
        if (!/Execution context was destroyed|navigation|Target (page, context or browser )?(has been )?closed/i.test(String(error))) {
          throw error;
        }
        await page.waitForLoadState('load').catch(() => {});
      }
    }
    await device.idle();
    if (device.total() === before && round > 0) return;
  }
  throw new Error(`${device.name} never settled: requests ${JSON.stringify(device.counts())}`);
}

/** Moves the browser clock of `device` forward by `ms` (firing each due timer once, as a
 * sleeping laptop waking up would) and waits for what that set off. */
export async function advance(device, ms) {
  await device.context.clock.fastForward(ms);
  await settle(device);
}

/** Moves the browser clock of `device` forward by `ms`, firing every timer due on the way
 * (the 1-second countdown too), and waits for what that set off. */
export async function runFor(device, ms) {
  await device.context.clock.runFor(ms);
  await settle(device);
}

/**
 * Resolves with the first answer to `/api/auth/refresh` that `page` receives while showing
 * `pathname`: the end of that page's restore() (with no other tab of the device to ask, the
 * contract's restore() always tries the cookie).
 */
export function restoreAnswered(page, pathname) {
  return page.waitForResponse((response) => {
    if (new URL(response.url()).pathname !== '/api/auth/refresh') return false;
    try {
      return new URL(response.request().frame().url()).pathname === pathname;
    } catch {
      return false;
    }
  });
}

/**
 * Opens `url` (a /login URL) in `page`, with no other tab of its device logged in, and waits
 * until the page is ready: its restore() has been answered and what followed is done, so
 * the form's submit handler is in place (a click before that would submit the bare form).
 */
export async function openLoginPage(page, url = '/login') {
  const ready = restoreAnswered(page, '/login');
  await page.goto(url);
  await page.locator('#login-form').waitFor();
  await ready;
  const device = page.context().__tesseraDevice;
  if (device) await settle(device);
}

/**
 * Opens /login in `page` (with no other tab of its device logged in), waits until it is
 * ready, logs in, and waits to land on `landing` (`next`, or /account) and for that page's
 * own restore() to be done.
 */
export async function loginThroughPage(page, username, password, { next, landing = next ?? '/account' } = {}) {
  await openLoginPage(page, next ? `/login?next=${encodeURIComponent(next)}` : '/login');
  await page.fill('#username', username);
  await page.fill('#password', password);
  const landed = restoreAnswered(page, landing);
  await page.locator('#login-form [type="submit"]').click();
  await page.waitForURL((url) => url.pathname === landing);
  const answer = await landed;
  if (answer.status() !== 200) {
    throw new Error(`${landing} restored the new session with a ${answer.status()} from /api/auth/refresh`);
  }
  await waitForLoggedInPage(page);
}

/** Waits until a logged-in page has shown who is logged in (the navigation is there and,
 * on /account, `#who` has the username), and its background work is done. */
export async function waitForLoggedInPage(page) {
  await page.locator('#nav').waitFor();
  if (new URL(page.url()).pathname === '/account') {
    await page.waitForFunction(() => (document.querySelector('#who')?.textContent ?? '').trim() !== '');
  }
  const device = page.context().__tesseraDevice;
  if (device) await settle(device);
}

/** The `/login?next=…` URL a logged-in page sends to when there is no session. */
export function isLoginUrl(url, next) {
  const parsed = new URL(url);
  if (parsed.pathname !== '/login') return false;
  return next === undefined || parsed.searchParams.get('next') === next;
}

/**
 * Makes `page` hidden or visible as far as its scripts can tell, and tells them
 * (`visibilitychange`). Headless Chromium keeps every page visible whatever is done to its
 * tabs or windows (`bringToFront`, a minimized window, CDP's focus emulation and web
 * lifecycle states all leave `document.visibilityState` at 'visible'), so the document's
 * `visibilityState` and `hidden` are overridden in the page, and the event is dispatched as
 * the browser would dispatch it. Lasts until the page navigates.
 */
export async function setVisibility(page, state) {
  if (state !== 'hidden' && state !== 'visible') throw new Error(`not a visibility state: ${state}`);
  await page.evaluate((visibility) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => visibility });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => visibility === 'hidden' });
    document.dispatchEvent(new Event('visibilitychange'));
  }, state);
}

/** Parses `m:ss` (as `#token-remaining` shows it) into seconds. */
export function parseMinSec(text) {
  const match = /^(\d+):([0-5]\d)$/.exec(text.trim());
  if (!match) throw new Error(`not m:ss: ${JSON.stringify(text)}`);
  return Number(match[1]) * 60 + Number(match[2]);
}

/** `#token-remaining` of `page`, in seconds. */
export async function tokenRemaining(page) {
  return parseMinSec(await page.locator('#token-remaining').innerText());
}

/** Saves a full-page screenshot of `page` as `target/browser-artifacts/<name>.png`. */
export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * The console errors, uncaught exceptions and CSP violations recorded on `device`, except
 * Chromium's own "Failed to load resource" line for an answer the pages expect: a 400 or
 * 401 of `/api/auth/refresh` (restore() without a session).
 */
export function unexpectedProblems(device) {
  return device.problems.filter((problem) => {
    if (problem.kind !== 'console') return true;
    const expectedRefreshRefusal =
      /^Failed to load resource: the server responded with a status of 40[01]\b/.test(problem.text) &&
      problem.where.includes('/api/auth/refresh');
    return !expectedRefreshRefusal;
  });
}

/**
 * Runs `body(ctx)` with a server (settings as `startServer`) and a browser, stopping both
 * and closing every context afterwards; on failure the server's stderr is attached.
 */
export async function withServer(settings, body) {
  const server = await startServer(settings);
  const browser = await launchBrowser();
  const devices = [];
  const ctx = {
    server,
    base: server.base,
    browser,
    async device(options = {}) {
      const device = await newDevice(browser, server.base, options);
      devices.push(device);
      return device;
    },
  };
  try {
    await body(ctx);
  } catch (error) {
    const log = server.stderr().trim();
    if (log) error.message += `\n--- tessera stderr ---\n${log}`;
    throw error;
  } finally {
    for (const device of devices) await device.close().catch(() => {});
    await browser.close().catch(() => {});
    await server.stop();
  }
}
