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
  const server = net.createServer((client) => {
    if (refusing) {
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
      for (const socket of sockets) socket.destroy();
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
