// @ts-check
// ui/chat.js: the room view: header (name, countdown, owner and lock state,
// actions), the member list, the message list and the composer. It listens
// to a Room's events and calls its methods; it keeps only what is on screen,
// and this person's mutes and word filter, in memory. Peer text goes in as
// textContent, message bodies through ui/markdown.js.

import { el, byId, focus, announce, forget, formatCountdown, spokenDuration, vanishText, clock } from './dom.js';
import { renderMarkdown } from './markdown.js';
import { confirmDialog, ownerKeyDialog } from './dialog.js';
import { ModerationView } from './modview.js';
import { FileViews, icon } from './files.js';
import { VoiceRecorder, canRecord } from './voice.js';
import { MAX_FILE, formatSize, sanitizeName } from '../file.js';
import { quotable } from '../room.js';

/** What a queued direct message shows while its DM session is set up, and if it fails. */
const STATE_TEXT = Object.freeze({ pending: 'securing…', failed: 'not sent' });

/** Self-destruct choices in the composer, seconds (0 = off). */
const TTL_CHOICES = [[0, 'Off'], [10, '10 s'], [60, '1 min'], [300, '5 min'], [3600, '1 hour']];

/**
 * @typedef {import('../room.js').Room} Room
 * @typedef {import('../room.js').Member} Member
 * @typedef {import('../room.js').Message} Message
 */

export class ChatView {
  /**
   * @param {HTMLElement} main
   * @param {Room} room
   * @param {{onLogout: () => void, onPurge: (owner: string|null) => void, parseOwnerKey: (s: string) => Uint8Array|null}} o
   */
  constructor(main, room, o) {
    this.main = main;
    this.room = room;
    this.o = o;
    /** @type {{session: number, alias: string}|null} */
    this.dmTarget = null;
    /** @type {{id: string, alias: string, text: string}|null} */
    this.replyTo = null;
    this.notify = false;
    /** @type {ReturnType<typeof setInterval>|null} */
    this.ticker = null;
    /** @type {ReturnType<typeof setTimeout>|null} */
    this.alertTimer = null;
    this.narrow = window.matchMedia('(max-width: 47.99rem)');
    this.files = new FileViews({ onCancel: (id) => this.room.cancelTransfer(id) });
    /** files waiting to be sent, one after another */
    this.fileQueue = Promise.resolve();
    /** owner and lock state, reports, mutes and the word filter on screen */
    this.moderation = new ModerationView(this);
    this.build();
    this.renderMembers(Array.from(room.members.values()));
    this.listen();
    this.tick();
    this.ticker = setInterval(() => this.tick(), 1000);
  }

