// Where the suite reads from and writes to.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const WEB_ROOT = path.join(ROOT, 'examples/web');
export const NGINX_CONF = path.join(ROOT, 'examples/nginx/nginx.conf');
// Screenshots, server and nginx logs, nginx prefixes: kept after the run.
export const ARTIFACTS = process.env.BROWSER_ARTIFACTS || path.join(ROOT, 'target/browser-artifacts');
