// One open conversation: the header with its state and actions, the thread (messages, private
// notes and history in time order, older pages on demand) and the composer (lock while writing,
// client ids, templates outside the window, quick replies, attachments, replies).

import { h, clear, uuid } from './dom.js';
import { t, formatTime } from './i18n.js';
import { messageItem, noteItem, historyItem, nextStatus } from './render.js';
import { ApiError } from './api.js';

const PAGE = 50;
const LOCK_RENEW = 60 * 1000; // renew the composer lock every minute while a draft exists

export class Thread {
  constructor(app, conv) {
    this.app = app;
    this.api = app.api;
    this.id = conv.id;
    this.conv = conv;
    this.messages = new Map(); // id -> message
    this.byWamid = new Map();
    this.entries = []; // {key, at, el} in time order
    this.nextCursor = null;
    this.clientId = null; // the draft's client id: kept until the send succeeds
    this.replyTo = null;
    this.lockedUntil = 0;
    this.el = this.build();
    this.renderHeader();
  }

  build() {
    this.header = h('header', { class: 'thread-header' });
    this.older = h('button', { type: 'button', class: 'older', hidden: true, onclick: () => this.loadOlder() }, t('thread.older'));
    this.list = h('ol', { class: 'messages', 'aria-label': t('list.label'), 'aria-live': 'polite' });
    this.scroller = h('div', { class: 'scroll thread-scroll' }, this.older, this.list);
    this.scroller.addEventListener('scroll', () => {
      if (this.scroller.scrollTop < 80 && this.nextCursor && !this.loadingOlder) this.loadOlder();
    });
    // An image or video that arrives after its message grows the thread by up to its height
    // (320 px at most): a thread read to its end stays at its end.
    const follow = () => { if (this.nearEnd(400)) this.scrollToEnd(); };
    this.list.addEventListener('load', follow, true);
    this.list.addEventListener('loadedmetadata', follow, true);
    return h('section', { class: 'thread', 'aria-label': t('thread.none') }, this.header, this.scroller, this.buildComposer());
  }

  buildComposer() {
    this.lockInfo = h('p', { class: 'lock-info', role: 'status', hidden: true });
    this.windowInfo = h('p', { class: 'window-info', role: 'status' });
    this.composeError = h('p', { class: 'compose-error', role: 'alert', hidden: true });
    this.replyBar = h('div', { class: 'reply-bar', hidden: true });
    this.suggestions = h('ul', { class: 'suggestions', role: 'listbox', 'aria-label': t('qr.label'), hidden: true });
    this.text = h('textarea', { rows: 2, 'aria-label': t('compose.label'), placeholder: t('compose.placeholder'), class: 'compose-text' });
    this.text.addEventListener('keydown', (e) => this.composerKey(e));
    this.text.addEventListener('input', () => this.typed());
    this.noteBox = h('input', { type: 'checkbox', class: 'as-note' });
    this.sendBtn = h('button', { type: 'submit', class: 'send primary' }, t('compose.send'));
    this.file = h('input', { type: 'file', class: 'file', 'aria-label': t('compose.attach'), hidden: true, onchange: () => this.attach() });
    this.tplBtn = h('button', { type: 'button', class: 'tpl-open', onclick: () => this.openTemplates() }, t('tpl.button'));
    this.tplBox = h('div', { class: 'templates', hidden: true });
    const form = h('form', { class: 'composer', onsubmit: (e) => { e.preventDefault(); this.send().catch(() => {}); } },
      this.windowInfo, this.lockInfo, this.replyBar, this.suggestions, this.tplBox,
      h('div', { class: 'compose-row' },
        this.text,
        h('div', { class: 'compose-actions' },
          this.sendBtn,
          h('button', { type: 'button', class: 'attach', 'aria-label': t('compose.attach'), title: t('compose.attach'), onclick: () => this.file.click() }, t('compose.attach_short')),
          this.tplBtn,
          h('label', { class: 'check' }, this.noteBox, t('compose.note')))),
      this.file, this.composeError);
    return form;
  }

