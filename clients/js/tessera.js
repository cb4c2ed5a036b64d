// tessera.js: the browser client of a tessera server. One ES module, no dependencies.
//
// It logs in and out, wraps `fetch` to attach the access token, and keeps the session
// alive the way the LightNap seed describes: every 60 s it checks the access token and
// refreshes it when fewer than 5 minutes remain. The remaining time is computed on the
// server's clock (`server_time` of every token answer), so a browser whose clock is off
// still refreshes on time.
//
// Tabs of one site share one session (the refresh token lives in the HttpOnly cookie):
// every refresh runs under a Web Lock, the token is re-read once the lock is held, and the
// new access token is handed to the other tabs over a BroadcastChannel, so five tabs
// reaching the refresh point together make one refresh call. A definitive 401 (session
// ended, user deactivated) clears every tab once; transient failures are capped.
//
// The access token lives only in this module's memory; the refresh token only in the
// cookie, which no script can read.

/** The seed's check interval. */
export const CHECK_INTERVAL_MS = 60_000;
/** The seed's refresh point: fewer than this many milliseconds left. */
export const REFRESH_BEFORE_MS = 5 * 60_000;
/** Consecutive failed refreshes after which the automatic refresh pauses. */
export const MAX_FAILURES = 3;
/** The Web Lock every tab takes around a refresh. */
export const LOCK_NAME = 'tessera-refresh';
/** The BroadcastChannel the tabs of one site talk on. */
export const CHANNEL_NAME = 'tessera';
/**
 * Every tab holding a session holds a shared Web Lock named after it, so a tab about to
 * refresh can see (`navigator.locks.query()`) that another tab holds a newer session and
 * ask for it instead: messages may arrive after the refresh lock, locks cannot.
 */
export const SESSION_LOCK_PREFIX = 'tessera-session:';
/** How long a tab waits for another tab to answer its ask before refreshing itself. */
const ASK_TIMEOUT_MS = 3_000;

/** An answer of the server that was not what was asked for. */
export class TesseraError extends Error {
  /**
   * @param {number} status HTTP status (0 when the server could not be reached)
   * @param {string} code the server's error code (`error` member), or a client code
   * @param {string} message what went wrong, for people
   */
  constructor(status, code, message) {
    super(message);
    this.name = 'TesseraError';
    this.status = status;
    this.code = code;
  }
}

// ---- The timing rule: pure functions, unit tested. ----

/**
 * How far the server's clock is ahead of ours, in milliseconds: the server stamped
 * `serverTime` somewhere between `sentAt` and `receivedAt` (our clock), taken as the middle.
 * @param {string|number} serverTime RFC 3339 text or epoch milliseconds
 * @param {number} sentAt our clock when the request left
 * @param {number} receivedAt our clock when the answer arrived
 */
export function clockOffsetMs(serverTime, sentAt, receivedAt) {
  const server = typeof serverTime === 'number' ? serverTime : Date.parse(serverTime);
  if (!Number.isFinite(server)) return 0;
  return server - (sentAt + Math.max(0, receivedAt - sentAt) / 2);
}

/**
 * Milliseconds the access token has left on the server's clock.
 * @param {number} expiresAt the token's expiry, server epoch milliseconds
 * @param {number} offsetMs {@link clockOffsetMs}
 * @param {number} localNow our clock
 */
export function remainingMs(expiresAt, offsetMs, localNow) {
  return expiresAt - (localNow + offsetMs);
}

/**
 * Whether a token with `remaining` milliseconds left is due for a refresh: fewer than
 * `refreshBeforeMs` left.
 */
export function refreshDue(remaining, refreshBeforeMs = REFRESH_BEFORE_MS) {
  return remaining < refreshBeforeMs;
}

/**
 * Counts consecutive failed refreshes; once `max` are counted the automatic refresh
 * pauses until one succeeds (in any tab) or a person acts.
 */
export class FailureCap {
  /** @param {number} max */
  constructor(max = MAX_FAILURES) {
    this.max = Math.max(1, max);
    this.count = 0;
  }
  /** Counts a failure; true when the cap is reached. */
  fail() {
    this.count += 1;
    return this.paused;
  }
  /** A success: counting starts over. */
  reset() {
    this.count = 0;
  }
  /** Whether the automatic refresh is paused. */
  get paused() {
    return this.count >= this.max;
  }
}

// ---- The client. ----

