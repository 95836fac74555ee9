// Debian's Chromium driven by playwright-core (which never downloads a
// browser of its own).
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// --headless and --no-sandbox (we run as root) come from playwright's
// defaults too; the others keep Chromium off the network it cannot reach
// here. Playwright gives each launch a fresh --user-data-dir of its own
// (and refuses one in args), removed when the browser closes.
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
}