  // load reads the conversation's latest messages, notes and history.
  async load() {
    const [page, notes, hist] = await Promise.all([
      this.api.get(`/api/conversations/${this.id}/messages?limit=${PAGE}`),
      this.api.get(`/api/conversations/${this.id}/notes`).catch(() => ({ data: [] })),
      this.api.get(`/api/conversations/${this.id}/history`).catch(() => ({ data: [] })),
    ]);
    for (const m of page.data) this.upsert(m, { fromRest: true });
    for (const n of notes.data || []) this.addNote(n);
    for (const e of hist.data || []) this.addHistory(e);
    this.nextCursor = page.next_cursor;
    this.older.hidden = !this.nextCursor;
    this.scrollToEnd();
    this.markRead();
  }

  async loadOlder() {
    if (!this.nextCursor || this.loadingOlder) return;
    this.loadingOlder = true;
    const before = this.scroller.scrollHeight - this.scroller.scrollTop;
    try {
      const page = await this.api.get(`/api/conversations/${this.id}/messages?limit=${PAGE}&cursor=${encodeURIComponent(this.nextCursor)}`);
      for (const m of page.data) this.upsert(m, { fromRest: true });
      this.nextCursor = page.next_cursor;
      this.older.hidden = !this.nextCursor;
      this.scroller.scrollTop = this.scroller.scrollHeight - before;
    } catch (e) {
      this.app.error(e);
    } finally {
      this.loadingOlder = false;
    }
  }

  nearEnd(margin = 120) {
    return this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight < margin;
  }

  scrollToEnd() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  // upsert shows message m once: a message already on screen is replaced in place. Statuses move
  // forward only, unless the answer of a REST call the agent made says otherwise (a retry).
  upsert(m, { fromRest = false, authoritative = false, retry = false } = {}) {
    const had = this.messages.get(m.id);
    if (had) {
      const status = authoritative ? m.status : nextStatus(had.status, m.status, retry);
      // An answer older than what is shown (the send's own answer after its failure event)
      // changes nothing: its error and timestamps are stale too.
      m = status === m.status ? { ...had, ...m, partial: m.partial && had.partial } : { ...m, ...had, status };
    }
    this.messages.set(m.id, m);
    if (m.wa_message_id) this.byWamid.set(m.wa_message_id, m);
    const quotedMsg = m.reply_to_message_id && this.messages.get(m.reply_to_message_id);
    const el = messageItem(m, this.api, {
      onRetry: (x) => this.retry(x),
      onReply: (x) => this.setReply(x),
      quoted: quotedMsg ? quotedMsg.body : null,
    });
    const stick = this.nearEnd();
    this.place(`m-${m.id}`, m.created_at, el, m.id);
    if (stick && !fromRest) this.scrollToEnd();
  }

  // statusEvent applies a message.status event's state.
  statusEvent(data) {
    const had = this.messages.get(data.message_id);
    if (!had) return;
    const status = nextStatus(had.status, data.status, true);
    if (status === had.status) return;
    const m = { ...had, status };
    if (status === 'pending') m.error = null;
    if (status === 'failed') {
      m.error = { code: data.error_code, title: data.error_title };
      // The full error (details) is read from the message itself.
      this.api.get(`/api/messages/${data.message_id}`).then((full) => this.upsert(full)).catch(() => {});
    }
    this.upsert(m, { authoritative: true });
  }

  // mediaEvent redraws a message whose file changed (fetched, failed, uploaded): at once from the
  // event, then from the message read again (the event carries no file name).
  mediaEvent(data) {
    const had = this.messages.get(data.message_id);
    if (!had) return;
    this.upsert({ ...had, media: { ...had.media, ...data.media } });
    this.api.get(`/api/messages/${data.message_id}`).then((m) => this.upsert(m)).catch(() => {});
  }

  // createdEvent shows a message.created event's message at once from the event, then the full
  // message read by REST (bodies in events are previews).
  createdEvent(data) {
    if (!this.messages.has(data.message_id)) {
      this.upsert({
        id: data.message_id, conversation_id: this.id, direction: data.direction, sender: data.sender,
        type: data.type, body: data.preview, status: data.status, created_at: data.created_at,
        reply_to_message_id: data.reply_to_message_id, payload: null, partial: true,
      });
    }
    this.api.get(`/api/messages/${data.message_id}`).then((m) => this.upsert(m)).catch(() => {});
    // A customer's message while the agent looks at the thread is read at once (the count of
    // the conversation, which its own event brings, may not have arrived yet).
    if (data.direction === 'in') this.markRead(true);
  }

  addNote(n) {
    this.place(`n-${n.id}`, n.created_at, noteItem(n, this.app.userName(n.author_id)), n.id);
  }

