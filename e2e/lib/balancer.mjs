// A loopback TCP balancer in front of several veil nodes, for the cluster
// tests: each new connection goes to the first backend that accepts it
// (tried in order, the next one when a connect fails), so while the first
// node runs everyone lands on it, and once it is gone new connections land
// on the next: what a health-checking load balancer looks like to a browser.

import net from 'node:net';

/**
 * @typedef {object} Balancer
 * @property {string} url  http://127.0.0.1:PORT
 * @property {number[]} landed  connections handed to each backend so far, by index
 * @property {() => number} cut  drops every open connection (no close frames); returns how many
 * @property {() => Promise<void>} close  drops every connection and stops listening
 */

/**
 * @param {string[]} targets the backends' URLs, http://127.0.0.1:PORT, in order of preference
 * @returns {Promise<Balancer>}
 */
export async function startBalancer(targets) {
  const backends = targets.map((t) => {
    const u = new URL(t);
    return { host: u.hostname, port: Number(u.port) };
  });
  /** @type {number[]} */
  const landed = backends.map(() => 0);
  /** @type {Set<net.Socket>} */
  const live = new Set();
  /** @param {net.Socket} s */
  const track = (s) => {
    live.add(s);
    s.on('close', () => live.delete(s));
  };

  const server = net.createServer((client) => {
    track(client);
    client.on('error', () => {});
    /** @type {net.Socket|null} */
    let upstream = null;
    let connected = false;
    // A clean end (FIN: a node closing its sockets, or the browser) travels
    // on through the pipes, so a close frame written just before it is
    // delivered; a reset is passed on as one.
    client.on('close', (hadError) => {
      if (upstream && (hadError || !connected)) upstream.destroy();
    });

    /** @param {number} i */
    const attempt = (i) => {
      if (client.destroyed) return;
      if (i >= backends.length) {
        client.destroy();
        return;
      }
      const s = net.connect(backends[i].port, backends[i].host);
      upstream = s;
      track(s);
      s.on('error', () => {
        if (!connected) attempt(i + 1);
      });
      s.once('connect', () => {
        connected = true;
        landed[i]++;
        client.pipe(s);
        s.pipe(client);
        s.on('close', (hadError) => { if (hadError) client.destroy(); });
      });
    };
    attempt(0);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const addr = /** @type {net.AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${addr.port}`,
    landed,
    cut() {
      const n = live.size;
      for (const s of live) s.destroy();
      return n;
    },
    close() {
      for (const s of live) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
