// The session and the REST client. Tokens live in localStorage so that every tab shares one
// session; the strict Content-Security-Policy (no inline or foreign scripts) is what keeps them
// from injected code. Refresh tokens are single use and a reused one revokes the session, so the
// refresh is single-flight within the tab (one promise) and across tabs (a Web Lock, re-reading
// the stored tokens once the lock is ours: another tab may have refreshed meanwhile).

const STORE = 'wainbox.session';

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
    this.body = body;
  }
}

function readStore() {
  try {
    return JSON.parse(localStorage.getItem(STORE));
  } catch {
    return null;
  }
}

export class Session extends EventTarget {
  constructor() {
    super();
    this.s = readStore();
    this.refreshing = null;
    this.timer = 0;
    window.addEventListener('storage', (e) => {
      if (e.key !== STORE) return;
      const was = this.s;
      this.s = readStore();
      if (!this.s && was) this.dispatchEvent(new Event('logout'));
      else if (this.s) {
        this.schedule();
        this.dispatchEvent(new Event('token'));
      }
    });
    this.schedule();
  }

  get loggedIn() { return !!this.s; }
  get token() { return this.s?.access_token; }
  get user() { return this.s?.user; }

  store(t) {
    this.s = {
      access_token: t.access_token,
      expires_at: t.expires_at,
      expires_in: t.expires_in,
      refresh_token: t.refresh_token,
      user: t.user || this.s?.user,
    };
    localStorage.setItem(STORE, JSON.stringify(this.s));
    this.schedule();
    this.dispatchEvent(new Event('token'));
  }

  clear() {
    const was = this.s;
    this.s = null;
    localStorage.removeItem(STORE);
    clearTimeout(this.timer);
    if (was) this.dispatchEvent(new Event('logout'));
  }

  async login(email, password) {
    const r = await fetch('/api/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    const b = await r.json().catch(() => null);
    if (!r.ok) {
      const e = new ApiError(r.status, b);
      e.retryAfter = r.headers.get('Retry-After');
      throw e;
    }
    this.store(b);
  }

  async logout() {
    try {
      await this.request('POST', '/api/auth/logout');
    } catch {
      // The session ends here whatever the server said.
    }
    this.clear();
  }

  // schedule renews the access token before it expires: half its life early, at most a minute,
  // so the WebSocket's in-band renewal arrives well before the server's deadline even when the
  // refresh is slow.
  schedule() {
    clearTimeout(this.timer);
    if (!this.s) return;
    const life = (this.s.expires_in || 900) * 1000;
    const lead = Math.min(60000, life / 2);
    const wait = Date.parse(this.s.expires_at) - lead - Date.now();
    this.timer = setTimeout(() => this.refresh().catch(() => {}), Math.max(0, wait));
  }

  // expiringSoon says the access token has less than 5 s (or a quarter of its life) left.
  expiringSoon() {
    const life = (this.s.expires_in || 900) * 1000;
    return Date.parse(this.s.expires_at) - Date.now() < Math.min(5000, life / 4);
  }

  refresh() {
    if (!this.refreshing) this.refreshing = this.lockedRefresh().finally(() => { this.refreshing = null; });
    return this.refreshing;
  }

  lockedRefresh() {
    const had = this.s?.refresh_token;
    const run = () => this.refreshNow(had);
    return navigator.locks ? navigator.locks.request('wainbox.refresh', run) : run();
  }

  async refreshNow(had) {
    const cur = readStore();
    if (!cur) {
      this.clear();
      throw new ApiError(401, null);
    }
    if (cur.refresh_token !== had && Date.parse(cur.expires_at) - Date.now() > Math.min(5000, (cur.expires_in || 900) * 250)) {
      // Another tab refreshed while this one waited for the lock.
      this.s = cur;
      this.schedule();
      this.dispatchEvent(new Event('token'));
      return;
    }
    let r;
    try {
      r = await fetch('/api/auth/refresh', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ refresh_token: cur.refresh_token }),
      });
    } catch (e) {
      // Offline: try again soon; the session is not lost.
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.refresh().catch(() => {}), 5000);
      throw e;
    }
    const b = await r.json().catch(() => null);
    if (r.status === 400 || r.status === 401) {
      this.clear();
      throw new ApiError(r.status, b);
    }
    if (!r.ok) throw new ApiError(r.status, b);
    this.store(b);
  }

  // request calls the API with the access token, renewing it first when it is about to expire
  // and once more on a 401 (a token that expired in flight). Answers are decoded JSON (null for
  // 204); errors are ApiError.
  async request(method, path, body, { raw = false } = {}) {
    for (let attempt = 0; ; attempt++) {
      if (!this.s) throw new ApiError(401, null);
      if (this.expiringSoon()) await this.refresh();
      const headers = { Authorization: `Bearer ${this.s.access_token}` };
      let payload = body;
      if (body !== undefined && !(body instanceof FormData)) {
        headers['Content-Type'] = 'application/json';
        payload = JSON.stringify(body);
      }
      const r = await fetch(path, { method, headers, body: payload });
      if (r.status === 401) {
        const e = await r.json().catch(() => null);
        if (attempt === 0 && e?.error?.code !== 'session_revoked') {
          await this.refresh();
          continue;
        }
        this.clear();
        throw new ApiError(401, e);
      }
      if (raw) {
        if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null));
        return r;
      }
      if (r.status === 204) return null;
      const out = await r.json().catch(() => null);
      if (!r.ok) throw new ApiError(r.status, out);
      return out;
    }
  }

  get(path) { return this.request('GET', path); }
  post(path, body) { return this.request('POST', path, body ?? {}); }
}
