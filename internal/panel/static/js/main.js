// The agent panel's entry: the login screen, then the inbox (header, conversation list, open
// conversation) kept live by the WebSocket. Routing is the URL's fragment (#/c/<id>), so the
// server serves one page.

import { h, clear } from './dom.js';
import { t, lang, setLang } from './i18n.js';
import { Session } from './api.js';
import { Live } from './live.js';
import { ConversationList } from './list.js';
import { Thread } from './thread.js';
import { Notifier } from './notify.js';
import { Admin } from './admin.js';
import { Reports } from './reports.js';

const root = document.getElementById('app');
const session = new Session();

class Inbox {
  constructor(api, me) {
    this.api = api;
    this.me = me;
    this.users = new Map([[me.id, me.name || me.email]]);
    this.selected = null;
    this.thread = null;
    this.live = new Live(api);
    this.notifier = new Notifier(this);
    this.list = new ConversationList(this);
    this.live.addEventListener('event', (e) => this.event(e.detail));
    this.live.addEventListener('ready', (e) => { if (e.detail.reload) this.reload(); });
    this.live.addEventListener('state', () => this.showState());
    this.el = this.build();
    window.addEventListener('hashchange', () => this.route());
    document.addEventListener('visibilitychange', () => { if (!document.hidden) this.thread?.markRead(); });
  }

  build() {
    this.conn = h('span', { class: 'conn', role: 'status', 'aria-live': 'polite' });
    const avail = h('select', { class: 'availability', 'aria-label': t('avail.label') },
      ['online', 'busy', 'offline'].map((a) => h('option', { value: a, selected: this.me.availability === a }, t(`avail.${a}`))));
    avail.addEventListener('change', () => this.api.request('PATCH', '/api/me/availability', { availability: avail.value }).catch((e) => this.error(e)));
    const admin = [
      this.me.permissions?.can_view_reports ? h('a', { href: '#/reports', class: 'reports-link' }, t('reports.link')) : null,
      this.me.permissions?.can_manage_users ? h('a', { href: '#/admin', class: 'admin-link' }, t('admin.link')) : null,
      this.me.role === 'admin' ? h('a', { href: '/admin/river/', target: '_blank', rel: 'noopener' }, t('admin.river')) : null,
    ];
    this.errorBox = h('p', { class: 'error-box', role: 'alert', hidden: true });
    this.threadPane = h('div', { class: 'thread-pane' }, h('p', { class: 'placeholder' }, t('thread.none')));
    this.main = h('main', { class: 'inbox' }, this.list.el, this.threadPane);
    return h('div', { class: 'shell' },
      h('header', { class: 'top' },
        h('strong', { class: 'brand' }, 'wainbox'),
        this.conn,
        h('span', { class: 'spacer' }),
        this.notifier.controls(),
        avail,
        admin,
        h('button', { type: 'button', class: 'lang', 'aria-label': t('lang.label'), onclick: () => { setLang(lang === 'es' ? 'en' : 'es'); start(); } }, t('lang.switch')),
        h('span', { class: 'me' }, this.me.name || this.me.email),
        h('button', { type: 'button', class: 'logout', onclick: () => session.logout() }, t('logout'))),
      this.errorBox,
      this.main);
  }

  start() {
    this.live.start();
    this.api.get('/api/groups').then((r) => {
      this.groups = r.data || [];
      this.list.setGroups(this.groups);
    }).catch(() => {});
    // Colleagues by name: assignees, lock holders, note authors.
    this.api.get('/api/colleagues').then((r) => {
      for (const u of r.data || []) if (u.id !== this.me.id) this.users.set(u.id, u.name);
      this.list.nodes.clear(); // rows name assignees and lock holders
      this.list.render();
      this.thread?.renderHeader();
    }).catch(() => {});
  }

  stop() {
    this.live.stop();
    this.thread?.close();
  }

  // reload loads what the inbox shows by REST: on the first `ready` and after a `reset`.
  reload() {
    this.list.reload();
    this.route(true);
  }

  showState() {
    const s = this.live.state;
    this.conn.dataset.state = s;
    this.conn.dataset.connects = String(this.live.connects); // how many sockets it opened
    if (s === 'offline') {
      const secs = Math.max(0, Math.round((this.live.retryAt - Date.now()) / 1000));
      this.conn.textContent = secs > 0 ? t('conn.offline', { s: secs }) : t('conn.offline_now');
      clearTimeout(this.stateTimer);
      if (secs > 0) this.stateTimer = setTimeout(() => this.showState(), 1000);
    } else this.conn.textContent = t(`conn.${s}`);
  }

  userName(id) {
    if (id === this.me.id) return t('assignee.you');
    return this.users.get(id) || t('assignee.user', { id });
  }

  error(e) {
    if (e?.status === 401) return;
    this.errorBox.hidden = false;
    this.errorBox.textContent = t('error.generic', { reason: e?.message || String(e) });
    clearTimeout(this.errorTimer);
    this.errorTimer = setTimeout(() => { this.errorBox.hidden = true; }, 8000);
  }

