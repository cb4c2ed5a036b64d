// Test seams for the client: a clock and timers that move only when told, a Web Locks
// implementation with the browser's semantics (queue, abort signal, steal), and a small
// stand-in for the server's token endpoints with a clock of its own.

/** Lets every pending promise chain and channel message run. */
export async function settle(rounds = 20) {
  for (let i = 0; i < rounds; i += 1) {
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A clock and timers that advance only through `advance`. */
export class ManualTime {
  constructor(start) {
    this.now = start;
    this.timers = new Map();
    this.nextId = 1;
  }
  clock = () => this.now;
  setTimeout = (fn, ms) => this.#add(fn, ms, false);
  setInterval = (fn, ms) => this.#add(fn, ms, true);
  clearTimeout = (id) => this.timers.delete(id);
  clearInterval = (id) => this.timers.delete(id);
  #add(fn, ms, repeat) {
    const id = this.nextId++;
    this.timers.set(id, { fn, at: this.now + ms, every: repeat ? ms : 0 });
    return id;
  }
  /** Moves the clock `ms` forward, running every timer that falls due, in order. */
  async advance(ms) {
    const end = this.now + ms;
    for (;;) {
      let next = null;
      for (const [id, timer] of this.timers) {
        if (timer.at <= end && (next === null || timer.at < next[1].at)) next = [id, timer];
      }
      if (next === null) break;
      const [id, timer] = next;
      this.now = timer.at;
      if (timer.every) timer.at += timer.every;
      else this.timers.delete(id);
      timer.fn();
      await settle();
    }
    this.now = end;
    await settle();
  }
}

/**
 * Web Locks as browsers implement them (exclusive and shared modes, a queue per name, an
 * abort signal while waiting, steal, query), for one lock manager shared by several "tabs".
 */
export class Locks {
  constructor() {
    this.held = new Map(); // name -> { mode, entries: Set }
    this.queues = new Map(); // name -> [entry]
  }
  query() {
    const held = [];
    for (const [name, { mode, entries }] of this.held) {
      for (let i = 0; i < entries.size; i += 1) held.push({ name, mode });
    }
    return Promise.resolve({ held, pending: [] });
  }
  request(name, options, callback) {
    const mode = options.mode ?? 'exclusive';
    return new Promise((resolve, reject) => {
      const entry = { callback, resolve, reject, mode };
      if (options.steal) {
        this.held.delete(name);
        this.#grant(name, entry);
        return;
      }
      const signal = options.signal;
      if (signal?.aborted) {
        reject(new DOMException('aborted', 'AbortError'));
        return;
      }
      signal?.addEventListener('abort', () => {
        const queue = this.#queue(name);
        const at = queue.indexOf(entry);
        if (at >= 0) {
          queue.splice(at, 1);
          reject(new DOMException('aborted', 'AbortError'));
        }
      });
      if (this.#grantable(name, mode)) this.#grant(name, entry);
      else this.#queue(name).push(entry);
    });
  }
  #grantable(name, mode) {
    const held = this.held.get(name);
    if (!held) return this.#queue(name).length === 0;
    return held.mode === 'shared' && mode === 'shared' && this.#queue(name).length === 0;
  }
  #queue(name) {
    if (!this.queues.has(name)) this.queues.set(name, []);
    return this.queues.get(name);
  }
  #grant(name, entry) {
    if (!this.held.has(name)) this.held.set(name, { mode: entry.mode, entries: new Set() });
    const held = this.held.get(name);
    held.entries.add(entry);
    Promise.resolve()
      .then(() => entry.callback({ name, mode: entry.mode }))
      .then(entry.resolve, entry.reject)
      .finally(() => {
        if (this.held.get(name) !== held) return; // stolen
        held.entries.delete(entry);
        if (held.entries.size > 0) return;
        this.held.delete(name);
        const queue = this.#queue(name);
        const next = queue.shift();
        if (!next) return;
        this.#grant(name, next);
        while (next.mode === 'shared' && queue[0]?.mode === 'shared') this.#grant(name, queue.shift());
      });
  }
}

/**
 * The server's token endpoints: a session whose refresh rotates, access tokens of
 * `lifetimeMs`, a clock of its own (`time.now + serverAheadMs`, so the browser's can be off).
 */
export class Server {
  constructor(time, { lifetimeMs = 15 * 60_000, serverAheadMs = 0 } = {}) {
    this.time = time;
    this.lifetimeMs = lifetimeMs;
    this.serverAheadMs = serverAheadMs;
    this.alive = true;
    this.refreshes = 0;
    this.logins = 0;
    this.serial = 0;
    this.failWith = null;
    this.hang = false;
    this.requests = [];
  }
  nowMs() {
    // The server works in whole seconds, as its RFC 3339 answers do.
    return Math.floor((this.time.now + this.serverAheadMs) / 1000) * 1000;
  }
  #grant() {
    const now = this.nowMs();
    this.serial += 1;
    this.current = `token-${this.serial}`;
    return json(200, {
      access_token: this.current,
      token_type: 'Bearer',
      expires_in: this.lifetimeMs / 1000,
      expires_at: new Date(now + this.lifetimeMs).toISOString(),
      refresh_expires_at: new Date(now + 7 * 86_400_000).toISOString(),
      session_id: 'session-1',
      server_time: new Date(now).toISOString(),
      user: { id: 'user-1', username: 'ada', roles: [] },
    });
  }
  fetch = async (url, init = {}) => {
    const path = new URL(url, 'http://server.test').pathname;
    const auth = new Headers(init.headers ?? {}).get('authorization');
    this.requests.push({ path, auth });
    if (path === '/api/auth/login') {
      this.logins += 1;
      this.alive = true;
      return this.#grant();
    }
    if (path === '/api/auth/refresh') {
      this.refreshes += 1;
      if (this.hang) {
        // Like a request that never gets an answer: only its abort signal ends it.
        return new Promise((_, reject) => {
          init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
        });
      }
      if (this.failWith) return json(this.failWith, { error: 'unavailable', message: 'try later' });
      if (!this.alive) return json(401, { error: 'session_ended', message: 'the session has ended' });
      return this.#grant();
    }
    if (path === '/api/auth/logout') {
      this.alive = false;
      return new Response(null, { status: 204 });
    }
    // A resource: accepts the current token of a live session.
    if (this.alive && auth === `Bearer ${this.current}`) return json(200, { ok: true });
    return json(401, { error: 'invalid_token', message: 'the token is not valid' });
  };
}

function json(status, body) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}
