// A tap on one page's WebSocket to the relay (Playwright's routeWebSocket):
// it records every frame both ways and lets a test play a tampering relay
// for that member: drop frames on their way in, inject frames as if the
// relay had sent them, send frames to the relay as if the page had, or
// close the page's socket with a code of the relay's.

/**
 * @typedef {object} Tap
 * @property {Buffer[]} sent       frames the page sent, in order (all sockets)
 * @property {Buffer[]} received   frames the page was given, in order (all sockets)
 * @property {(pred: (f: Buffer) => boolean) => void} dropIn  drop the next incoming frame matching pred
 * @property {(frame: Buffer) => void} toPage    deliver a frame to the page as if from the relay
 * @property {(frame: Buffer) => void} toRelay   send a frame to the relay as if from the page
 * @property {() => void} hold       keep what the page sends from the relay until release
 * @property {() => void} release    send what was held, in order, and stop holding
 * @property {() => number} held     how many frames are held
 * @property {(code: number, reason: string) => void} closePage  close the page's socket as if the relay had, with this code
 */

/**
 * Route the page's /ws socket through a tap. Call before the page opens it.
 * @param {import('playwright-core').Page} page
 * @returns {Promise<Tap>}
 */
export async function tapSocket(page) {
  /** @type {import('playwright-core').WebSocketRoute|null} */
  let pageSide = null;
  /** @type {import('playwright-core').WebSocketRoute|null} */
  let relaySide = null;
  /** @type {((f: Buffer) => boolean)[]} */
  const drops = [];
  /** @type {Buffer[]|null} frames held on their way out, while holding */
  let holding = null;
  /** @type {Tap} */
  const tap = {
    sent: [],
    received: [],
    dropIn(pred) { drops.push(pred); },
    toPage(frame) {
      if (!pageSide) throw new Error('tap: no socket yet');
      pageSide.send(frame);
    },
    toRelay(frame) {
      if (!relaySide) throw new Error('tap: no socket yet');
      relaySide.send(frame);
    },
    hold() { holding ??= []; },
    release() {
      const out = holding ?? [];
      holding = null;
      for (const f of out) relaySide?.send(f);
    },
    held: () => holding?.length ?? 0,
    closePage(code, reason) {
      if (!pageSide) throw new Error('tap: no socket yet');
      pageSide.close({ code, reason });
    },
  };
  /** @param {string|Buffer} m */
  const bytes = (m) => (typeof m === 'string' ? Buffer.from(m) : m);
  await page.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    pageSide = ws;
    relaySide = server;
    ws.onMessage((m) => {
      const f = bytes(m);
      tap.sent.push(f);
      if (holding) holding.push(f);
      else server.send(f);
    });
    server.onMessage((m) => {
      const f = bytes(m);
      const i = drops.findIndex((p) => p(f));
      if (i >= 0) {
        drops.splice(i, 1);
        return;
      }
      tap.received.push(f);
      ws.send(f);
    });
  });
  return tap;
}