  addHistory(e) {
    this.place(`h-${e.id}`, e.created_at, historyItem(e, e.actor_id ? this.app.userName(e.actor_id) : ''), e.id);
  }

  // place puts el in time order (then by id), replacing the element of the same key.
  place(key, at, el, id) {
    const time = Date.parse(at);
    const i = this.entries.findIndex((x) => x.key === key);
    if (i >= 0) {
      this.entries[i].el.replaceWith(el);
      this.entries[i].el = el;
      return;
    }
    const entry = { key, time, id, el };
    let j = this.entries.length;
    while (j > 0 && (this.entries[j - 1].time > time || (this.entries[j - 1].time === time && this.entries[j - 1].id > id))) j--;
    if (j === this.entries.length) this.list.append(el);
    else this.entries[j].el.before(el);
    this.entries.splice(j, 0, entry);
  }

  async notesChanged() {
    const notes = await this.api.get(`/api/conversations/${this.id}/notes`).catch(() => ({ data: [] }));
    for (const n of notes.data || []) this.addNote(n);
  }

  async historyChanged() {
    const hist = await this.api.get(`/api/conversations/${this.id}/history`).catch(() => ({ data: [] }));
    for (const e of hist.data || []) this.addHistory(e);
  }

  // conversationChanged redraws the header and the composer's state from the conversation.
  conversationChanged(c) {
    this.conv = { ...this.conv, ...c };
    this.renderHeader();
  }

  lockedByOther() {
    const l = this.conv.lock;
    return l && l.locked_by !== this.app.me.id && Date.parse(l.expires_at) > Date.now() ? l : null;
  }

  renderHeader() {
    const c = this.conv;
    const me = this.app.me.id;
    const name = c.contact?.profile_name || `+${c.contact?.wa_id}`;
    const actions = [];
    if (c.status === 'bot' || (c.assignee_id == null && ['open', 'pending'].includes(c.status))) {
      actions.push(h('button', { type: 'button', class: 'takeover primary', onclick: () => this.action('takeover') }, t('thread.takeover')));
    }
    if (c.status !== 'bot') {
      actions.push(h('button', { type: 'button', class: 'release', onclick: () => this.action('release') }, t('thread.release')));
    }
    if (c.assignee_id !== me && c.status !== 'bot') {
      actions.push(h('button', { type: 'button', class: 'assign-me', onclick: () => this.action('assign', { agent_id: me }) }, t('thread.assign_me')));
    }
    const assign = this.assignSelect();
    const status = h('select', { class: 'set-status', 'aria-label': t('thread.set_status') },
      ['open', 'pending', 'snoozed', 'resolved'].map((s) => h('option', { value: s, selected: c.status === s }, t(`status.${s}`))));
    if (c.status === 'bot') status.prepend(h('option', { value: 'bot', selected: true, disabled: true }, t('status.bot')));
    status.addEventListener('change', () => {
      const body = { status: status.value };
      if (status.value === 'snoozed') {
        const hours = prompt(t('thread.snooze_hours'));
        if (hours) body.snoozed_until = new Date(Date.now() + Number(hours) * 3600e3).toISOString();
      }
      this.action('status', body);
    });
    const windowText = c.window_open
      ? t('window.open', { t: formatTime(c.window_expires_at) })
      : (c.window_expires_at ? t('window.closed') : t('window.never'));
    clear(this.header).append(
      h('button', { type: 'button', class: 'back', 'aria-label': t('thread.back'), onclick: () => this.app.close() }, '←'),
      h('div', { class: 'who' },
        h('h2', null, name),
        h('p', { class: 'sub' }, `+${c.contact?.wa_id} · `,
          h('span', { class: `chip status-${c.status}` }, t(`status.${c.status}`)), ' · ',
          c.assignee_id == null ? t('assignee.none') : (c.assignee_id === me ? t('assignee.you') : this.app.userName(c.assignee_id)))),
      h('div', { class: 'actions' }, actions, assign, status),
      this.tagsEl());
    this.windowInfo.textContent = windowText;
    this.windowInfo.className = `window-info ${c.window_open ? 'open' : 'closed'}`;
    this.tplBtn.classList.toggle('primary', !c.window_open);
    const other = this.lockedByOther();
    this.lockInfo.hidden = !other;
    if (other) this.lockInfo.textContent = t('compose.locked', { name: this.app.userName(other.locked_by) });
    this.sendBtn.disabled = !!other && !this.noteBox.checked;
    this.text.setAttribute('aria-describedby', other ? 'lock-info' : '');
    this.lockInfo.id = 'lock-info';
  }

