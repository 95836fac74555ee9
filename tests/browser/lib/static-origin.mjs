// A second origin for the CORS scenarios: the same page files (examples/web)
// served from another loopback port, as the page's own deployment might.
import http from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { WEB_ROOT } from './paths.mjs';

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };

export async function startStaticOrigin() {
  // Only the files that exist, by exact path: nothing else is reachable.
  const files = new Map();
  for (const name of readdirSync(WEB_ROOT)) {
    const type = TYPES[path.extname(name)];
    if (type) files.set(`/static/${name}`, { type, body: readFileSync(path.join(WEB_ROOT, name)) });
  }
  files.set('/', files.get('/static/index.html'));
  const server = http.createServer((req, res) => {
    const file = files.get(new URL(req.url, 'http://x').pathname);
    if (!file) return res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': `${file.type}; charset=utf-8` }).end(file.body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}
