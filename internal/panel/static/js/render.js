// Rendering of one message of a thread: its content by type (text, media, location, contacts,
// interactive answers, templates), and for ours the status ticks or the failure with a retry.

import { h } from './dom.js';
import { t, formatTime } from './i18n.js';

const RANK = { pending: 0, sent: 1, failed: 2, delivered: 3, read: 4 };

// nextStatus applies statuses forward only, as the server does (docs/realtime.md): an event
// replayed late never moves a message back. The one way back is a retry, failed to pending,
// which only the log's own order can tell (retry: an event or the retry's answer), never the
// late answer of the send that failed.
export function nextStatus(cur, next, retry = false) {
  if (!cur) return next;
  if (retry && cur === 'failed' && next === 'pending') return next;
  return (RANK[next] ?? -1) > (RANK[cur] ?? -1) ? next : cur;
}

const TICKS = { pending: '…', sent: '✓', delivered: '✓✓', read: '✓✓', failed: '!' };

export function ticks(status) {
  return h('span', { class: `ticks ticks-${status}`, 'aria-label': t(`msg.status.${status}`), title: t(`msg.status.${status}`), 'data-status': status }, TICKS[status] || '');
}

const MEDIA_TYPES = new Set(['image', 'video', 'audio', 'document', 'sticker']);

function parsePayload(m) {
  if (!m.payload) return {};
  if (typeof m.payload === 'object') return m.payload;
  try {
    return JSON.parse(m.payload);
  } catch {
    return {};
  }
}

// media renders a file of a message. Its bytes need the bearer token, which <img src> cannot
// carry, so it is fetched and shown from a blob: URL.
function media(m, api, kind) {
  const info = m.media;
  const box = h('div', { class: `media media-${kind}` });
  if (!info) {
    box.append(h('span', { class: 'media-absent' }, t('msg.media_absent')));
    return box;
  }
  if (info.status === 'pending') {
    box.append(h('span', { class: 'media-pending' }, t('msg.media_pending')));
    return box;
  }
  if (info.status === 'failed') {
    box.append(h('span', { class: 'media-failed' }, t('msg.media_failed'), info.error ? `: ${info.error}` : ''));
    return box;
  }
  const name = info.filename || `${kind}-${info.id}`;
  const link = h('a', { href: '#', class: 'media-download', download: name }, t('msg.download', { name }));
  box.append(link);
  fileURL(api, info)
    .then((url) => {
      link.href = url;
      if (kind === 'image' || kind === 'sticker') box.prepend(h('img', { src: url, alt: m.body || kind }));
      else if (kind === 'video') box.prepend(h('video', { src: url, controls: true }));
      else if (kind === 'audio') box.prepend(h('audio', { src: url, controls: true }));
    })
    .catch(() => box.replaceChildren(h('span', { class: 'media-failed' }, t('msg.media_failed'))));
  return box;
}

// blobs are the object URLs of stored files by id: a file's bytes never change, and a message
// redrawn (a status, an event) reuses its URL instead of downloading the file again.
const blobs = new Map();

function fileURL(api, info) {
  let p = blobs.get(info.id);
  if (!p) {
    p = api.request('GET', info.url || `/api/media/${info.id}`, undefined, { raw: true })
      .then((r) => r.blob())
      .then((b) => URL.createObjectURL(b));
    p.catch(() => blobs.delete(info.id));
    blobs.set(info.id, p);
  }
  return p;
}

function content(m, api) {
  const p = parsePayload(m);
  const parts = [];
  if (MEDIA_TYPES.has(m.type)) {
    parts.push(media(m, api, m.type));
    const caption = p[m.type]?.caption;
    if (caption) parts.push(h('p', { class: 'body' }, caption));
    return parts;
  }
  if (m.type === 'location' && p.location) {
    const { latitude, longitude, name, address } = p.location;
    parts.push(h('p', { class: 'body location' }, `${t('msg.location')}: ${name ? name + ', ' : ''}${address ? address + ', ' : ''}${latitude}, ${longitude}`));
    parts.push(h('a', { href: `https://www.openstreetmap.org/?mlat=${latitude}&mlon=${longitude}`, target: '_blank', rel: 'noopener noreferrer' }, 'OpenStreetMap'));
    return parts;
  }
  if (m.type === 'contacts' && Array.isArray(p.contacts)) {
    for (const c of p.contacts) {
      const phones = (c.phones || []).map((x) => x.phone).join(', ');
      parts.push(h('p', { class: 'body contact' }, `${t('msg.contacts')}: ${c.name?.formatted_name || ''} ${phones}`));
    }
    return parts;
  }
  if (m.direction === 'in' && (m.type === 'interactive' || m.type === 'button')) {
    parts.push(h('p', { class: 'body answered' }, t('msg.answered', { title: m.body })));
    return parts;
  }
  // Our interactive messages' bodies already name their buttons and rows.
  parts.push(h('p', { class: 'body' }, m.body));
  return parts;
}

// messageItem is the list item of message m. onRetry and onReply are the thread's.
export function messageItem(m, api, { onRetry, onReply, quoted }) {
  const out = m.direction === 'out';
  const who = out ? (m.sender === 'bot' ? t('msg.bot') : t('msg.agent')) : '';
  const meta = h('div', { class: 'meta' },
    who && h('span', { class: 'sender' }, who),
    h('time', { datetime: m.created_at }, formatTime(m.created_at)),
    out && ticks(m.status));
  const li = h('li', {
    class: `msg ${out ? 'out' : 'in'} status-${m.status}`,
    id: `m-${m.id}`,
    'data-id': m.id,
    'data-status': m.status,
    'aria-label': out ? t('msg.label_out') : t('msg.label_in'),
  });
  if (quoted) li.append(h('blockquote', { class: 'quote' }, quoted));
  li.append(...content(m, api), meta);
  if (m.status === 'failed') {
    const reason = [m.error?.title, m.error?.details, m.error?.code && `(${m.error.code})`].filter(Boolean).join(' — ') || t('msg.status.failed');
    li.append(h('div', { class: 'failure', role: 'alert' },
      h('span', { class: 'reason' }, t('msg.failed', { reason })),
      h('button', { type: 'button', class: 'retry', onclick: () => onRetry(m) }, t('msg.retry'))));
  }
  if (m.wa_message_id) {
    li.append(h('button', { type: 'button', class: 'reply-to link', onclick: () => onReply(m) }, t('msg.reply')));
  }
  return li;
}

export function noteItem(n, authorName) {
  return h('li', { class: 'note', id: `n-${n.id}`, 'aria-label': t('note.label') },
    h('div', { class: 'note-label' }, `${t('note.label')} · ${authorName}`),
    h('p', { class: 'body' }, n.body),
    h('div', { class: 'meta' }, h('time', { datetime: n.created_at }, formatTime(n.created_at))));
}

export function historyItem(e, actorName) {
  let text;
  if (e.action === 'status') {
    let status = '';
    try { status = (typeof e.details === 'string' ? JSON.parse(e.details) : e.details)?.status || ''; } catch { /* details are optional */ }
    text = t('history.status', { status: status ? t(`status.${status}`) : '' });
  } else text = t(`history.${e.action}`);
  return h('li', { class: 'history', id: `h-${e.id}` },
    h('span', null, `${text}${actorName ? ' · ' + actorName : ''} · `),
    h('time', { datetime: e.created_at }, formatTime(e.created_at)));
}