  // assignSelect assigns the conversation to a team or an agent. The server decides who may
  // assign whom (an agent may assign itself or a team; supervisors anyone).
  assignSelect() {
    const sel = h('select', { class: 'assign-to', 'aria-label': t('thread.assign_to') },
      h('option', { value: '' }, t('thread.assign_to')),
      (this.app.groups || []).map((g) => h('option', { value: `g${g.id}` }, t('thread.assign_team', { name: g.name }))),
      [...this.app.users].filter(([id]) => id !== this.app.me.id).map(([id, name]) => h('option', { value: `u${id}` }, name)));
    sel.addEventListener('change', () => {
      const v = sel.value;
      if (v) this.action('assign', v[0] === 'g' ? { group_id: Number(v.slice(1)) } : { agent_id: Number(v.slice(1)) });
    });
    return sel;
  }

  tagsEl() {
    const box = h('div', { class: 'tag-list', 'aria-label': t('thread.tags') });
    this.api.get(`/api/conversations/${this.id}/tags`).then((r) => {
      const tags = (r.data || []).map((x) => x.tag ?? x);
      box.replaceChildren(...tags.map((tag) => h('span', { class: 'chip tag' }, tag,
        h('button', { type: 'button', class: 'link', 'aria-label': t('thread.remove_tag', { tag }), onclick: () => this.api.request('DELETE', `/api/conversations/${this.id}/tags/${encodeURIComponent(tag)}`).catch((e) => this.app.error(e)) }, '×'))),
      h('input', { type: 'text', class: 'add-tag', size: 8, placeholder: t('thread.add_tag'), 'aria-label': t('thread.add_tag'),
        onkeydown: (e) => {
          if (e.key !== 'Enter' || !e.target.value.trim()) return;
          e.preventDefault();
          this.api.post(`/api/conversations/${this.id}/tags`, { tag: e.target.value.trim() }).catch((err) => this.app.error(err));
          e.target.value = '';
        } }));
    }).catch(() => {});
    return box;
  }

  async action(name, body) {
    try {
      const c = await this.api.post(`/api/conversations/${this.id}/${name}`, body ?? {});
      this.app.list.upsert(c);
      this.conversationChanged(c);
    } catch (e) {
      this.app.error(e);
      this.renderHeader();
    }
  }

  async markRead(force = false) {
    if ((!force && !(this.conv.unread_count > 0)) || document.hidden) return;
    try {
      await this.api.post(`/api/conversations/${this.id}/read`);
    } catch {
      // A reader may not mark read (a write): the count stays.
    }
  }

  // typed takes or renews the composer lock while the agent writes.
  typed() {
    this.composeError.hidden = true;
    this.quickReplies();
    if (!this.text.value.trim() || this.noteBox.checked) return;
    if (Date.now() < this.lockedUntil - (5 * 60 * 1000 - LOCK_RENEW)) return;
    this.takeLock();
  }

  async takeLock() {
    if (this.lockRequest) return this.lockRequest;
    this.lockRequest = (async () => {
      try {
        const l = await this.api.post(`/api/conversations/${this.id}/lock`);
        this.lockedUntil = Date.parse(l.expires_at);
        this.conv.lock = { locked_by: this.app.me.id, expires_at: l.expires_at };
        this.renderHeader();
      } catch (e) {
        if (e.status === 409 && e.code === 'locked') {
          this.conv.lock = { locked_by: e.body.error.locked_by, expires_at: e.body.error.expires_at };
          this.renderHeader();
        }
      } finally {
        this.lockRequest = null;
      }
    })();
    return this.lockRequest;
  }

  releaseLock() {
    if (this.lockedUntil > Date.now()) {
      this.lockedUntil = 0;
      this.api.request('DELETE', `/api/conversations/${this.id}/lock`).catch(() => {});
    }
  }

  composerKey(e) {
    if (!this.suggestions.hidden && ['ArrowDown', 'ArrowUp', 'Enter', 'Escape', 'Tab'].includes(e.key)) {
      this.suggestionKey(e);
      return;
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.send().catch(() => {}); // sendFailed has shown why
    }
  }

