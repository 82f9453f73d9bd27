// @ts-check
// ui/modview.js: moderation on the room view (docs/protocol.md section 9):
// the owner badge, the lock indicator and toggle, the room's "More" menu
// (word filter, become owner), each member's menu (mute, remove), the
// Report button and state of received messages, the report cards an owner
// gets, and hiding what this person muted or filtered. The mutes and the
// word filter are this person's own, in memory only. It also tells the room
// when the person is active (a key, a click, a touch), for ACTIVE.

import { el, announce, forget, vanishText, clock } from './dom.js';
import { ownerKeyDialog } from './dialog.js';
import { reportDialog, kickDialog, filterDialog, reportCard, disclosure, closeMenus } from './moderation.js';
import { WordFilter, parseList } from '../wordfilter.js';
import { quotable } from '../room.js';

/**
 * @typedef {import('../room.js').Room} Room
 * @typedef {import('../room.js').Member} Member
 * @typedef {import('../room.js').Message} Message
 */

/**
 * What the word filter reads of a message: its text, the words it quotes
 * and its file's name.
 * @param {Message} m
 */
function filterText(m) {
  return [m.body, m.reply?.text ?? '', m.file?.name ?? ''].join('\n');
}

/**
 * What ModerationView uses of the room view (chat.js's ChatView).
 * @typedef {object} ChatHost
 * @property {Room} room
 * @property {HTMLOListElement} list          the message list
 * @property {HTMLTextAreaElement} input      the composer
 * @property {HTMLElement} root
 * @property {HTMLButtonElement} purgeButton
 * @property {{parseOwnerKey: (s: string) => Uint8Array|null}} o
 * @property {(text: string) => void} showAlert
 * @property {(fn: () => void) => void} keepBottom
 * @property {() => Promise<void>} askPurge
 */

export class ModerationView {
  /** @param {ChatHost} chat */
  constructor(chat) {
    this.chat = chat;
    this.room = chat.room;
    /** this person's word filter: off until they write a list; memory only */
    this.filter = new WordFilter();
    /** the member whose menu was open at the last render (0: none), so it stays open */
    this.openMember = 0;
    /** @type {Map<string, ReturnType<typeof setTimeout>>} report cards that vanish with their message */
    this.reportTimers = new Map();

    this.ownerBadge = el('span', { id: 'owner-badge', 'data-testid': 'owner-badge', className: 'badge owner-badge', hidden: true,
      text: 'You are the owner' });
    this.lockStatus = el('p', { id: 'lock-status', 'data-testid': 'lock-status', className: 'lock-status', role: 'status' });
    this.lockButton = el('button', { type: 'button', id: 'lock-toggle', 'data-testid': 'lock-toggle', hidden: true, text: 'Lock room',
      on: { click: () => this.room.mod.setLocked(!this.room.mod.locked) } });
    this.claimButton = el('button', { type: 'button', id: 'owner-claim', 'data-testid': 'owner-claim', className: 'menu-item',
      text: 'Become owner…', on: { click: () => this.askClaim() } });
    this.roomMenu = disclosure({ id: 'room-menu', label: 'More', ariaLabel: 'More room actions' },
      el('button', { type: 'button', id: 'filter-open', 'data-testid': 'filter-open', className: 'menu-item', text: 'Word filter…',
        on: { click: () => this.openFilter() } }),
      this.claimButton);
  }

  /** Listen to the room's moderation events and to the person's activity. */
  listen() {
    /** @type {[string, (ev: any) => void][]} */
    this.handlers = [
      ['state', () => this.showState()],
      ['report', (ev) => this.addReport(ev.detail.report)],
      ['reportstate', (ev) => this.setReportState(ev.detail.id, ev.detail.state)],
      ['reportable', (ev) => this.dropReportButton(ev.detail.id)],
      ['mute', () => this.refreshHidden()],
      ['members', () => this.cardsMembersChanged()],
    ];
    for (const [t, h] of this.handlers) this.room.addEventListener(t, h);
    // ACTIVE (docs/protocol.md 6): a key, a click or a touch shows the
    // person is here; moving the mouse alone does not.
    this.onActivity = () => this.room.mod.active();
    /** @param {Event} ev */
    this.onOutside = (ev) => closeMenus(ev.target);
    for (const t of ['keydown', 'pointerdown', 'touchstart']) {
      document.addEventListener(t, this.onActivity, { capture: true, passive: true });
    }
    document.addEventListener('pointerdown', this.onOutside, true);
    document.addEventListener('focusin', this.onOutside, true);
    this.showState();
  }

