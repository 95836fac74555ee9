// A TCP proxy between the page and a server that the test can cut: every
// open connection dropped at once and new ones refused until restored,
// while the server keeps running with its state. It can also send new
// connections to another server, as a restart behind one address would.
// The bytes pass through unchanged (Host included), so the page sees the
// server as its origin.
import net from 'node:net';

export async function startCuttableProxy(targetPort) {
  const sockets = new Set();
  let refusing = false;
  let target = targetPort;
  let refusedSinceCut = 0;
  let onRefusal = () => {};
  const server = net.createServer((client) => {
    if (refusing) {
      refusedSinceCut += 1;
      onRefusal();
      return client.destroy();
    }
    const upstream = net.connect(target, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => { sockets.delete(socket); client.destroy(); upstream.destroy(); });
      socket.on('error', () => {}); // a cut or a reset: 'close' follows
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    /** Drops every open connection and refuses new ones. */
    cut() {
      refusing = true;
      refusedSinceCut = 0;
      for (const socket of sockets) socket.destroy();
    },
    /**
     * Resolves once a new connection has been refused since the cut: the
     * page met the outage, however late its transport's next request (a
     * short poll's timer runs late on a loaded machine). Rejects after
     * `timeoutMs`.
     */
    refusal(timeoutMs) {
      if (refusedSinceCut > 0) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no connection was refused within ${timeoutMs} ms of the cut`)),
          timeoutMs);
        onRefusal = () => { clearTimeout(timer); onRefusal = () => {}; resolve(); };
      });
    },
    restore() {
      refusing = false;
    },
    /** New connections go to `port` from now on. */
    retarget(port) {
      target = port;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}