  // send sends the draft once. Its client id is made when the draft is first sent and kept until
  // the server answered, so a double click or a resend after a network error sends nothing twice.
  async send(extra) {
    if (this.sending) return;
    const text = this.text.value.trim();
    if (!extra && !text) return;
    if (this.noteBox.checked && !extra) return this.sendNote(text);
    if (this.lockedByOther()) return;
    this.sending = true;
    this.sendBtn.disabled = true;
    this.clientId ??= uuid();
    const body = extra ? { client_id: this.clientId, ...extra } : { client_id: this.clientId, type: 'text', text: { body: text } };
    if (this.replyTo?.wa_message_id && !body.quick_reply_id) body.context = { message_id: this.replyTo.wa_message_id };
    try {
      const m = await this.api.post(`/api/conversations/${this.id}/messages`, body);
      this.clientId = null;
      if (!extra || extra.quick_reply_id) this.text.value = '';
      this.setReply(null);
      this.composeError.hidden = true;
      this.upsert(m);
      this.scrollToEnd();
      this.takeLock();
      return m;
    } catch (e) {
      this.sendFailed(e);
      throw e;
    } finally {
      this.sending = false;
      this.renderHeader();
    }
  }

  sendFailed(e) {
    if (e instanceof ApiError && e.status === 409 && e.code === 'locked') {
      this.conv.lock = { locked_by: e.body.error.locked_by, expires_at: e.body.error.expires_at };
      this.clientId = null;
    } else if (e instanceof ApiError && e.code === 'window_closed') {
      this.clientId = null;
      this.openTemplates();
    } else if (e instanceof ApiError && e.status >= 400 && e.status < 500) {
      this.clientId = null; // refused: nothing was stored, a corrected draft is a new message
    }
    this.composeError.hidden = false;
    this.composeError.textContent = t('compose.error', { reason: e.message });
  }

  async sendNote(text) {
    this.sending = true;
    try {
      const n = await this.api.post(`/api/conversations/${this.id}/notes`, { body: text });
      this.addNote(n);
      this.text.value = '';
      this.scrollToEnd();
    } catch (e) {
      this.composeError.hidden = false;
      this.composeError.textContent = t('compose.error', { reason: e.message });
    } finally {
      this.sending = false;
    }
  }

  async retry(m) {
    try {
      const again = await this.api.post(`/api/messages/${m.id}/retry`);
      this.upsert(again, { retry: true });
    } catch (e) {
      this.app.error(e);
    }
  }

  setReply(m) {
    this.replyTo = m;
    this.replyBar.hidden = !m;
    if (m) {
      this.replyBar.replaceChildren(
        h('span', null, t('compose.replying', { text: (m.body || '').slice(0, 80) })),
        h('button', { type: 'button', class: 'link', onclick: () => this.setReply(null) }, t('compose.cancel_reply')));
      this.text.focus();
    }
  }

  // attach uploads a file and sends it. The upload route belongs to the media API; without it
  // the agent is told attachments are not available.
  async attach() {
    const f = this.file.files[0];
    this.file.value = '';
    if (!f) return;
    const form = new FormData();
    form.append('file', f);
    try {
      const up = await this.api.request('POST', `/api/conversations/${this.id}/media`, form);
      const kind = up.mime_type.startsWith('image/') ? (up.mime_type === 'image/webp' ? 'sticker' : 'image')
        : up.mime_type.startsWith('video/') ? 'video' : up.mime_type.startsWith('audio/') ? 'audio' : 'document';
      const media = { id: String(up.id) };
      const caption = this.text.value.trim();
      if (caption && kind !== 'audio' && kind !== 'sticker') media.caption = caption;
      if (kind === 'document') media.filename = up.filename || f.name;
      await this.send({ type: kind, [kind]: media });
      this.text.value = '';
    } catch (e) {
      this.composeError.hidden = false;
      this.composeError.textContent = e.status === 404 ? t('compose.attach_unavailable') : t('compose.error', { reason: e.message });
    }
  }