  /** Stop listening and forget the mutes' view, the filter and the cards' timers. */
  destroy() {
    for (const [t, h] of this.handlers ?? []) this.room.removeEventListener(t, h);
    for (const t of ['keydown', 'pointerdown', 'touchstart']) {
      if (this.onActivity) document.removeEventListener(t, this.onActivity, { capture: true });
    }
    if (this.onOutside) {
      document.removeEventListener('pointerdown', this.onOutside, true);
      document.removeEventListener('focusin', this.onOutside, true);
    }
    for (const t of this.reportTimers.values()) clearTimeout(t);
    this.reportTimers.clear();
    this.filter.clear();
  }

  /**
   * The menu of one member's row: mute or unmute (for this person only),
   * and for an owner, remove from the room.
   * @param {Member} m
   * @param {boolean} muted
   */
  memberMenu(m, muted) {
    const menu = disclosure({
      id: `member-menu-${m.session}`, testid: 'member-menu', label: '⋯', ariaLabel: `More for ${m.display}`,
      className: 'member-menu-button',
    },
    el('button', { type: 'button', className: 'menu-item', 'data-testid': muted ? 'unmute-button' : 'mute-button',
      text: muted ? `Unmute ${m.display}` : `Mute ${m.display}`,
      on: { click: () => this.room.mod.setMuted(m.session, !muted) } }),
    el('p', { className: 'menu-hint', text: muted ? 'Their messages show again.' : 'Hides their messages and files on your screen only. Nobody is told.' }),
    this.room.mod.isOwner && el('button', { type: 'button', className: 'menu-item danger-item', 'data-testid': 'kick-button',
      text: `Remove ${m.display} from the room…`, on: { click: () => this.askKick(m.session, m.display) } }));
    if (this.openMember === m.session) menu.setOpen(true);
    return menu;
  }

  /**
   * The Report button of a received message.
   * @param {Message} m
   */
  reportButton(m) {
    const alias = m.from?.alias ?? '?';
    return el('button', { type: 'button', className: 'report-button small-button', 'data-testid': 'report-button',
      'aria-label': `Report this message from ${alias} to the owner`, text: 'Report',
      on: { click: () => this.askReport(m) } });
  }

  /**
   * The li of message id, if it is on screen.
   * @param {string} id
   * @returns {HTMLElement|undefined}
   */
  messageLi(id) {
    return /** @type {HTMLElement[]} */ (Array.from(this.chat.list.querySelectorAll('li[data-testid=message]')))
      .find((li) => li.getAttribute('data-id') === id);
  }

  /**
   * Ask for a note, then report message m to the owner.
   * @param {Message} m
   */
  async askReport(m) {
    const alias = m.from?.alias ?? '?';
    const excerpt = Array.from(quotable(m)).slice(0, 140).join('') + (Array.from(quotable(m)).length > 140 ? '…' : '');
    const note = await reportDialog({ alias, excerpt });
    if (note === null) return;
    try {
      await this.room.mod.report(m.id, note);
    } catch (err) {
      this.chat.showAlert(err instanceof Error ? err.message : String(err));
    }
  }

  /**
   * Our report of message id went out ('sent'), or no owner was there
   * ('failed', ERROR 4014).
   * @param {string} id
   * @param {'sent'|'failed'} state
   */
  setReportState(id, state) {
    const li = this.messageLi(id);
    if (!li) return;
    li.querySelector('[data-testid=report-state]')?.remove();
    const button = li.querySelector('[data-testid=report-button]');
    const meta = li.querySelector('.msg-actions');
    const tag = el('span', { className: `msg-state report-state state-${state}`, 'data-testid': 'report-state',
      text: state === 'sent' ? 'Reported' : 'Report not sent: no owner here' });
    if (state === 'sent') {
      if (button?.contains(document.activeElement)) this.chat.input.focus();
      button?.remove();
      announce('Reported to the owner.');
    }
    const reply = meta?.querySelector('[data-testid=reply-button]') ?? null;
    const m = this.room.messages.get(id);
    if (state === 'failed' && !button && m && this.room.mod.reportable(id)) meta?.insertBefore(this.reportButton(m), reply);
    meta?.insertBefore(tag, meta.querySelector('[data-testid=report-button]') ?? reply);
  }

  /**
   * Message id can no longer be reported.
   * @param {string} id
   */
  dropReportButton(id) {
    this.messageLi(id)?.querySelector('[data-testid=report-button]')?.remove();
  }