  // event applies one live event. Conversation events carry current state but not the contact
  // or the lock, so the conversation is read again (coalesced per conversation).
  event(ev) {
    const id = ev.conversation_id;
    const d = ev.data || {};
    switch (ev.kind) {
      case 'message.created':
        this.list.preview(id, d);
        this.list.refresh(id);
        if (this.thread?.id === id) this.thread.createdEvent(d);
        if (d.direction === 'in') this.notifier.incoming(id, d);
        break;
      case 'message.status':
        this.list.status(id, d);
        if (this.thread?.id === id) this.thread.statusEvent(d);
        break;
      case 'message.media':
        if (this.thread?.id === id) this.thread.mediaEvent(d);
        break;
      case 'conversation.created':
      case 'conversation.updated':
      case 'conversation.lock':
        this.list.refresh(id);
        if (this.thread?.id === id && ev.kind === 'conversation.updated') this.thread.historyChanged();
        break;
      case 'conversation.tags':
        if (this.thread?.id === id) this.thread.renderHeader();
        break;
      case 'note.created':
        if (this.thread?.id === id) this.thread.notesChanged();
        break;
      default:
        // Kinds the panel does not know are ignored.
    }
  }

  conversationChanged(c) {
    if (this.thread?.id === c.id) this.thread.conversationChanged(c);
  }

  conversationGone(id) {
    if (this.thread?.id === id) {
      this.thread.close();
      this.thread = null;
      this.threadPane.replaceChildren(h('p', { class: 'placeholder', role: 'status' }, t('thread.gone')));
    }
  }

  open(id, { keepFocus = false } = {}) {
    if (location.hash !== `#/c/${id}`) {
      this.keepFocus = keepFocus;
      location.hash = `#/c/${id}`;
    } else this.route();
  }

  close() {
    location.hash = '';
  }

  focusComposer() {
    this.thread?.text.focus();
  }

  // route opens the conversation of the URL's fragment; force reads it again after a reset.
  async route(force = false) {
    if (location.hash === '#/admin' && this.me.permissions?.can_manage_users) {
      this.thread?.close();
      this.thread = null;
      this.selected = null;
      this.main.classList.add('has-selection');
      const admin = new Admin(this);
      this.threadPane.replaceChildren(admin.el);
      admin.load();
      return;
    }
    // Reports: open to anyone who navigates there; the API refuses those without
    // can_view_reports, and the page shows its refusal.
    if (location.hash === '#/reports') {
      if (this.reports && this.threadPane.contains(this.reports.el)) return;
      this.thread?.close();
      this.thread = null;
      this.selected = null;
      this.list.select(null);
      this.main.classList.add('has-selection');
      this.reports = new Reports(this);
      this.threadPane.replaceChildren(this.reports.el);
      this.reports.load();
      return;
    }
    this.reports = null;
    const m = location.hash.match(/^#\/c\/(\d+)$/);
    const id = m ? Number(m[1]) : null;
    if (!force && this.thread && this.thread.id === id) return;
    this.thread?.close();
    this.thread = null;
    this.selected = id;
    this.main.classList.toggle('has-selection', id != null);
    this.list.select(id);
    if (id == null) {
      this.threadPane.replaceChildren(h('p', { class: 'placeholder' }, t('thread.none')));
      return;
    }
    try {
      const conv = await this.api.get(`/api/conversations/${id}`);
      if (this.selected !== id) return;
      const th = new Thread(this, conv);
      this.thread = th;
      this.threadPane.replaceChildren(th.el);
      await th.load();
      this.notifier.seen(id);
      if (!this.keepFocus) th.text.focus();
      this.keepFocus = false;
    } catch (e) {
      if (e.status === 404) this.conversationGone(id);
      else this.error(e);
    }
  }
}

function loginView() {
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, id: 'login-email' });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true, id: 'login-password' });
  const err = h('p', { class: 'error-box', role: 'alert', hidden: true });
  const form = h('form', { class: 'login' },
    h('h1', null, t('login.heading')),
    h('label', { for: 'login-email' }, t('login.email')), email,
    h('label', { for: 'login-password' }, t('login.password')), password,
    h('button', { type: 'submit', class: 'primary' }, t('login.submit')),
    err,
    h('button', { type: 'button', class: 'link lang', onclick: () => { setLang(lang === 'es' ? 'en' : 'es'); start(); } }, t('lang.switch')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    try {
      await session.login(email.value.trim(), password.value);
      start();
    } catch (x) {
      err.hidden = false;
      err.textContent = x.status === 429 ? t('login.throttled', { s: x.retryAfter || '60' }) : (x.status === 401 ? t('login.failed') : t('error.generic', { reason: x.message }));
    }
  });
  return h('main', { class: 'login-page' }, form);
}

let inbox = null;

async function start() {
  inbox?.stop();
  inbox = null;
  document.title = t('app.title');
  if (!session.loggedIn) {
    clear(root).append(loginView());
    root.querySelector('input')?.focus();
    return;
  }
  let me;
  try {
    const s = await session.get('/api/auth/session');
    me = { ...s.user, role: s.role, permissions: s.permissions };
  } catch {
    if (!session.loggedIn) return; // the logout listener shows the login
    me = session.user;
  }
  inbox = new Inbox(session, me);
  clear(root).append(inbox.el);
  inbox.start();
}

session.addEventListener('logout', () => start());
start();