  build() {
    const room = this.room;
    const purge = room.canPurge()
      ? el('button', { type: 'button', id: 'purge', 'data-testid': 'purge', className: 'danger', text: 'Purge',
        on: { click: () => this.askPurge() } })
      : el('button', { type: 'button', id: 'purge-owner', 'data-testid': 'purge-owner', text: 'Purge with owner key…',
        on: { click: () => this.askOwnerPurge() } });
    const notifyButton = 'Notification' in window
      ? el('button', { type: 'button', id: 'notify-toggle', 'data-testid': 'notify-toggle', 'aria-pressed': 'false', text: 'Notifications',
        on: { click: () => this.toggleNotify() } })
      : null;

    this.purgeButton = purge;
    const mv = this.moderation;

    this.countdown = el('span', { id: 'countdown', 'data-testid': 'countdown', className: 'countdown-time', role: 'timer', 'aria-live': 'off' });
    this.countdownLabel = el('span', { className: 'sr-only', id: 'countdown-spoken' });
    this.connStatus = el('p', { id: 'conn-status', 'data-testid': 'conn-status', className: 'conn-status', role: 'status' });
    this.alert = el('p', { id: 'room-alert', 'data-testid': 'room-alert', className: 'room-alert', role: 'alert' });

    const header = el('header', { className: 'room-head' },
      el('div', { className: 'room-title' },
        el('h1', { id: 'room-name', 'data-testid': 'room-name', className: room.name ? undefined : 'unnamed', text: room.name || 'Unnamed room' }),
        mv.ownerBadge,
        el('p', { className: 'countdown', 'data-testid': 'countdown-box' },
          el('span', { className: 'countdown-label', text: 'Ends in ' }), this.countdown, this.countdownLabel)),
      el('div', { className: 'room-actions' }, notifyButton, mv.lockButton, purge, mv.roomMenu.root,
        el('button', { type: 'button', id: 'logout', 'data-testid': 'logout', text: 'Log out', on: { click: () => this.o.onLogout() } })),
      mv.lockStatus,
      this.connStatus);

    this.memberCount = el('span', { id: 'member-count', 'data-testid': 'member-count', text: '0' });
    this.memberToggle = el('button', { type: 'button', id: 'members-toggle', 'data-testid': 'members-toggle',
      'aria-expanded': this.narrow.matches ? 'false' : 'true', 'aria-controls': 'member-list',
      on: { click: () => this.setMembersOpen(this.memberToggle.getAttribute('aria-expanded') !== 'true') } },
    'Members (', this.memberCount, ')');
    this.memberList = el('ul', { id: 'member-list', 'data-testid': 'member-list' });
    this.aside = el('aside', { className: 'members', id: 'members', 'aria-labelledby': 'members-title' },
      el('h2', { id: 'members-title' }, this.memberToggle),
      this.memberList);
    this.setMembersOpen(!this.narrow.matches);

    this.list = el('ol', { id: 'messages', 'data-testid': 'messages', className: 'messages', tabindex: '0', 'aria-label': 'Messages' });

    this.input = el('textarea', { id: 'message-input', 'data-testid': 'message-input', rows: 2, maxlength: 16000,
      placeholder: 'Write a message', 'aria-describedby': 'composer-hint', autocomplete: 'off' });
    this.ttl = el('select', { id: 'ttl-select', 'data-testid': 'ttl-select' },
      ...TTL_CHOICES.map(([v, label]) => el('option', { value: String(v), text: String(label) })));
    this.replyBox = el('div', { id: 'reply-to', 'data-testid': 'reply-to', className: 'context reply-context', hidden: true });
    this.dmBox = el('div', { id: 'dm-to', 'data-testid': 'dm-to', className: 'context dm-context', hidden: true });
    this.composerError = el('p', { id: 'composer-error', 'data-testid': 'composer-error', className: 'error', role: 'alert' });
    this.sendButton = el('button', { type: 'submit', id: 'send', 'data-testid': 'send', className: 'primary', text: 'Send' });
    this.fileInput = el('input', { type: 'file', id: 'file-input', 'data-testid': 'file-input', multiple: true, hidden: true,
      tabindex: '-1', 'aria-hidden': 'true' });
    this.fileInput.addEventListener('change', () => {
      const list = Array.from(this.fileInput.files ?? []);
      this.fileInput.value = '';
      this.sendFiles(list);
    });
    this.attachButton = el('button', { type: 'button', id: 'attach', 'data-testid': 'attach', className: 'tool-button',
      'aria-label': 'Attach files (up to 100 MiB each)', on: { click: () => this.fileInput.click() } },
    icon('attach'), el('span', { className: 'tool-text', text: 'Attach' }));
    this.recorder = new VoiceRecorder({
      onDone: (blob) => this.sendFiles([blob], true),
      onError: (text) => { this.composerError.textContent = text; },
      onState: (recording) => {
        this.toolRow.hidden = recording;
        if (!recording) this.voiceButton?.focus();
      },
    });
    this.voiceButton = canRecord()
      ? el('button', { type: 'button', id: 'voice', 'data-testid': 'voice', className: 'tool-button',
        'aria-label': 'Record a voice note', on: { click: () => { this.composerError.textContent = ''; this.recorder.start(); } } },
      icon('mic'), el('span', { className: 'tool-text', text: 'Voice' }))
      : null;
    this.toolRow = el('div', { className: 'composer-row' },
      el('span', { className: 'tools' }, this.attachButton, this.voiceButton),
      el('span', { className: 'ttl-choice' }, el('label', { for: 'ttl-select', text: 'Self-destruct' }), this.ttl),
      el('p', { id: 'composer-hint', className: 'hint composer-hint', text: 'Enter sends · Shift+Enter for a new line · Markdown works · drop or paste files' }));
    const composer = el('form', { id: 'composer', 'data-testid': 'composer', className: 'composer', novalidate: true },
      this.dmBox, this.replyBox,
      el('label', { for: 'message-input', className: 'sr-only', text: 'Message' }),
      el('div', { className: 'composer-main' }, this.input, this.sendButton),
      this.toolRow, this.recorder.panel, this.fileInput,
      this.composerError);
    composer.addEventListener('submit', (ev) => { ev.preventDefault(); this.sendNow(); });
    this.input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.ctrlKey && !ev.altKey && !ev.metaKey && !ev.isComposing) {
        ev.preventDefault();
        this.sendNow();
      } else if (ev.key === 'Escape') {
        if (this.replyTo) this.setReply(null);
        else if (this.dmTarget) this.setDM(null);
      }
    });

    this.input.addEventListener('paste', (ev) => {
      const list = Array.from(ev.clipboardData?.files ?? []);
      if (list.length === 0) return;
      ev.preventDefault();
      this.sendFiles(list);
    });

    const chat = el('section', { className: 'chat', 'aria-labelledby': 'chat-title' },
      el('h2', { id: 'chat-title', className: 'sr-only', text: 'Conversation' }),
      this.list, composer);
    this.chat = chat;
    this.dropDepth = 0;
    /** @param {DragEvent} ev */
    const carriesFiles = (ev) => Array.from(ev.dataTransfer?.types ?? []).includes('Files');
    chat.addEventListener('dragenter', (ev) => {
      if (!carriesFiles(ev)) return;
      ev.preventDefault();
      this.dropDepth++;
      chat.classList.add('drop-target');
    });
    chat.addEventListener('dragover', (ev) => {
      if (!carriesFiles(ev)) return;
      ev.preventDefault();
      if (ev.dataTransfer) ev.dataTransfer.dropEffect = 'copy';
    });
    chat.addEventListener('dragleave', () => {
      this.dropDepth = Math.max(0, this.dropDepth - 1);
      if (this.dropDepth === 0) chat.classList.remove('drop-target');
    });
    chat.addEventListener('drop', (ev) => {
      if (!carriesFiles(ev)) return;
      ev.preventDefault();
      this.dropDepth = 0;
      chat.classList.remove('drop-target');
      this.sendFiles(Array.from(ev.dataTransfer?.files ?? []));
    });

    this.root = el('div', { className: 'room', id: 'room-view', 'data-testid': 'room-view' },
      header, this.alert, el('div', { className: 'room-body' }, this.aside, chat));
    this.main.replaceChildren(this.root);
    document.body.classList.add('in-room');
    document.title = 'Room · veil';
    focus(this.input);
  }

  listen() {
    /** @type {[string, (ev: any) => void][]} */
    this.handlers = [
      ['members', (ev) => this.renderMembers(ev.detail.members)],
      ['message', (ev) => this.addMessage(ev.detail.message)],
      ['remove', (ev) => this.removeMessage(ev.detail.id)],
      ['problem', (ev) => this.showAlert(ev.detail.text)],
      ['status', (ev) => this.showStatus(ev.detail.status)],
      ['welcome', () => this.tick()],
      ['dmsession', () => this.showDMSafety()],
      ['msgstate', (ev) => this.setMessageState(ev.detail.id, ev.detail.state)],
      ['transfer', (ev) => this.fileChanged(ev.detail.id, ev.detail.file)],
    ];
    for (const [t, h] of this.handlers) this.room.addEventListener(t, h);
    this.moderation.listen();
    this.onNarrow = () => this.setMembersOpen(!this.narrow.matches);
    this.narrow.addEventListener('change', this.onNarrow);
  }

  /** Stop timers and listeners, and take everything off the screen. */
  destroy() {
    if (this.ticker) clearInterval(this.ticker);
    if (this.alertTimer) clearTimeout(this.alertTimer);
    for (const [t, h] of this.handlers ?? []) this.room.removeEventListener(t, h);
    if (this.onNarrow) this.narrow.removeEventListener('change', this.onNarrow);
    this.moderation.destroy();
    this.recorder.destroy();
    this.files.dropAll();
    this.list.replaceChildren();
    this.memberList.replaceChildren();
    this.input.value = '';
    this.root.remove();
    document.body.classList.remove('in-room');
  }

  /** @param {boolean} open */
  setMembersOpen(open) {
    this.memberToggle.setAttribute('aria-expanded', open ? 'true' : 'false');
    this.aside.classList.toggle('collapsed', !open);
  }

  tick() {
    const left = this.room.remainingMs();
    this.countdown.textContent = formatCountdown(left);
    this.countdownLabel.textContent = ` (${spokenDuration(left)})`;
    this.countdown.classList.toggle('soon', left < 60000);
    const now = Date.now();
    for (const t of this.list.querySelectorAll('[data-expires]')) {
      t.textContent = vanishText(Number(t.getAttribute('data-expires')) - now);
    }
  }

  /** @param {string} status */
  showStatus(status) {
    this.connStatus.textContent = status === 'reconnecting' ? 'Connection lost, reconnecting…' : '';
    this.root.classList.toggle('offline', status === 'reconnecting');
  }

  /** @param {string} text */
  showAlert(text) {
    this.alert.textContent = text;
    if (this.alertTimer) clearTimeout(this.alertTimer);
    this.alertTimer = setTimeout(() => { this.alert.textContent = ''; }, 10000);
  }

  /** @param {Member[]} members */
  renderMembers(members) {
    // Keep focus where it was (a row's button) across the re-render.
    const active = document.activeElement;
    const row = active instanceof HTMLElement && this.memberList.contains(active) ? active.closest('li') : null;
    const keep = row ? { session: row.getAttribute('data-session'), testid: active?.getAttribute('data-testid') } : null;
    const open = this.memberList.querySelector('[data-testid=member-menu-toggle][aria-expanded=true]')?.closest('li');
    this.moderation.openMember = Number(open?.getAttribute('data-session') ?? 0);
    this.memberCount.textContent = String(members.length);
    this.memberList.replaceChildren(...members.map((m) => this.memberItem(m)));
    if (keep) {
      const li = Array.from(this.memberList.children).find((l) => l.getAttribute('data-session') === keep.session);
      /** @type {HTMLElement|null|undefined} */
      const target = li?.querySelector(`[data-testid="${keep.testid}"]`) ?? li?.querySelector('[data-testid=member-menu-toggle]');
      target?.focus();
    }
    if (this.dmTarget) {
      const still = members.find((m) => m.session === this.dmTarget?.session);
      if (!still) {
        this.showAlert(`${this.dmTarget.alias} left: the direct message was cancelled.`);
        this.setDM(null);
      } else {
        this.showDMSafety();
      }
    }
  }

  /**
   * One row of the member list: alias (and a verified badge), key
   * fingerprint, the member safety code, and the Verify and DM buttons.
   * @param {Member} m
   */
  memberItem(m) {
    const classes = ['member', 'menu-wrap'];
    if (m.self) classes.push('self');
    if (m.verified) classes.push('verified');
    const dmCode = m.self ? '' : this.room.dmSafety(m.session);
    const muted = !m.self && this.room.mod.muted.has(m.session);
    if (muted) classes.push('muted');
    const menu = m.self ? null : this.moderation.memberMenu(m, muted);
    return el('li', {
      className: classes.join(' '), 'data-testid': 'member', 'data-session': String(m.session),
      'data-self': m.self ? 'true' : 'false', 'data-verified': m.verified ? 'true' : 'false',
      'data-muted': muted ? 'true' : 'false',
    },
    el('span', { className: 'member-name' },
      el('span', { className: 'alias', 'data-testid': 'member-alias', text: m.display }),
      m.self && el('span', { className: 'you', text: ' (you)' }),
      m.verified && el('span', { className: 'badge verified-badge', 'data-testid': 'verified-badge', text: 'verified' }),
      muted && el('span', { className: 'badge muted-badge', 'data-testid': 'muted-badge', text: 'muted' })),
    el('span', { className: 'fp', 'data-testid': 'fingerprint' },
      el('span', { className: 'sr-only', text: 'key fingerprint ' }), m.fingerprint),
    !m.self && el('span', { className: 'code-line member-safety' },
      el('span', { className: 'code-label', text: 'safety code ' }),
      el('span', { className: 'code', 'data-testid': 'member-safety', text: m.safety })),
    dmCode && el('span', { className: 'code-line member-dm-safety' },
      el('span', { className: 'code-label', text: 'DM safety code ' }),
      el('span', { className: 'code', 'data-testid': 'member-dm-safety', text: dmCode })),
    !m.self && el('span', { className: 'member-actions' },
      !m.verified && el('button', { type: 'button', className: 'verify-button small-button', 'data-testid': 'verify-button',
        'aria-label': `Verify ${m.display}: compare the safety code`, text: 'Verify',
        on: { click: () => this.askVerify(m) } }),
      el('button', { type: 'button', className: 'dm-button', 'data-testid': 'dm-button',
        'aria-label': `DM: direct message to ${m.display}`, text: 'DM',
        on: { click: () => this.setDM({ session: m.session, alias: m.display }) } }),
      menu?.button),
    menu?.panel);
  }

  /**
   * Ask whether the safety code matched before marking m verified.
   * @param {Member} m
   */
  async askVerify(m) {
    const ok = await confirmDialog({
      id: 'verify-dialog',
      title: `Verify ${m.display}?`,
      text: `Compare this safety code with ${m.display} through another channel (in person or on a call): `
        + `${m.safety}. Mark them verified only if they see the same code. `
        + 'The mark lasts for this session only; nothing is stored.',
      confirm: 'The codes match',
    });
    if (ok) this.room.verify(m.session);
  }

  /**
   * Run fn (which may change the list's height) and keep the list scrolled
   * to the bottom if it was there.
   * @param {() => void} fn
   */
  keepBottom(fn) {
    const atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 120;
    fn();
    if (atBottom) this.list.scrollTop = this.list.scrollHeight;
  }

  /** @param {{session: number, alias: string}|null} target */
  setDM(target) {
    this.keepBottom(() => this.showDM(target));
    this.input.focus();
  }

  /** @param {{session: number, alias: string}|null} target */
  showDM(target) {
    this.dmTarget = target;
    if (!target) {
      this.dmBox.hidden = true;
      this.dmBox.replaceChildren();
      this.root.classList.remove('dm-mode');
      return;
    }
    this.dmSafety = el('span', { className: 'dm-safety', 'data-testid': 'dm-safety-line' });
    this.dmBox.replaceChildren(
      el('span', { className: 'context-text dm-text' },
        el('span', { className: 'dm-line' }, 'Direct message to ', el('strong', { 'data-testid': 'dm-target', text: target.alias }),
          ': only they can read it.'),
        this.dmSafety),
      el('button', { type: 'button', id: 'dm-cancel', 'data-testid': 'dm-cancel', className: 'small-button', text: 'Cancel',
        'aria-label': 'Cancel direct message', on: { click: () => { this.setDM(null); this.input.focus(); } } }));
    this.showDMSafety();
    this.dmBox.hidden = false;
    this.root.classList.add('dm-mode');
    if (this.narrow.matches) this.setMembersOpen(false);
  }

  /** Show the DM safety code of the current DM target (or that there is none yet). */
  showDMSafety() {
    if (!this.dmTarget || !this.dmSafety) return;
    const code = this.room.dmSafety(this.dmTarget.session);
    if (code) {
      this.dmSafety.replaceChildren('safety code ', el('span', { className: 'code', 'data-testid': 'dm-safety', text: code }));
    } else {
      this.dmSafety.replaceChildren('safety code: set up with your first message');
    }
  }

  /** @param {{id: string, alias: string, text: string}|null} r */
  setReply(r) {
    this.keepBottom(() => this.showReply(r));
    if (r) this.input.focus();
  }

  /** @param {{id: string, alias: string, text: string}|null} r */
  showReply(r) {
    this.replyTo = r;
    if (!r) {
      this.replyBox.hidden = true;
      this.replyBox.replaceChildren();
      return;
    }
    this.replyBox.replaceChildren(
      el('span', { className: 'context-text' }, 'Replying to ', el('strong', { text: r.alias }), ': ',
        el('span', { className: 'reply-excerpt', 'data-testid': 'reply-excerpt', text: r.text })),
      el('button', { type: 'button', id: 'reply-cancel', 'data-testid': 'reply-cancel', className: 'small-button', text: 'Cancel',
        'aria-label': 'Cancel reply', on: { click: () => { this.setReply(null); this.input.focus(); } } }));
    this.replyBox.hidden = false;
  }

  async sendNow() {
    const body = this.input.value;
    if (body.trim() === '') return;
    this.composerError.textContent = '';
    try {
      await this.room.send(body, {
        ttl: Number(this.ttl.value) || undefined,
        reply: this.replyTo?.id ?? null,
        to: this.dmTarget?.session ?? null,
      });
    } catch (err) {
      this.composerError.textContent = err instanceof Error ? err.message : String(err);
      return;
    }
    this.input.value = '';
    this.setReply(null);
  }

  /** @param {Message & {what?: string}} m */
  addMessage(m) {
    const nearBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 120;
    const li = m.kind === 'system' ? this.systemItem(m) : this.messageItem(m);
    this.list.append(li);
    if (nearBottom || m.from?.self) this.list.scrollTop = this.list.scrollHeight;
    if (m.kind === 'system') {
      if (m.what !== 'info') announce(m.body);
      return;
    }
    if (m.from?.self) return;
    const { muted, filtered } = this.moderation.hiddenBy(li);
    if (muted || filtered) {
      this.moderation.refreshHidden();
      // A muted member's message says nothing; a filtered one says only that it came.
      if (!muted) announce(`${m.from?.alias}: a message ${this.moderation.filter.mode === 'blur' ? 'blurred' : 'hidden'} by your word filter`, m.id);
      return;
    }
    let body = li.querySelector('.msg-body')?.textContent ?? '';
    if (m.file) body = `${m.file.voice ? 'a voice note' : `a file, ${m.file.name} (${formatSize(m.file.size)})`}${body ? `: ${body}` : ''}`;
    const short = body.length > 200 ? `${body.slice(0, 200)}…` : body;
    announce(m.kind === 'dm' ? `Direct message from ${m.from?.alias}: ${short}` : `${m.from?.alias}: ${short}`, m.id);
    if (this.notify && document.hidden && Notification.permission === 'granted') {
      try {
        // Says only that something arrived: never who, never what.
        new Notification('New message in veil', { tag: 'veil' });
      } catch {
        // some platforms allow notifications only from a service worker
      }
    }
  }

  /** @param {Message & {what?: string}} m */
  systemItem(m) {
    return el('li', { className: `sys sys-${m.what ?? 'info'}`, 'data-testid': 'notice', 'data-kind': 'system', 'data-id': m.id },
      el('span', { className: 'sys-text', text: m.body }), ' ',
      el('time', { className: 'msg-time', datetime: m.at.toISOString(), text: clock(m.at) }));
  }

  /** @param {Message} m */
  messageItem(m) {
    const from = m.from ?? { alias: '?', self: false, session: 0, fingerprint: '' };
    const classes = ['msg'];
    if (from.self) classes.push('own');
    if (m.kind === 'dm') classes.push('dm');
    const body = el('div', { className: 'msg-body md', 'data-testid': 'message-body' });
    if (m.body !== '' || !m.file) body.append(renderMarkdown(m.body));
    else body.hidden = true;
    const file = m.file ? this.files.render(m.id, m.file, from.alias) : null;
    const dmTag = m.kind === 'dm'
      ? el('span', { className: 'dm-tag', 'data-testid': 'dm-tag',
        text: from.self ? `direct message to ${m.to?.alias ?? '?'}` : 'direct message to you' })
      : null;
    const state = m.state
      ? el('span', { className: `msg-state state-${m.state}`, 'data-testid': 'msg-state', text: STATE_TEXT[m.state] })
      : null;
    const timer = m.expiresAt
      ? el('span', { className: 'ttl-timer', 'data-testid': 'ttl-timer', 'data-expires': String(m.expiresAt),
        text: vanishText(m.expiresAt - Date.now()) })
      : null;
    const quote = m.reply
      ? el('blockquote', { className: 'msg-quote', 'data-testid': 'reply-quote', 'data-reply-id': m.reply.id },
        el('span', { className: 'quote-alias', text: m.reply.alias }),
        el('span', { className: 'quote-text', text: m.reply.text || 'a self-destructing message' }))
      : null;
    const reply = el('button', { type: 'button', className: 'reply-button small-button', 'data-testid': 'reply-button',
      'aria-label': `Reply to ${from.alias}`, text: 'Reply',
      on: { click: () => {
        const text = Array.from(quotable(m)).slice(0, 140).join('');
        this.setReply({ id: m.id, alias: from.alias, text });
        if (m.kind === 'dm' && m.peer) this.setDM({ session: m.peer.session, alias: m.peer.alias });
      } } });
    const report = !from.self && this.room.mod.reportable(m.id) ? this.moderation.reportButton(m) : null;
    return el('li', {
      className: classes.join(' '), 'data-testid': 'message', 'data-kind': m.kind, 'data-id': m.id,
      'data-self': from.self ? 'true' : 'false', 'data-from': String(from.session),
    },
    el('div', { className: 'msg-meta' },
      el('span', { className: 'msg-alias', 'data-testid': 'message-alias', text: from.alias }),
      from.self && el('span', { className: 'you', text: ' (you)' }),
      dmTag, ' ',
      el('time', { className: 'msg-time', datetime: m.at.toISOString(), text: clock(m.at) }),
      state, timer, el('span', { className: 'msg-actions' }, report, reply)),
    quote, file, body);
  }

  /**
   * Send files one after another (to the DM target, if one is chosen),
   * refusing any over the size limit with a message.
   * @param {Blob[]} list Files, or a recorded voice note
   * @param {boolean} [voice]
   */
  sendFiles(list, voice = false) {
    const to = this.dmTarget?.session ?? null;
    const ttl = Number(this.ttl.value) || undefined;
    for (const blob of list) {
      const name = voice ? `voice note ${new Date().toISOString().slice(0, 19).replace('T', ' ').replaceAll(':', '-')}.${extension(blob.type)}`
        : sanitizeName(/** @type {File} */ (blob).name ?? 'file');
      if (blob.size > MAX_FILE) {
        this.composerError.textContent = `"${name}" is ${formatSize(blob.size)}: files over ${formatSize(MAX_FILE)} cannot be sent.`;
        continue;
      }
      this.composerError.textContent = '';
      this.fileQueue = this.fileQueue.then(() => this.room.sendFile(blob, { name, type: blob.type, voice, to, ttl }))
        .then(() => {}, (err) => {
          this.composerError.textContent = err instanceof Error ? err.message : String(err);
        });
    }
  }

  /**
   * A file's progress or outcome changed.
   * @param {string} id
   * @param {import('../transfers.js').FileState} file
   */
  fileChanged(id, file) {
    const atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 120;
    const box = this.files.update(id, file);
    if (atBottom) {
      this.list.scrollTop = this.list.scrollHeight;
      // A picture or player takes its height once it loads.
      for (const m of box?.querySelectorAll('img, audio, video') ?? []) {
        const down = () => { this.list.scrollTop = this.list.scrollHeight; };
        m.addEventListener(m.tagName === 'IMG' ? 'load' : 'loadedmetadata', down, { once: true });
      }
    }
    if (file.dir === 'in' && (file.state === 'done' || file.state === 'failed')) {
      const what = file.voice ? 'Voice note' : `File ${file.name}`;
      announce(file.state === 'done' ? `${what} received.` : `${what}: file failed: ${file.error}`, id);
    }
    if (file.dir === 'out' && file.state === 'failed') announce(`Sending ${file.name}: file failed: ${file.error}`, id);
  }

  /**
   * A queued direct message went out ('sent') or could not ('failed').
   * @param {string} id
   * @param {'sent'|'failed'} state
   */
  setMessageState(id, state) {
    for (const li of this.list.querySelectorAll('li[data-id]')) {
      if (li.getAttribute('data-id') !== id) continue;
      const tag = li.querySelector('[data-testid=msg-state]');
      if (state === 'sent') {
        tag?.remove();
      } else if (tag) {
        tag.textContent = STATE_TEXT.failed;
        tag.className = 'msg-state state-failed';
      }
    }
  }

  /** @param {string} id */
  removeMessage(id) {
    forget(id);
    this.files.drop(id);
    for (const li of this.list.querySelectorAll('li[data-id]')) {
      if (li.getAttribute('data-id') === id) {
        if (li.contains(document.activeElement)) this.input.focus();
        li.remove();
      }
    }
    this.moderation.refreshHidden();
    // Quotes of a vanished message vanish with it.
    for (const q of this.list.querySelectorAll('blockquote[data-reply-id]')) {
      if (q.getAttribute('data-reply-id') === id) {
        q.replaceChildren(el('span', { className: 'quote-gone', text: 'a message that vanished' }));
      }
    }
    if (this.replyTo?.id === id) this.setReply(null);
  }

  async toggleNotify() {
    const b = byId('notify-toggle');
    if (this.notify) {
      this.notify = false;
      b.setAttribute('aria-pressed', 'false');
      return;
    }
    let p = Notification.permission;
    if (p === 'default') p = await Notification.requestPermission();
    if (p !== 'granted') {
      this.showAlert('Notifications are blocked by the browser for this page.');
      return;
    }
    this.notify = true;
    b.setAttribute('aria-pressed', 'true');
    this.showAlert('You will be notified of new messages while this tab is hidden (the notification shows no content).');
  }

  async askPurge() {
    const ok = await confirmDialog({
      id: 'purge-dialog',
      title: 'Purge this room for everyone?',
      text: 'Every member\'s screen is wiped, everyone is disconnected and the link stops working. This cannot be undone.',
      confirm: 'Purge for everyone',
      danger: true,
    });
    if (ok) this.o.onPurge(null);
  }

  async askOwnerPurge() {
    const key = await ownerKeyDialog((s) => (this.o.parseOwnerKey(s) ? null : 'That is not an owner key: it should be 43 characters of letters, digits, - and _.'));
    if (key) this.o.onPurge(key);
  }
}

/**
 * The file extension of a recorded voice note's type.
 * @param {string} type
 */
function extension(type) {
  if (type.startsWith('audio/ogg')) return 'ogg';
  if (type.startsWith('audio/mp4')) return 'm4a';
  return 'webm';
}
