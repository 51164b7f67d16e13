// Notifications of new customer messages: a count in the tab's title, a short sound (mutable,
// remembered) and a browser notification when the agent allowed them and is not looking at that
// conversation.

import { h } from './dom.js';
import { t } from './i18n.js';

const MUTE = 'wainbox.muted';

export class Notifier {
  constructor(app) {
    this.app = app;
    this.unseen = new Map(); // conversation id -> new messages since the agent looked
    this.muted = localStorage.getItem(MUTE) === '1';
  }

  controls() {
    const mute = h('button', { type: 'button', class: 'mute', 'aria-pressed': String(this.muted) }, this.muted ? t('notify.unmute') : t('notify.mute'));
    mute.addEventListener('click', () => {
      this.muted = !this.muted;
      localStorage.setItem(MUTE, this.muted ? '1' : '0');
      mute.textContent = this.muted ? t('notify.unmute') : t('notify.mute');
      mute.setAttribute('aria-pressed', String(this.muted));
    });
    const allow = 'Notification' in window && Notification.permission === 'default'
      ? h('button', { type: 'button', class: 'notify', onclick: (e) => { Notification.requestPermission(); e.target.remove(); } }, t('notify.enable'))
      : null;
    return [allow, mute];
  }

  incoming(convId, data) {
    const looking = this.app.thread?.id === convId && !document.hidden;
    if (looking) return;
    this.unseen.set(convId, (this.unseen.get(convId) || 0) + 1);
    this.title();
    if (!this.muted) this.beep();
    if ('Notification' in window && Notification.permission === 'granted') {
      const c = this.app.list.convs.get(convId);
      const n = new Notification(t('notify.new', { name: c?.contact?.profile_name || `#${convId}` }), { body: data.preview, tag: `conv-${convId}` });
      n.onclick = () => { window.focus(); this.app.open(convId); n.close(); };
    }
  }

  seen(convId) {
    this.unseen.delete(convId);
    this.title();
  }

  title() {
    let n = 0;
    for (const v of this.unseen.values()) n += v;
    document.title = n > 0 ? `(${n}) ${t('app.title')}` : t('app.title');
  }

  beep() {
    try {
      this.audio ??= new AudioContext();
      const o = this.audio.createOscillator();
      const g = this.audio.createGain();
      o.frequency.value = 880;
      g.gain.setValueAtTime(0.08, this.audio.currentTime);
      g.gain.exponentialRampToValueAtTime(0.0001, this.audio.currentTime + 0.25);
      o.connect(g).connect(this.audio.destination);
      o.start();
      o.stop(this.audio.currentTime + 0.25);
    } catch {
      // No audio (autoplay policy before any click): the title and notification still tell.
    }
  }
}
