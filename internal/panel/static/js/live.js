// The live connection: the WebSocket protocol of docs/realtime.md. It authenticates in the first
// message, resumes from the last id it received, drops events it already applied, renews the
// token in-band, reconnects with exponential backoff and jitter, and asks the page to reload its
// state by REST on the first `ready` and after a `reset`.

const SEEN_FOR = 10 * 60 * 1000; // how long applied event ids are kept to drop duplicates

export class Live extends EventTarget {
  constructor(session) {
    super();
    this.session = session;
    this.cursor = null; // id of the last event, ready or cursor message received
    this.seen = new Map(); // event id -> when it was applied
    this.attempt = 0;
    this.state = 'connecting';
    this.retryAt = 0;
    this.ws = null;
    this.stopped = true;
    this.needReload = false;
    this.onToken = () => this.renew();
    this.onOnline = () => { if (this.state === 'offline') this.reconnect(0); };
  }

  start() {
    this.stopped = false;
    this.session.addEventListener('token', this.onToken);
    window.addEventListener('online', this.onOnline);
    this.connect();
  }

  stop() {
    this.stopped = true;
    this.session.removeEventListener('token', this.onToken);
    window.removeEventListener('online', this.onOnline);
    clearTimeout(this.retryTimer);
    this.ws?.close(1000);
    this.ws = null;
  }

  setState(state) {
    this.state = state;
    this.dispatchEvent(new Event('state'));
  }

  connect() {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/ws`);
    this.ws = ws;
    this.connects = (this.connects || 0) + 1;
    this.setState(this.cursor == null ? 'connecting' : 'catching_up');
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: 'auth', token: this.session.token }));
      ws.send(JSON.stringify({ type: 'resume', after: this.cursor }));
    };
    ws.onmessage = (m) => {
      if (ws !== this.ws) return;
      let msg;
      try {
        msg = JSON.parse(m.data);
      } catch {
        return;
      }
      this.receive(msg);
    };
    ws.onclose = (e) => this.closed(ws, e.code);
  }

  receive(m) {
    switch (m.type) {
      case 'authenticated':
        this.attempt = 0;
        break;
      case 'event':
        this.cursor = m.id;
        if (this.seen.has(m.id)) return;
        this.remember(m.id);
        this.dispatchEvent(new CustomEvent('event', { detail: m }));
        break;
      case 'reset':
        this.needReload = true;
        break;
      case 'ready': {
        const reload = this.cursor == null || this.needReload;
        this.cursor = m.id;
        this.needReload = false;
        this.setState('live');
        this.dispatchEvent(new CustomEvent('ready', { detail: { reload } }));
        break;
      }
      case 'cursor':
        this.cursor = m.id;
        break;
      default:
        // Unknown kinds are ignored, as the protocol asks.
    }
  }

  remember(id) {
    const now = Date.now();
    this.seen.set(id, now);
    if (this.seen.size > 2000) {
      for (const [k, at] of this.seen) if (now - at > SEEN_FOR) this.seen.delete(k);
    }
  }

  closed(ws, code) {
    if (ws !== this.ws || this.stopped) return;
    this.ws = null;
    if (code === 4007) {
      // The session was revoked: log in again.
      this.session.clear();
      return;
    }
    if (code === 4001 || code === 4002 || code === 4004 || code === 4008) {
      // A token problem: get a fresh one (a failed refresh logs out), then resume.
      this.setState('offline');
      this.session.refresh().then(() => this.reconnect(0), () => this.reconnect());
      return;
    }
    this.reconnect(code === 4009 ? 60000 : undefined);
  }

  // reconnect schedules the next connection: after delay ms, or after the backoff (500 ms
  // doubling to 30 s, with jitter).
  reconnect(delay) {
    clearTimeout(this.retryTimer);
    if (this.stopped) return;
    if (delay === undefined) {
      const base = Math.min(30000, 500 * 2 ** this.attempt);
      delay = base / 2 + Math.random() * base / 2;
      this.attempt++;
    }
    this.retryAt = Date.now() + delay;
    this.setState('offline');
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  // renew sends the new access token on the open socket before the old one expires.
  renew() {
    if (this.ws && this.ws.readyState === WebSocket.OPEN && this.session.token) {
      this.ws.send(JSON.stringify({ type: 'auth', token: this.session.token }));
    }
  }
}