  // quickReplies offers the quick replies whose shortcut starts with what follows a leading "/".
  async quickReplies() {
    const v = this.text.value;
    if (!v.startsWith('/') || v.includes(' ')) {
      this.suggestions.hidden = true;
      return;
    }
    const prefix = v.slice(1);
    try {
      const r = await this.api.get(`/api/quick-replies?limit=8&prefix=${encodeURIComponent(prefix)}`);
      if (this.text.value !== v) return;
      this.qr = r.data || [];
      this.qrIndex = 0;
      this.suggestions.replaceChildren(...this.qr.map((q, i) => h('li', {
        role: 'option', id: `qr-${q.id}`, 'aria-selected': String(i === 0), class: i === 0 ? 'active' : '',
        onclick: () => this.useQuickReply(q),
      }, h('strong', null, `/${q.shortcut}`), ' ', q.body.slice(0, 80))));
      this.suggestions.hidden = this.qr.length === 0;
    } catch {
      this.suggestions.hidden = true;
    }
  }

  suggestionKey(e) {
    e.preventDefault();
    if (e.key === 'Escape') { this.suggestions.hidden = true; return; }
    if (e.key === 'Enter' || e.key === 'Tab') { this.useQuickReply(this.qr[this.qrIndex]); return; }
    this.qrIndex = (this.qrIndex + (e.key === 'ArrowDown' ? 1 : -1) + this.qr.length) % this.qr.length;
    [...this.suggestions.children].forEach((li, i) => {
      li.classList.toggle('active', i === this.qrIndex);
      li.setAttribute('aria-selected', String(i === this.qrIndex));
    });
  }

  useQuickReply(q) {
    this.suggestions.hidden = true;
    if (!q) return;
    this.send({ quick_reply_id: q.id }).catch(() => {});
  }

  // openTemplates shows the approved templates with inputs for their parameters.
  async openTemplates() {
    this.tplBox.hidden = false;
    let list;
    try {
      list = (await this.api.get('/api/templates?status=APPROVED')).data || [];
    } catch (e) {
      this.tplBox.replaceChildren(h('p', { role: 'alert' }, t('error.generic', { reason: e.message })));
      return;
    }
    if (!list.length) {
      this.tplBox.replaceChildren(h('p', null, t('tpl.none')), h('button', { type: 'button', onclick: () => { this.tplBox.hidden = true; } }, t('tpl.cancel')));
      return;
    }
    const select = h('select', { class: 'tpl-pick', 'aria-label': t('tpl.pick') },
      list.map((x, i) => h('option', { value: i }, `${x.name} (${x.language})`)));
    const params = h('div', { class: 'tpl-params' });
    const preview = h('p', { class: 'tpl-preview' });
    const show = () => {
      const tpl = list[Number(select.value)];
      const comps = typeof tpl.components === 'string' ? JSON.parse(tpl.components) : tpl.components;
      const fields = [];
      for (const c of comps || []) {
        if ((c.type === 'BODY' || (c.type === 'HEADER' && c.format === 'TEXT')) && c.text) {
          for (const m of c.text.matchAll(/\{\{\s*([\w]+)\s*\}\}/g)) fields.push({ comp: c.type.toLowerCase(), name: m[1] });
        }
      }
      this.tplFields = fields;
      params.replaceChildren(...fields.map((f) => h('label', null, `${f.comp} ${t('tpl.param', { name: f.name })} `,
        h('input', { type: 'text', 'data-comp': f.comp, 'data-name': f.name, required: true }))));
      preview.textContent = (comps || []).filter((c) => c.text).map((c) => c.text).join('\n');
    };
    select.addEventListener('change', show);
    const sendTpl = h('button', { type: 'button', class: 'tpl-send primary', onclick: async () => {
      const tpl = list[Number(select.value)];
      const byComp = {};
      for (const input of params.querySelectorAll('input')) {
        const p = { type: 'text', text: input.value };
        if (!/^\d+$/.test(input.dataset.name)) p.parameter_name = input.dataset.name;
        (byComp[input.dataset.comp] ??= []).push(p);
      }
      const components = Object.entries(byComp).map(([type, parameters]) => ({ type, parameters }));
      const template = { name: tpl.name, language: { code: tpl.language } };
      if (components.length) template.components = components;
      try {
        await this.send({ type: 'template', template });
        this.tplBox.hidden = true;
      } catch {
        // sendFailed showed the reason.
      }
    } }, t('tpl.send'));
    this.tplBox.replaceChildren(h('h3', null, t('tpl.heading')), select, preview, params,
      h('div', { class: 'row' }, sendTpl, h('button', { type: 'button', onclick: () => { this.tplBox.hidden = true; } }, t('tpl.cancel'))));
    show();
  }

  close() {
    this.releaseLock();
  }
}
