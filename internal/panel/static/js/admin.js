// Users and teams, for admins and users with can_manage_users (#/admin). Every change is one API
// call; what the caller may grant is decided by the server, whose refusal is shown as it is.

import { h } from './dom.js';
import { t } from './i18n.js';

const ROLES = ['agent', 'supervisor', 'admin'];
const SCOPES = ['', 'all', 'group', 'assigned', 'none'];

export class Admin {
  constructor(app) {
    this.app = app;
    this.api = app.api;
    this.status = h('p', { class: 'admin-status', role: 'status' });
    this.usersBody = h('tbody');
    this.groupsList = h('ul', { class: 'groups' });
    this.el = h('section', { class: 'admin', 'aria-label': t('admin.title') },
      h('header', { class: 'admin-head' },
        h('h2', null, t('admin.title')),
        h('a', { href: '#', class: 'back-inbox' }, t('admin.back'))),
      this.status,
      h('h3', null, t('admin.users')),
      this.createForm(),
      h('div', { class: 'table-wrap' }, h('table', { class: 'users' },
        h('thead', null, h('tr', null,
          [t('admin.name'), t('admin.email'), t('admin.role'), t('admin.read'), t('admin.teams'), t('admin.state'), t('admin.actions')].map((x) => h('th', { scope: 'col' }, x)))),
        this.usersBody)),
      h('h3', null, t('admin.groups')),
      this.groupForm(),
      this.groupsList);
  }

  async load() {
    try {
      const [users, groups] = await Promise.all([this.api.get('/api/users'), this.api.get('/api/groups')]);
      this.groups = groups.data || [];
      this.usersBody.replaceChildren(...(users.data || []).map((u) => this.userRow(u)));
      this.groupsList.replaceChildren(...this.groups.map((g) => this.groupItem(g)));
    } catch (e) {
      this.say(e);
    }
  }

  say(e, ok) {
    this.status.textContent = e ? t('error.generic', { reason: e.message }) : ok || '';
    this.status.className = `admin-status ${e ? 'bad' : 'good'}`;
  }

  async patch(u, body) {
    try {
      await this.api.request('PATCH', `/api/users/${u.id}`, body);
      this.say(null, t('admin.saved'));
    } catch (e) {
      this.say(e);
    }
    this.load();
  }

  createForm() {
    const email = h('input', { type: 'email', required: true, 'aria-label': t('admin.email'), placeholder: t('admin.email') });
    const name = h('input', { type: 'text', 'aria-label': t('admin.name'), placeholder: t('admin.name') });
    const role = h('select', { 'aria-label': t('admin.role') }, ROLES.map((r) => h('option', { value: r }, r)));
    const password = h('input', { type: 'password', required: true, minlength: 10, autocomplete: 'new-password', 'aria-label': t('admin.password'), placeholder: t('admin.password') });
    const form = h('form', { class: 'create-user' }, email, name, role, password, h('button', { type: 'submit', class: 'primary' }, t('admin.create')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        await this.api.post('/api/users', { email: email.value.trim(), name: name.value.trim(), role: role.value, password: password.value });
        form.reset();
        this.say(null, t('admin.saved'));
        this.load();
      } catch (x) {
        this.say(x);
      }
    });
    return form;
  }

  userRow(u) {
    const role = h('select', { 'aria-label': t('admin.role_of', { name: u.email }) }, ROLES.map((r) => h('option', { value: r, selected: u.role === r }, r)));
    role.addEventListener('change', () => this.patch(u, { role: role.value }));
    const read = h('select', { 'aria-label': t('admin.read_of', { name: u.email }) }, SCOPES.map((s) => h('option', { value: s, selected: (u.overrides?.can_read_chats ?? '') === s }, s || t('admin.default'))));
    read.addEventListener('change', () => this.patch(u, { can_read_chats: read.value || null }));
    const teams = h('select', { multiple: true, size: Math.min(3, Math.max(1, this.groups.length)), 'aria-label': t('admin.teams_of', { name: u.email }) },
      this.groups.map((g) => h('option', { value: g.id, selected: (u.group_ids || []).includes(g.id) }, g.name)));
    teams.addEventListener('change', () => this.patch(u, { group_ids: [...teams.selectedOptions].map((o) => Number(o.value)) }));
    const self = u.id === this.app.me.id;
    return h('tr', { 'data-user': u.email },
      h('td', null, u.name), h('td', null, u.email), h('td', null, role), h('td', null, read), h('td', null, teams),
      h('td', null, u.disabled ? t('admin.disabled') : t(`avail.${u.availability || 'offline'}`)),
      h('td', { class: 'actions' },
        !self && h('button', { type: 'button', class: 'toggle-disabled', onclick: () => this.patch(u, { disabled: !u.disabled }) }, u.disabled ? t('admin.enable') : t('admin.disable')),
        !self && h('button', { type: 'button', class: 'reset-password', onclick: () => {
          const pw = prompt(t('admin.new_password', { name: u.email }));
          if (pw) this.patch(u, { password: pw });
        } }, t('admin.reset_password')),
        h('button', { type: 'button', class: 'revoke', onclick: async () => {
          try {
            await this.api.post(`/api/users/${u.id}/revoke-sessions`);
            this.say(null, t('admin.revoked'));
          } catch (e) {
            this.say(e);
          }
        } }, t('admin.revoke'))));
  }

  groupForm() {
    const name = h('input', { type: 'text', required: true, 'aria-label': t('admin.group_name'), placeholder: t('admin.group_name') });
    const auto = h('input', { type: 'checkbox' });
    const form = h('form', { class: 'create-group' }, name, h('label', { class: 'check' }, auto, t('admin.auto_assign')), h('button', { type: 'submit' }, t('admin.create')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        await this.api.post('/api/groups', { name: name.value.trim(), auto_assign: auto.checked });
        form.reset();
        this.load();
      } catch (x) {
        this.say(x);
      }
    });
    return form;
  }

  groupItem(g) {
    const auto = h('input', { type: 'checkbox', checked: g.auto_assign, 'aria-label': t('admin.auto_assign') });
    auto.addEventListener('change', () => this.api.request('PATCH', `/api/groups/${g.id}`, { auto_assign: auto.checked }).then(() => this.load(), (e) => this.say(e)));
    return h('li', null, h('strong', null, g.name), ' ', h('label', { class: 'check' }, auto, t('admin.auto_assign')), ' ',
      h('button', { type: 'button', class: 'link', onclick: () => {
        if (confirm(t('admin.delete_group', { name: g.name }))) this.api.request('DELETE', `/api/groups/${g.id}`).then(() => this.load(), (e) => this.say(e));
      } }, t('admin.delete')));
  }
}
