// @ts-check
// main.js: wires the modules together. It picks the view from the URL
// fragment (none: create a room; a valid link: join it; anything else: an
// error page), creates the Room, and turns its ending into the right page.
// Everything lives in this tab's memory only: no storage API is used.

import { parseLink, randomAlias } from './e2ee.js';
import { CLOSE, closeMessage } from './protocol.js';
import { Room, createRoom, parseOwnerKey } from './room.js';
import { fetchConfig, wsURL } from './socket.js';
import { byId, clearAnnouncer } from './ui/dom.js';
import { renderCreate, renderCreated } from './ui/create.js';
import { renderJoin } from './ui/join.js';
import { renderNotice } from './ui/notice.js';
import { ChatView } from './ui/chat.js';
import { closeDialogs } from './ui/dialog.js';

const main = byId('main');

/** @type {Room|null} the room this tab is in or entering */
let room = null;
/** @type {ChatView|null} */
let view = null;
/** @type {Uint8Array|null} owner key kept since this tab created the room */
let ownerKey = null;
/** the alias typed last, offered again after a failed attempt */
let lastAlias = '';

/** Take the room link out of the address bar (and so out of a refresh). */
function clearFragment() {
  history.replaceState(null, '', location.pathname + location.search);
}

/** Take everything off the screen. */
function wipeScreen() {
  closeDialogs();
  view?.destroy();
  view = null;
  main.replaceChildren();
  clearAnnouncer();
  document.body.classList.remove('in-room');
}

/** Show the view the URL asks for. */
function route() {
  const frag = location.hash;
  if (frag === '' || frag === '#') {
    showCreate();
    return;
  }
  const link = parseLink(frag);
  if (!link) {
    showInvalid();
    return;
  }
  link.secret.fill(0);
  showJoin(link.hasPassword);
}

const createAnother = {
  label: 'Create a new room', id: 'create-new', primary: true,
  onClick: () => { clearFragment(); route(); },
};

function showInvalid() {
  wipeScreen();
  renderNotice(main, {
    kind: 'invalid',
    title: 'This link is not valid',
    text: 'The part of the link after # is damaged or incomplete, so no room can be found from it. Ask for the link again and copy it whole.',
    actions: [createAnother],
  });
}

async function showCreate() {
  wipeScreen();
  /** @type {{max_ttl: number, default_ttl: number}|null} */
  let config = null;
  let configError;
  try {
    config = await fetchConfig();
  } catch (err) {
    configError = `Could not reach the server: ${err instanceof Error ? err.message : err}`;
  }
  renderCreate(main, {
    config,
    configError,
    onSubmit: async (f) => {
      const res = await createRoom({ ...f, origin: location.origin });
      res.secret.fill(0);
      ownerKey = res.owner;
      renderCreated(main, {
        link: res.link,
        ownerKey: res.ownerKey,
        hasPassword: res.hasPassword,
        ttl: res.ttl,
        onEnter: () => {
          history.replaceState(null, '', res.fragment);
          route();
        },
      });
    },
  });
}

/**
 * @param {boolean} hasPassword
 * @param {string} [error]
 */
function showJoin(hasPassword, error) {
  wipeScreen();
  const jv = renderJoin(main, {
    hasPassword,
    alias: lastAlias || randomAlias(),
    suggest: randomAlias,
    error,
    onJoin: (alias, password) => {
      lastAlias = alias;
      // A fresh copy of the secret for every attempt: a Room zeroes its copy when it ends.
      const link = parseLink(location.hash);
      if (!link) {
        showInvalid();
        return;
      }
      const r = new Room({
        secret: link.secret, hasPassword: link.hasPassword, url: wsURL(location),
        owner: ownerKey ? ownerKey.slice() : null,
      });
      room = r;
      r.addEventListener('status', (ev) => {
        const s = /** @type {CustomEvent} */ (ev).detail.status;
        if (s === 'deriving') jv.busy(link.hasPassword ? 'Deriving key… this takes a moment.' : 'Preparing keys…');
        else if (s === 'connecting') jv.busy('Connecting…');
        else if (s === 'proving') jv.busy('This server asks every newcomer for a moment of computing (a proof of work, against floods)… this takes a few seconds.');
      });
      r.addEventListener('welcome', (ev) => {
        if (/** @type {CustomEvent} */ (ev).detail.resumed || r !== room) return;
        showRoom(r);
      });
      r.addEventListener('ended', (ev) => onEnded(r, /** @type {CustomEvent} */ (ev).detail));
      r.enter(alias, password).catch((err) => {
        if (r !== room) return;
        room = null;
        jv.fail(`Could not join: ${err instanceof Error ? err.message : err}`);
      });
    },
  });
}

/** @param {Room} r */
function showRoom(r) {
  wipeScreen();
  view = new ChatView(main, r, {
    onLogout: () => logout(r),
    onPurge: (key) => {
      const owner = key ? parseOwnerKey(key) : null;
      r.purge(owner);
    },
    parseOwnerKey,
  });
}