  /**
   * Confirm, then remove a member (owner only).
   * @param {number} session
   * @param {string} alias
   */
  async askKick(session, alias) {
    if (await kickDialog(alias)) this.room.mod.kick(session);
  }

  /** Ask for the owner key and prove it to the relay. */
  async askClaim() {
    const key = await ownerKeyDialog(
      (s) => (this.chat.o.parseOwnerKey(s) ? null : 'That is not an owner key: it should be 43 characters of letters, digits, - and _.'),
      {
        id: 'owner-claim', title: 'Become the owner', submit: 'Become owner', danger: false,
        hint: 'Paste the owner key shown when the room was created. It stays in this tab\'s memory only: it is never stored, '
          + 'and it is gone when you leave.',
      });
    if (!key) return;
    const bytes = this.chat.o.parseOwnerKey(key);
    if (!bytes) return;
    if (!this.room.mod.claim(bytes)) this.chat.showAlert('Not connected: try again once the connection is back.');
    bytes.fill(0);
  }

  /** What the relay's STATE says: whether we own the room, whether it is locked. */
  showState() {
    const { isOwner, locked } = this.room.mod;
    this.ownerBadge.hidden = !isOwner;
    this.lockButton.hidden = !isOwner;
    this.lockButton.textContent = locked ? 'Unlock room' : 'Lock room';
    this.claimButton.hidden = isOwner;
    this.lockStatus.textContent = locked ? 'Room locked: nobody new can join' : '';
    this.chat.root.classList.toggle('locked', locked);
    if (isOwner) {
      for (const b of this.chat.list.querySelectorAll('[data-testid=report-button]')) b.remove();
      if (!(this.chat.purgeButton.id === 'purge') && this.room.canPurge()) {
        const purge = el('button', { type: 'button', id: 'purge', 'data-testid': 'purge', className: 'danger', text: 'Purge',
          on: { click: () => this.chat.askPurge() } });
        const hadFocus = this.chat.purgeButton === document.activeElement;
        this.chat.purgeButton.replaceWith(purge);
        this.chat.purgeButton = purge;
        if (hadFocus) purge.focus();
      }
    }
  }

  /**
   * A checked report, shown to us, an owner.
   * @param {import('../moderation.js').ReportCard} r
   */
  addReport(r) {
    const nearBottom = this.chat.list.scrollHeight - this.chat.list.scrollTop - this.chat.list.clientHeight < 120;
    const expiresAt = r.ttl ? Date.now() + r.ttl * 1000 : 0;
    const timer = expiresAt
      ? el('span', { className: 'ttl-timer', 'data-expires': String(expiresAt), text: vanishText(expiresAt - Date.now()) })
      : null;
    const li = reportCard(r, {
      clock, timer,
      onRemove: async () => {
        if (await kickDialog(r.sender.alias)) this.room.mod.kick(r.sender.session);
      },
      onDismiss: () => this.dropReport(r.id, true),
    });
    this.chat.list.append(li);
    if (nearBottom) this.chat.list.scrollTop = this.chat.list.scrollHeight;
    // A report of a self-destructing message vanishes with it.
    if (r.ttl) this.reportTimers.set(r.id, setTimeout(() => this.dropReport(r.id, false), r.ttl * 1000));
    announce(`Report from ${r.reporter.alias} about a message from ${r.sender.alias}.`, r.id);
  }

  /** A reported sender who left (or was removed) can no longer be removed: its cards say so. */
  cardsMembersChanged() {
    for (const li of this.chat.list.querySelectorAll('li[data-testid=report-card]')) {
      if (this.room.members.has(Number(li.getAttribute('data-sender')))) continue;
      const kick = li.querySelector('[data-testid=report-kick]');
      if (!kick) continue;
      if (kick === document.activeElement) /** @type {HTMLElement|null} */ (li.querySelector('[data-testid=report-dismiss]'))?.focus();
      kick.replaceWith(el('span', { className: 'report-gone', 'data-testid': 'report-gone', text: 'They are no longer in the room.' }));
    }
  }

  /**
   * @param {string} id
   * @param {boolean} dismissed by the person (focus moves on)
   */
  dropReport(id, dismissed) {
    const t = this.reportTimers.get(id);
    if (t) clearTimeout(t);
    this.reportTimers.delete(id);
    forget(id);
    for (const li of this.chat.list.querySelectorAll('li[data-testid=report-card]')) {
      if (li.getAttribute('data-id') !== id) continue;
      if (dismissed || li.contains(document.activeElement)) this.chat.input.focus();
      li.remove();
    }
  }