/**
 * @typedef {object} SessionState
 * @property {{id: string, username: string, roles: string[]}} user
 * @property {string} sessionId
 * @property {number} expiresAt the access token's expiry, server epoch ms
 * @property {number} refreshExpiresAt when the session ends unless refreshed, server epoch ms
 */

export class TesseraClient {
  #baseUrl;
  #checkIntervalMs;
  #refreshBeforeMs;
  #lockTimeoutMs;
  #requestTimeoutMs;
  #fetch;
  #locks;
  #now;
  #setInterval;
  #clearInterval;
  #setTimeout;
  #clearTimeout;
  #document;
  #failures;
  /** @type {null | (SessionState & {accessToken: string, offsetMs: number})} */
  #session = null;
  #channel = null;
  #sessionWaiters = new Set();
  #heldLock = null;
  #timer = null;
  #inflight = null;
  #changeListeners = new Set();
  #logoutListeners = new Set();
  #errorListeners = new Set();
  #onVisibility = () => {
    if (this.#document?.visibilityState === 'visible') this.check(true);
  };

  /**
   * @param {object} [options]
   * @param {string} [options.baseUrl] the server's origin, '' for the page's own
   * @param {number} [options.checkIntervalMs] how often the token is checked (60 s)
   * @param {number} [options.refreshBeforeMs] refresh when fewer than this remain (5 min)
   * @param {number} [options.maxFailures] consecutive failed refreshes before pausing (3)
   * @param {number} [options.lockTimeoutMs] how long to wait for another tab's refresh
   *   before taking the lock from it (a tab that hung); 20 s
   * @param {number} [options.requestTimeoutMs] how long one refresh may take; 15 s
   */
  constructor(options = {}) {
    const g = globalThis;
    this.#baseUrl = (options.baseUrl ?? '').replace(/\/+$/, '');
    this.#checkIntervalMs = positive(options.checkIntervalMs, CHECK_INTERVAL_MS, 'checkIntervalMs');
    this.#refreshBeforeMs = positive(options.refreshBeforeMs, REFRESH_BEFORE_MS, 'refreshBeforeMs');
    this.#lockTimeoutMs = positive(options.lockTimeoutMs, 20_000, 'lockTimeoutMs');
    this.#requestTimeoutMs = positive(options.requestTimeoutMs, 15_000, 'requestTimeoutMs');
    this.#failures = new FailureCap(positive(options.maxFailures, MAX_FAILURES, 'maxFailures'));
    // Seams for tests: whatever the browser has, unless given.
    this.#fetch = options.fetch ?? ((...args) => g.fetch(...args));
    this.#locks = 'locks' in options ? options.locks : g.navigator?.locks ?? null;
    this.#now = options.now ?? (() => Date.now());
    this.#setInterval = options.setInterval ?? ((fn, ms) => g.setInterval(fn, ms));
    this.#clearInterval = options.clearInterval ?? ((id) => g.clearInterval(id));
    this.#setTimeout = options.setTimeout ?? ((fn, ms) => g.setTimeout(fn, ms));
    this.#clearTimeout = options.clearTimeout ?? ((id) => g.clearTimeout(id));
    this.#document = 'document' in options ? options.document : g.document ?? null;
    const Channel = 'BroadcastChannel' in options ? options.BroadcastChannel : g.BroadcastChannel;
    if (Channel) {
      const name = options.channelName ?? CHANNEL_NAME;
      this.#channel = new Channel(name);
      this.#channel.onmessage = (event) => this.#onMessage(event.data);
    }
  }

  /** The logged-in user and the session's times, or null. @returns {SessionState | null} */
  get state() {
    const session = this.#session;
    if (!session) return null;
    return {
      user: session.user,
      sessionId: session.sessionId,
      expiresAt: session.expiresAt,
      refreshExpiresAt: session.refreshExpiresAt,
    };
  }

  /** The server's clock, as estimated from its last `server_time`. */
  serverNow() {
    return this.#now() + (this.#session?.offsetMs ?? 0);
  }

