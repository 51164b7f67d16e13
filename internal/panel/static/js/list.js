// The conversation list: a view (mine, unassigned, all), filters and search, pages loaded as the
// agent scrolls (50 at a time, so 10,000 conversations cost what the agent looks at), newest
// activity first, kept live by the events the inbox hands it.

import { h, clear } from './dom.js';
import { t, formatTime } from './i18n.js';
import { ticks, nextStatus } from './render.js';

const PAGE = 50;

export class ConversationList {
  constructor(app) {
    this.app = app;
    this.api = app.api;
    this.convs = new Map(); // id -> conversation JSON
    this.previews = new Map(); // conversation id -> its latest message {id, preview, direction, status}
    this.nodes = new Map(); // conversation id -> its row, redrawn only when it changed
    this.order = [];
    this.nextCursor = null;
    this.loading = false;
    this.generation = 0;
    this.filter = { view: 'all', status: '', q: '', tag: '', group: '', unread: false };
    this.el = this.build();
  }

  build() {
    const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': t('list.label') },
      ['mine', 'unassigned', 'all'].map((v) => h('button', {
        type: 'button', role: 'tab', 'data-view': v, 'aria-selected': String(this.filter.view === v),
        onclick: () => { this.filter.view = v; this.syncTabs(); this.reload(); },
      }, t(`list.${v}`))));
    this.tabs = tabs;
    const search = h('input', { type: 'search', class: 'search', placeholder: t('list.search'), 'aria-label': t('list.search') });
    let debounce = 0;
    search.addEventListener('input', () => {
      clearTimeout(debounce);
      debounce = setTimeout(() => { this.filter.q = search.value.trim(); this.reload(); }, 250);
    });
    const status = h('select', { 'aria-label': t('list.status'), onchange: (e) => { this.filter.status = e.target.value; this.reload(); } },
      h('option', { value: '' }, t('list.any')),
      ['bot', 'open', 'pending', 'snoozed', 'resolved'].map((s) => h('option', { value: s }, t(`status.${s}`))));
    this.groupSelect = h('select', { 'aria-label': t('list.team'), onchange: (e) => { this.filter.group = e.target.value; this.reload(); } },
      h('option', { value: '' }, t('list.anyteam')));
    const tag = h('input', { type: 'text', class: 'tag-filter', placeholder: t('list.tag'), 'aria-label': t('list.tag'), size: 8 });
    tag.addEventListener('change', () => { this.filter.tag = tag.value.trim().toLowerCase(); this.reload(); });
    const unread = h('label', { class: 'check' },
      h('input', { type: 'checkbox', onchange: (e) => { this.filter.unread = e.target.checked; this.reload(); } }), t('list.unread'));
    this.ul = h('ul', { class: 'conversations', role: 'listbox', tabindex: '0', 'aria-label': t('list.label') });
    this.ul.addEventListener('keydown', (e) => this.keydown(e));
    this.empty = h('p', { class: 'empty', hidden: true }, t('list.empty'));
    this.sentinel = h('div', { class: 'sentinel', 'aria-hidden': 'true' });
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.more();
    }, { root: null, rootMargin: '400px' });
    this.observer.observe(this.sentinel);
    this.syncTabs();
    return h('section', { class: 'list-pane', 'aria-label': t('list.label') },
      tabs, h('div', { class: 'filters' }, search, status, this.groupSelect, tag, unread),
      h('div', { class: 'scroll' }, this.ul, this.empty, this.sentinel));
  }

  setGroups(groups) {
    for (const g of groups) this.groupSelect.append(h('option', { value: g.id }, g.name));
  }

  syncTabs() {
    for (const b of this.tabs.children) b.setAttribute('aria-selected', String(b.dataset.view === this.filter.view));
  }

  query(cursor) {
    const p = new URLSearchParams({ limit: String(PAGE) });
    const f = this.filter;
    if (f.view === 'mine') p.set('assignee', 'me');
    if (f.view === 'unassigned') p.set('assignee', 'unassigned');
    if (f.status) p.set('status', f.status);
    if (f.q) p.set('q', f.q);
    if (f.tag) p.set('tag', f.tag);
    if (f.group) p.set('group', f.group);
    if (f.unread) p.set('unread', 'true');
    if (cursor) p.set('cursor', cursor);
    return `/api/conversations?${p}`;
  }

  // reload loads the first page again (a filter changed, the socket resumed with a reset).
  // Conversations touched by events while it loads are fetched again after it, so an event that
  // committed after the page was read is not lost under it.
  async reload() {
    const gen = ++this.generation;
    this.touched = new Set();
    this.loading = true;
    try {
      const page = await this.api.get(this.query());
      if (gen !== this.generation) return;
      const old = this.convs;
      this.convs = new Map();
      this.nodes.clear();
      for (const c of page.data) {
        this.convs.set(c.id, { ...old.get(c.id), ...c });
        this.lastMessage(c);
      }
      this.nextCursor = page.next_cursor;
      this.render();
      const touched = this.touched;
      this.touched = null;
      for (const id of touched) this.refresh(id);
    } catch (e) {
      this.app.error(e);
    } finally {
      if (gen === this.generation) this.loading = false;
    }
    if (gen === this.generation && this.sentinelVisible()) this.more();
  }

  sentinelVisible() {
    const r = this.sentinel.getBoundingClientRect();
    return r.top < window.innerHeight + 400;
  }

  async more() {
    if (this.loading || !this.nextCursor) return;
    const gen = this.generation;
    this.loading = true;
    try {
      const page = await this.api.get(this.query(this.nextCursor));
      if (gen !== this.generation) return;
      for (const c of page.data) {
        if (this.convs.has(c.id)) continue;
        this.convs.set(c.id, c);
        this.lastMessage(c);
      }
      this.nextCursor = page.next_cursor;
      this.render();
    } catch (e) {
      this.app.error(e);
    } finally {
      if (gen === this.generation) this.loading = false;
    }
    if (gen === this.generation && this.sentinelVisible()) this.more();
  }

  // matches says whether a conversation belongs to the current view, as far as the client can
  // tell (tags are not on the conversation: a live conversation is kept, not added, under a tag).
  matches(c) {
    const f = this.filter;
    const me = this.app.me.id;
    if (f.view === 'mine' && c.assignee_id !== me) return false;
    if (f.view === 'unassigned' && c.assignee_id != null) return false;
    if (f.status && c.status !== f.status) return false;
    if (f.unread && !(c.unread_count > 0)) return false;
    if (f.group && String(c.group_id) !== f.group) return false;
    if (f.q) {
      const q = f.q.replace(/^\+/, '').toLowerCase();
      if (!(c.contact?.profile_name || '').toLowerCase().includes(q) && !(c.contact?.wa_id || '').includes(q)) return false;
    }
    return true;
  }

  // refresh reads one conversation again after an event about it, and adds, moves or removes it.
  refresh(id) {
    if (this.touched) this.touched.add(id);
    this.pending ??= new Map();
    if (this.pending.has(id)) return this.pending.get(id);
    const p = new Promise((resolve) => setTimeout(resolve, 30)).then(async () => {
      this.pending.delete(id);
      try {
        const c = await this.api.get(`/api/conversations/${id}`);
        this.upsert(c);
        return c;
      } catch (e) {
        if (e.status === 404) this.remove(id);
        else this.app.error(e);
        return null;
      }
    });
    this.pending.set(id, p);
    return p;
  }

  upsert(c) {
    const had = this.convs.get(c.id);
    const merged = { ...had, ...c };
    if (!this.matches(merged)) {
      if (had) this.remove(c.id);
      this.app.conversationChanged(merged);
      return;
    }
    if (!had && this.tagFiltered()) return;
    this.convs.set(c.id, merged);
    this.nodes.delete(c.id);
    this.render();
    this.app.conversationChanged(merged);
  }

  tagFiltered() { return !!this.filter.tag; }

  remove(id) {
    this.nodes.delete(id);
    if (this.convs.delete(id)) this.render();
    this.app.conversationGone(id);
  }

  // lastMessage records the latest message a list page carried.
  lastMessage(c) {
    const m = c.last_message;
    if (m) this.notePreview(c.id, { id: m.id, preview: m.preview, direction: m.direction, status: m.status });
  }

  // notePreview keeps the latest message of a conversation (the highest id, the thread's order)
  // for the list's second line, whether or not the conversation is listed yet.
  notePreview(convId, p) {
    const cur = this.previews.get(convId);
    if (cur && cur.id > p.id) return false;
    if (cur && cur.id === p.id) p.status = nextStatus(cur.status, p.status);
    this.previews.set(convId, p);
    return true;
  }

  // preview applies a message.created event.
  preview(convId, data) {
    if (this.notePreview(convId, { id: data.message_id, preview: data.preview, direction: data.direction, status: data.status })) {
      const c = this.convs.get(convId);
      if (c) this.renderItem(c);
    }
  }

  // status applies a message.status event to the preview's ticks.
  status(convId, data) {
    const cur = this.previews.get(convId);
    if (!cur || cur.id !== data.message_id) return;
    cur.status = nextStatus(cur.status, data.status);
    const c = this.convs.get(convId);
    if (c) this.renderItem(c);
  }

  render() {
    this.order = [...this.convs.values()].sort((a, b) => (Date.parse(b.last_message_at) - Date.parse(a.last_message_at)) || (b.id - a.id));
    // Rows that did not change are moved, not redrawn.
    const nodes = this.order.map((c) => {
      let li = this.nodes.get(c.id);
      if (!li) this.nodes.set(c.id, li = this.item(c));
      return li;
    });
    this.ul.replaceChildren(...nodes);
    this.empty.hidden = this.order.length > 0 || this.loading;
    this.sentinel.textContent = this.nextCursor ? t('list.more') : '';
  }

  renderItem(c) {
    const old = this.nodes.get(c.id);
    const li = this.item(c);
    this.nodes.set(c.id, li);
    if (old?.isConnected) old.replaceWith(li);
  }

  item(c) {
    const me = this.app.me.id;
    const selected = this.app.selected === c.id;
    const pv = this.previews.get(c.id);
    const name = c.contact?.profile_name || `+${c.contact?.wa_id}`;
    const assignee = c.assignee_id == null ? t('assignee.none') : this.app.userName(c.assignee_id);
    const unread = c.unread_count > 0 ? h('span', { class: 'badge', 'aria-label': t('list.unread_count', { n: c.unread_count }) }, String(c.unread_count)) : null;
    const lock = c.lock && c.lock.locked_by !== me ? h('span', { class: 'lock' }, t('lock.by', { name: this.app.userName(c.lock.locked_by) })) : null;
    const li = h('li', {
      id: `conv-${c.id}`, role: 'option', class: `conv${selected ? ' selected' : ''}${c.unread_count > 0 ? ' unread' : ''}`,
      'aria-selected': String(selected), 'data-id': c.id,
      onclick: () => this.app.open(c.id),
    },
    h('div', { class: 'row' }, h('span', { class: 'name' }, name), h('time', { datetime: c.last_message_at }, formatTime(c.last_message_at))),
    h('div', { class: 'row' },
      h('span', { class: 'preview' }, pv?.direction === 'out' ? ticks(pv.status) : null, pv?.preview ?? ''),
      unread),
    h('div', { class: 'row tags' },
      h('span', { class: `chip status-${c.status}` }, t(`status.${c.status}`)),
      h('span', { class: `chip window ${c.window_open ? 'open' : 'closed'}` }, `24h ${c.window_open ? t('window.short_open') : t('window.short_closed')}`),
      h('span', { class: 'assignee' }, c.assignee_id === me ? t('assignee.you') : assignee),
      lock));
    return li;
  }

  keydown(e) {
    if (!['ArrowDown', 'ArrowUp', 'Home', 'End', 'Enter'].includes(e.key)) return;
    e.preventDefault();
    const ids = this.order.map((c) => c.id);
    if (!ids.length) return;
    let i = ids.indexOf(this.app.selected);
    if (e.key === 'ArrowDown') i = Math.min(ids.length - 1, i + 1);
    else if (e.key === 'ArrowUp') i = Math.max(0, i - 1);
    else if (e.key === 'Home') i = 0;
    else if (e.key === 'End') i = ids.length - 1;
    else if (e.key === 'Enter' && i >= 0) { this.app.focusComposer(); return; }
    if (i < 0) i = 0;
    this.app.open(ids[i], { keepFocus: true });
  }

  select(id) {
    for (const li of this.ul.querySelectorAll('.selected')) {
      li.classList.remove('selected');
      li.setAttribute('aria-selected', 'false');
    }
    const li = this.ul.querySelector(`#conv-${id}`);
    if (li) {
      li.classList.add('selected');
      li.setAttribute('aria-selected', 'true');
      this.ul.setAttribute('aria-activedescendant', li.id);
      li.scrollIntoView({ block: 'nearest' });
    }
  }

  clear() {
    this.convs.clear();
    this.nodes.clear();
    clear(this.ul);
  }
}
