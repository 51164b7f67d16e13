// The simulator's phone: plays customers against the fake Meta. It posts their messages to
// /simulator/phone/messages and polls /simulator/phone/chats/{wa_id} for the chat they see.

const $ = (id) => document.getElementById(id);
const KEY = 'wainbox.simulator.customers';
let customers = JSON.parse(localStorage.getItem(KEY) || '[]');
let current = customers[0] || null;
let timer = 0;
let lastJSON = '';

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

function save() {
  localStorage.setItem(KEY, JSON.stringify(customers));
}

function showCustomers() {
  $('customers').replaceChildren(...customers.map((c) => el('button', {
    type: 'button', 'aria-current': String(c.wa_id === current?.wa_id),
    onclick: () => { current = c; $('wa-id').value = c.wa_id; $('name').value = c.name; showCustomers(); refresh(); },
  }, `${c.name} +${c.wa_id}`)));
}

function error(msg) {
  $('error').hidden = !msg;
  $('error').textContent = msg || '';
}

async function post(body) {
  if (!current) return error('Pick a number first.');
  const r = await fetch('/simulator/phone/messages', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ from: current.wa_id, name: current.name, ...body }),
  });
  const b = await r.json().catch(() => null);
  error(r.ok ? '' : (b?.error?.message || `HTTP ${r.status}`));
  refresh();
}

const TICKS = { delivered: '✓✓', read: '✓✓', failed: '⚠' };

function choices(m) {
  let it;
  try { it = typeof m.interactive === 'string' ? JSON.parse(m.interactive) : m.interactive; } catch { return null; }
  if (!it) return null;
  const buttons = (it.action?.buttons || []).map((b) => el('button', {
    type: 'button', class: 'choice',
    onclick: () => post({ type: 'interactive', button_id: b.reply.id, button_title: b.reply.title, reply_to: m.id }),
  }, b.reply.title));
  const rows = (it.action?.sections || []).flatMap((s) => s.rows.map((row) => el('button', {
    type: 'button', class: 'choice',
    onclick: () => post({ type: 'interactive', row_id: row.id, row_title: row.title, row_description: row.description || '', reply_to: m.id }),
  }, row.title)));
  return el('div', { class: 'choices' }, ...buttons, ...rows);
}

async function refresh() {
  clearTimeout(timer);
  timer = setTimeout(refresh, 700);
  if (!current) return;
  const r = await fetch(`/simulator/phone/chats/${encodeURIComponent(current.wa_id)}`).catch(() => null);
  if (!r || !r.ok) return;
  const chat = await r.json();
  const json = JSON.stringify(chat);
  if (json === lastJSON) return;
  lastJSON = json;
  const list = $('chat');
  const stick = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  list.replaceChildren(...chat.map((m) => el('li', { class: m.from, 'data-status': m.status || '' },
    m.text,
    m.from === 'business' && m.type === 'interactive' ? choices(m) : null,
    el('div', { class: 'meta' },
      new Date(m.at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }), ' ',
      m.status ? el('span', { class: `ticks-${m.status}`, 'aria-label': m.status }, TICKS[m.status] || '') : null))));
  if (stick) list.scrollTop = list.scrollHeight;
}

$('customer').addEventListener('submit', (e) => {
  e.preventDefault();
  const wa_id = $('wa-id').value.trim().replace(/^\+/, '');
  const name = $('name').value.trim();
  current = customers.find((c) => c.wa_id === wa_id);
  if (current) current.name = name;
  else customers.push(current = { wa_id, name });
  save();
  showCustomers();
  lastJSON = '';
  refresh();
});

$('compose').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('text').value.trim();
  if (!text) return;
  $('text').value = '';
  post({ text });
});

$('text').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey) {
    e.preventDefault();
    $('compose').requestSubmit();
  }
});

$('image').addEventListener('change', async () => {
  const f = $('image').files[0];
  $('image').value = '';
  if (!f) return;
  const bytes = new Uint8Array(await f.arrayBuffer());
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  post({ type: 'image', mime_type: f.type, data: btoa(bin), caption: $('text').value.trim() });
  $('text').value = '';
});

$('location').addEventListener('click', () => post({ type: 'location', latitude: -34.6037, longitude: -58.3816 }));

showCustomers();
refresh();