  /** Milliseconds the access token has left by the server's clock; 0 when logged out. */
  expiresInMs() {
    const session = this.#session;
    if (!session) return 0;
    return Math.max(0, remainingMs(session.expiresAt, session.offsetMs, this.#now()));
  }

  /** Whether the automatic refresh paused after too many failures in a row. */
  get paused() {
    return this.#failures.paused;
  }

  /** Calls `fn(state | null)` whenever the session changes, in this tab or another. */
  onChange(fn) {
    this.#changeListeners.add(fn);
    return () => this.#changeListeners.delete(fn);
  }

  /** Calls `fn(reason)` once the session has ended for good, in this tab or another. */
  onLoggedOut(fn) {
    this.#logoutListeners.add(fn);
    return () => this.#logoutListeners.delete(fn);
  }

  /** Calls `fn(error)` when a refresh fails for a reason that may pass (network, 5xx, 429). */
  onError(fn) {
    this.#errorListeners.add(fn);
    return () => this.#errorListeners.delete(fn);
  }

  /** Starts the periodic check (and the check when a hidden tab becomes visible). */
  start() {
    if (this.#timer !== null) return;
    this.#timer = this.#setInterval(() => this.check(false), this.#checkIntervalMs);
    this.#document?.addEventListener?.('visibilitychange', this.#onVisibility);
  }

  /** Stops the periodic check. */
  stop() {
    if (this.#timer !== null) this.#clearInterval(this.#timer);
    this.#timer = null;
    this.#document?.removeEventListener?.('visibilitychange', this.#onVisibility);
  }

  /** Stops and lets go of the channel. */
  close() {
    this.stop();
    this.#channel?.close();
    this.#releaseSessionLock();
  }

  /**
   * The seed's check: refreshes when the access token has fewer than `refreshBeforeMs`
   * left. `byPerson` (a tab shown again, a request) tries even when paused.
   * @returns {Promise<boolean>} whether a live session is held afterwards
   */
  async check(byPerson = false) {
    if (!this.#session) return false;
    if (!refreshDue(this.expiresInMs(), this.#refreshBeforeMs)) return true;
    if (this.#failures.paused && !byPerson) return true;
    return this.#refresh(this.#session.accessToken);
  }

  /**
   * Finds the session this browser holds: refreshes through the cookie (unless another tab
   * hands over its token meanwhile).
   * @returns {Promise<boolean>} whether a session is held
   */
  async restore() {
    if (this.#session) return true;
    return this.#refresh(null);
  }

  /**
   * Logs in; the refresh token goes to the HttpOnly cookie. Every tab gets the session.
   * @returns {Promise<SessionState>}
   */
  async login(username, password) {
    const sentAt = this.#now();
    const response = await this.#request('/api/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password, refresh_cookie: true }),
    });
    if (!response.ok) throw await errorOf(response);
    this.#failures.reset();
    await this.#accept(await response.json(), sentAt, this.#now());
    return this.state;
  }

  /** Ends the session on the server and in every tab. */
  async logout() {
    const token = this.#session?.accessToken;
    if (token) {
      try {
        let response = await this.#authorized('/api/auth/logout', { method: 'POST' }, token);
        if (response.status === 401 && (await this.#refresh(token))) {
          response = await this.#authorized(
            '/api/auth/logout',
            { method: 'POST' },
            this.#session.accessToken,
          );
        }
      } catch {
        // Unreachable: the state is cleared anyway; the cookie dies with its session.
      }
    }
    this.#end('logout', true);
  }

  /**
   * `fetch` with `Authorization: Bearer`. A `401` refreshes once (under the lock; nothing
   * when another tab already did) and retries once. When the refresh is refused for good
   * the session ends in every tab and this throws a `TesseraError` with status 401.
   * @param {string} path a path on the server (or a full URL of the same origin)
   * @param {RequestInit} [init]
   * @returns {Promise<Response>}
   */
  async fetch(path, init = {}) {
    if (!this.#session) {
      throw new TesseraError(401, 'not_logged_in', 'not logged in');
    }
    if (this.expiresInMs() <= 0) await this.#refresh(this.#session.accessToken);
    let token = this.#requireToken();
    let response = await this.#authorized(path, init, token);
    if (response.status !== 401) return response;
    if (!(await this.#refresh(token))) {
      if (!this.#session) throw new TesseraError(401, 'session_ended', 'the session has ended');
      return response;
    }
    token = this.#requireToken();
    return this.#authorized(path, init, token);
  }

  /**
   * A valid access token (refreshed first when due), for what `fetch` cannot wrap
   * (a WebSocket handshake, say). Keep it in memory only.
   */
  async accessToken() {
    await this.check(true);
    return this.#requireToken();
  }

  #requireToken() {
    const token = this.#session?.accessToken;
    if (!token) throw new TesseraError(401, 'session_ended', 'the session has ended');
    return token;
  }

  #authorized(path, init, token) {
    const headers = new Headers(init.headers ?? {});
    headers.set('authorization', `Bearer ${token}`);
    return this.#request(path, { ...init, headers });
  }

  #request(path, init) {
    const url = /^https?:/i.test(path) ? path : `${this.#baseUrl}${path}`;
    return this.#fetch(url, { credentials: 'same-origin', cache: 'no-store', ...init });
  }

  /**
   * One refresh for the whole browser: one at a time in this tab, under the Web Lock
   * across tabs, and only when, with the lock held, this tab still holds `from` (the token
   * it decided to refresh; null: none) and no other tab holds a newer session.
   * @returns {Promise<boolean>} whether a live session is held afterwards
   */
  #refresh(from) {
    if (this.#inflight) return this.#inflight;
    this.#inflight = this.#withLock(() => this.#refreshHoldingLock(from)).finally(() => {
      this.#inflight = null;
    });
    return this.#inflight;
  }

  async #refreshHoldingLock(from) {
    // Re-read: another tab may have refreshed while this one waited for the lock.
    const current = this.#session?.accessToken ?? null;
    if (current !== from) return current !== null;
    // Or refreshed before this tab opened, or its message is still on the way.
    if ((await this.#newerSessionElsewhere()) && (await this.#askForSession(from))) return true;
    const sentAt = this.#now();
    let response;
    try {
      response = await this.#withTimeout((signal) =>
        this.#request('/api/auth/refresh', { method: 'POST', signal }),
      );
    } catch (cause) {
      const reason = cause?.message ?? String(cause);
      return this.#failed(new TesseraError(0, 'unreachable', `the server could not be reached: ${reason}`));
    }
    if (response.ok) {
      this.#failures.reset();
      await this.#accept(await response.json(), sentAt, this.#now());
      return true;
    }
    const error = await errorOf(response);
    // 401: the session ended, the user was deactivated, the token was reused; 400: this
    // browser holds no refresh cookie. Neither passes by retrying.
    if (response.status === 401 || response.status === 400) {
      // Told to the other tabs only when this one held the session: a tab that held none
      // (a page just opened, racing a login in another tab) has nothing to end there.
      this.#end(error.code || 'session_ended', this.#session !== null);
      return false;
    }
    return this.#failed(error);
  }

  /** Whether another tab holds a session at least as new as this tab's (its lock says so). */
  async #newerSessionElsewhere() {
    if (!this.#channel || typeof this.#locks?.query !== 'function') return false;
    const own = this.#session?.generation ?? null;
    const ownExpiry = this.#session?.expiresAt ?? -Infinity;
    let held = [];
    try {
      ({ held = [] } = await this.#locks.query());
    } catch {
      return false;
    }
    return held.some(({ name }) => {
      if (typeof name !== 'string' || !name.startsWith(SESSION_LOCK_PREFIX)) return false;
      const generation = name.slice(SESSION_LOCK_PREFIX.length);
      return generation !== own && Number.parseInt(generation, 10) >= ownExpiry;
    });
  }

  /** Asks the other tabs for their session; true once one other than `from` arrived. */
  #askForSession(from) {
    return new Promise((resolve) => {
      const waiter = (token) => {
        if (token === from) return;
        this.#sessionWaiters.delete(waiter);
        this.#clearTimeout(timer);
        resolve(true);
      };
      const timer = this.#setTimeout(() => {
        this.#sessionWaiters.delete(waiter);
        resolve(false);
      }, ASK_TIMEOUT_MS);
      this.#sessionWaiters.add(waiter);
      this.#channel.postMessage({ type: 'ask' });
    });
  }

  #failed(error) {
    this.#failures.fail();
    for (const fn of this.#errorListeners) callSafely(fn, error);
    return Boolean(this.#session) && this.expiresInMs() > 0;
  }

  /** Runs `fn` holding the lock; after `lockTimeoutMs` of waiting it takes the lock over. */
  async #withLock(fn) {
    const locks = this.#locks;
    if (!locks) return fn();
    const controller = new AbortController();
    const timer = this.#setTimeout(() => controller.abort(), this.#lockTimeoutMs);
    try {
      return await locks.request(LOCK_NAME, { signal: controller.signal }, fn);
    } catch (error) {
      if (error?.name !== 'AbortError') throw error;
      // The holder hung (a frozen tab): take the lock from it.
      return locks.request(LOCK_NAME, { steal: true }, fn);
    } finally {
      this.#clearTimeout(timer);
    }
  }

  /** Runs a request that is aborted after `requestTimeoutMs`. */
  async #withTimeout(send) {
    const controller = new AbortController();
    const timer = this.#setTimeout(() => controller.abort(), this.#requestTimeoutMs);
    try {
      return await send(controller.signal);
    } finally {
      this.#clearTimeout(timer);
    }
  }

  /** Takes a login or refresh answer, and hands it to the other tabs. */
  async #accept(body, sentAt, receivedAt) {
    const expiresAt = Date.parse(body.expires_at);
    if (typeof body.access_token !== 'string' || !Number.isFinite(expiresAt)) {
      throw new TesseraError(0, 'bad_answer', 'the server answered without a token');
    }
    const random = Math.random().toString(36).slice(2, 10);
    this.#session = {
      accessToken: body.access_token,
      user: body.user,
      sessionId: body.session_id,
      expiresAt,
      refreshExpiresAt: Date.parse(body.refresh_expires_at),
      generation: `${expiresAt}:${random}`,
      offsetMs: clockOffsetMs(body.server_time, sentAt, receivedAt),
    };
    // Held before the refresh lock is let go: a tab that takes it next sees the lock.
    await this.#holdSessionLock();
    this.#broadcastSession();
    this.#changed();
  }

  /** Hands this tab's session to the other tabs. */
  #broadcastSession() {
    const session = this.#session;
    if (!this.#channel || !session) return;
    const { offsetMs, ...shared } = session;
    // The receiver's clock may differ from this tab's: it is given the server's.
    this.#channel.postMessage({ type: 'session', session: shared, serverNow: this.serverNow() });
  }

  /** Holds the shared lock named after this tab's session, and lets go of the previous one. */
  async #holdSessionLock() {
    const generation = this.#session?.generation;
    if (!this.#locks || !generation || this.#heldLock?.generation === generation) return;
    let release;
    const held = new Promise((resolve) => {
      release = resolve;
    });
    await new Promise((granted) => {
      this.#locks
        .request(`${SESSION_LOCK_PREFIX}${generation}`, { mode: 'shared' }, () => {
          granted();
          return held;
        })
        .catch(granted);
    });
    if (this.#session?.generation !== generation) {
      release(); // a newer session arrived meanwhile
      return;
    }
    this.#heldLock?.release();
    this.#heldLock = { generation, release };
  }

  #releaseSessionLock() {
    this.#heldLock?.release();
    this.#heldLock = null;
  }

  #onMessage(message) {
    if (!message || typeof message !== 'object') return;
    if (message.type === 'session' && message.session) {
      const { session, serverNow } = message;
      const mine = this.#session;
      // A tab answering an ask may hold an older session than this one: keep the newer.
      if (session.accessToken !== mine?.accessToken && session.expiresAt >= (mine?.expiresAt ?? -Infinity)) {
        this.#session = { ...session, offsetMs: serverNow - this.#now() };
        this.#failures.reset();
        this.#holdSessionLock();
        this.#changed();
      }
      const token = this.#session?.accessToken;
      for (const waiter of [...this.#sessionWaiters]) waiter(token);
    } else if (message.type === 'ask') {
      if (this.#session) this.#broadcastSession();
    } else if (message.type === 'logout') {
      this.#end(message.reason ?? 'logout', false);
    }
  }

  /** The session is over: forget it and tell the listeners (and the other tabs). */
  #end(reason, broadcast) {
    const had = this.#session !== null;
    this.#session = null;
    this.#releaseSessionLock();
    if (broadcast) this.#channel?.postMessage({ type: 'logout', reason });
    if (had || broadcast) {
      this.#changed();
      for (const fn of this.#logoutListeners) callSafely(fn, reason);
    }
  }

  #changed() {
    const state = this.state;
    for (const fn of this.#changeListeners) callSafely(fn, state);
  }
}

function positive(value, fallback, name) {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive number of milliseconds, not ${value}`);
  }
  return value;
}

function callSafely(fn, value) {
  try {
    fn(value);
  } catch (error) {
    // A listener's error is its own; the client goes on.
    globalThis.reportError?.(error);
  }
}

async function errorOf(response) {
  let code = `http_${response.status}`;
  let message = `the server answered ${response.status}`;
  try {
    const body = await response.json();
    if (typeof body?.error === 'string') code = body.error;
    if (typeof body?.message === 'string') message = body.message;
  } catch {
    // Not JSON: keep the status.
  }
  return new TesseraError(response.status, code, message);
}