/** @param {Room} r */
function logout(r) {
  if (r !== room) return;
  room = null;
  r.logout();
  ownerKey = null;
  lastAlias = '';
  wipeScreen();
  clearFragment();
  renderNotice(main, {
    kind: 'logged-out',
    title: 'You logged out',
    text: 'You logged out. You need the link to come back.',
    actions: [createAnother],
  });
}

/**
 * The room is over for this tab: wipe the screen, then say why.
 * @param {Room} r
 * @param {{code: number, reason: string, before: boolean}} d
 */
function onEnded(r, d) {
  if (r !== room) return;
  room = null;
  wipeScreen();
  const text = closeMessage(d.code, d.reason);
  const again = { label: 'Try again', id: 'try-again', primary: true, onClick: route };
  const rejoin = { label: 'Rejoin the room', id: 'rejoin', primary: true, onClick: route };
  switch (d.code) {
    case CLOSE.PURGED:
    case CLOSE.EXPIRED:
      clearFragment();
      ownerKey = null;
      lastAlias = '';
      renderNotice(main, {
        kind: d.code === CLOSE.PURGED ? 'purged' : 'expired',
        code: d.code,
        title: d.code === CLOSE.PURGED ? 'This room was purged' : 'This room expired',
        text: d.code === CLOSE.PURGED
          ? 'Its messages are gone from every screen, everyone was disconnected, and its link no longer works.'
          : 'Its time ran out. Its messages are gone from every screen, everyone was disconnected, and its link no longer works.',
        actions: [createAnother],
      });
      return;
    case CLOSE.WRONG_PASSWORD:
      renderNotice(main, { kind: 'wrong-password', code: d.code, title: 'Wrong password', text: 'That password does not open this room. Check it with whoever sent you the link, then try again.', actions: [again] });
      return;
    case CLOSE.NOT_FOUND:
      clearFragment();
      ownerKey = null;
      renderNotice(main, { kind: 'dead', code: d.code, title: 'This room is gone', text, actions: [createAnother] });
      return;
    case CLOSE.TOO_MANY:
      renderNotice(main, { kind: 'too-many', code: d.code, title: 'Too many attempts', text, actions: [again] });
      return;
    case CLOSE.ROOM_FULL:
      renderNotice(main, { kind: 'full', code: d.code, title: 'This room is full', text, actions: [again] });
      return;
    case CLOSE.SESSION_ENDED:
      renderNotice(main, { kind: 'session-ended', code: d.code, title: 'Your session ended', text: 'Your session has ended. You can rejoin the room as a new member.', actions: [rejoin, createAnother] });
      return;
    case CLOSE.LOCKED:
      renderNotice(main, {
        kind: 'locked', code: d.code, title: 'This room is locked',
        text: 'The owner has locked this room, so nobody new can join right now. The people inside can still talk. Try again later, or ask whoever sent you the link to have it unlocked.',
        actions: [again],
      });
      return;
    case CLOSE.REMOVED:
      clearFragment();
      ownerKey = null;
      lastAlias = '';
      renderNotice(main, {
        kind: 'removed', code: d.code, title: 'You were removed',
        text: 'The owner removed you from this room. Your screen was wiped, and you can no longer read what is said there.',
        actions: [createAnother],
      });
      return;
    case CLOSE.IDLE:
      renderNotice(main, {
        kind: 'idle', code: d.code, title: 'Disconnected for inactivity',
        text: 'You were disconnected after a long time without activity. Your screen was wiped; you can join again as a new member.',
        actions: [{ ...rejoin, label: 'Join again' }, createAnother],
      });
      return;
    default:
      renderNotice(main, {
        kind: 'disconnected', code: d.code,
        title: d.before ? 'Could not join' : 'Disconnected',
        text,
        actions: [d.before ? again : rejoin],
      });
  }
}

// Leaving the page (refresh, closed tab, navigation) ends the session at once
// and wipes the screen; a page restored from the back/forward cache reloads
// so it starts clean.
window.addEventListener('pagehide', () => {
  const r = room;
  room = null;
  r?.leave();
  wipeScreen();
});
window.addEventListener('pageshow', (ev) => {
  if (ev.persisted) location.reload();
});
// A different link pasted into this tab: start over from it.
window.addEventListener('hashchange', () => location.reload());

// For the browser tests only: with ?test in the address, window.__veilTest
// reads the room's counters and epochs (never a key: those are on screen or
// harmless), and can age the current epoch to test its 10-minute limit.
if (new URLSearchParams(location.search).has('test')) {
  Object.defineProperty(window, '__veilTest', {
    value: Object.freeze({
      stats: () => room?.stats() ?? null,
      /** @param {number} ms */
      ageEpoch: (ms) => { if (room) room.epochAt -= ms; },
      /** @param {number} ms */
      ageActive: (ms) => { if (room && room.mod.lastActive !== 0) room.mod.lastActive -= ms; },
    }),
  });
}

route();
