// A loopback TCP proxy in front of the server whose connections a test can
// cut without a WebSocket close frame: what a dropped network looks like to
// the browser (close code 1006), so the client's RESUME path can be tested.

import net from 'node:net';

/**
 * @param {string} target the server's URL, http://127.0.0.1:PORT
 * @returns {Promise<{url: string, cut: () => number, down: (d: boolean) => void, close: () => Promise<void>}>}
 */
export async function startProxy(target) {
  const { hostname, port } = new URL(target);
  /** @type {Set<net.Socket>} */
  const live = new Set();
  let isDown = false;
  const server = net.createServer((client) => {
    if (isDown) {
      client.destroy();
      return;
    }
    const upstream = net.connect(Number(port), hostname);
    for (const s of [client, upstream]) {
      live.add(s);
      s.on('close', () => live.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const addr = /** @type {net.AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${addr.port}`,
    /** Drop every open connection at once (no close frames); returns how many. */
    cut() {
      const n = live.size;
      for (const s of live) s.destroy();
      return n;
    },
    /** While down, new connections are refused (a network that stays away). */
    down(d) {
      isDown = d;
    },
    close() {
      for (const s of live) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