  /** The word filter's settings. */
  async openFilter() {
    const got = await filterDialog(this.filter);
    if (!got) return;
    this.filter.set(parseList(got.text), got.mode);
    for (const li of this.chat.list.querySelectorAll('li[data-revealed]')) li.removeAttribute('data-revealed');
    this.refreshHidden();
    const n = this.filter.entries.length;
    this.chat.showAlert(n === 0 ? 'Word filter off.'
      : `Word filter on: ${n} ${n === 1 ? 'entry' : 'entries'}, matching messages are ${this.filter.mode === 'blur' ? 'blurred' : 'hidden'}.`);
  }

  /**
   * Whether message li is from a muted member, and whether the word filter
   * matches it (never for our own messages).
   * @param {HTMLElement} li
   * @returns {{muted: boolean, filtered: boolean}}
   */
  hiddenBy(li) {
    if (li.getAttribute('data-self') === 'true') return { muted: false, filtered: false };
    const muted = this.room.mod.muted.has(Number(li.getAttribute('data-from')));
    const m = this.room.messages.get(li.getAttribute('data-id') ?? '');
    const filtered = !muted && this.filter.on && li.getAttribute('data-revealed') !== 'true'
      && m !== undefined && this.filter.matches(filterText(m));
    return { muted, filtered };
  }

  /**
   * Hide messages from muted members (a run of them collapses into one
   * line), and hide or blur those the word filter matches, each with a
   * Show button. Run whenever a mute, the filter or a hidden message changes.
   */
  refreshHidden() {
    this.chat.keepBottom(() => {
      for (const p of this.chat.list.querySelectorAll('li.hidden-line')) p.remove();
      /** @type {{li: HTMLElement, n: number, from: Set<string>}|null} */
      let run = null;
      for (const li of /** @type {HTMLElement[]} */ (Array.from(this.chat.list.children))) {
        if (li.getAttribute('data-testid') !== 'message') {
          if (!li.hidden) run = null;
          continue;
        }
        const { muted, filtered } = this.hiddenBy(li);
        const hide = muted || (filtered && this.filter.mode === 'hide');
        const blur = filtered && this.filter.mode === 'blur';
        if (hide && li.contains(document.activeElement)) this.chat.input.focus();
        li.hidden = hide;
        this.setBlur(li, blur);
        if (muted) {
          if (!run) {
            run = { li: el('li', { className: 'hidden-line muted-line', 'data-testid': 'muted-line' }), n: 0, from: new Set() };
            li.before(run.li);
          }
          run.n++;
          run.from.add(li.getAttribute('data-from') ?? '');
          run.li.textContent = `${run.n} ${run.n === 1 ? 'message' : 'messages'} from ${run.from.size === 1 ? 'a muted member' : 'muted members'}`;
          continue;
        }
        run = null;
        if (hide) {
          li.before(el('li', { className: 'hidden-line filtered-line', 'data-testid': 'filtered-line' },
            el('span', { text: 'A message hidden by your word filter' }), ' ',
            el('button', { type: 'button', className: 'small-button', 'data-testid': 'filter-show', text: 'Show',
              'aria-label': 'Show the message hidden by your word filter',
              on: { click: () => this.reveal(li) } })));
        }
      }
    });
  }

  /**
   * Blur (or stop blurring) a message's words, file and quote, with a Show
   * button; blurred parts are hidden from screen readers too.
   * @param {HTMLElement} li
   * @param {boolean} on
   */
  setBlur(li, on) {
    if (li.classList.contains('blurred') === on) return;
    li.classList.toggle('blurred', on);
    for (const part of li.querySelectorAll('.msg-body, .msg-quote, .file')) {
      if (on) part.setAttribute('aria-hidden', 'true');
      else part.removeAttribute('aria-hidden');
    }
    li.querySelector('[data-testid=blur-note]')?.remove();
    if (on) {
      li.querySelector('.msg-meta')?.after(el('p', { className: 'blur-note', 'data-testid': 'blur-note' },
        el('span', { text: 'Blurred by your word filter. ' }),
        el('button', { type: 'button', className: 'small-button', 'data-testid': 'filter-show', text: 'Show',
          'aria-label': 'Show the message blurred by your word filter', on: { click: () => this.reveal(li) } })));
    }
  }

  /**
   * Show one message the word filter hid or blurred.
   * @param {HTMLElement} li
   */
  reveal(li) {
    li.setAttribute('data-revealed', 'true');
    this.refreshHidden();
    const b = li.querySelector('button');
    if (b instanceof HTMLElement) b.focus();
  }
}
