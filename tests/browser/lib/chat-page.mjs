// The chat page (examples/web) as a person uses it, in a browser context of
// its own (its own cookies and connection pool), read through the DOM.
import path from 'node:path';
import { mkdirSync } from 'node:fs';

// The page's transport choices: the six transports and the EventSource
// polyfill, which every scenario treats as a transport of its own.
export const TRANSPORTS = ['sse', 'sse-polyfill', 'ws', 'xhr', 'iframe', 'longpoll', 'poll'];

const WAIT_MS = 20000;

let rooms = 0;
/** A room no other test uses (rooms are `[A-Za-z0-9_-]{1,64}`). */
export function freshRoom(label) {
  rooms += 1;
  return `${label}-${process.pid}-${rooms}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64);
}

export class ChatPage {
  /**
   * Opens `origin` with the page's query parameters (room, user,
   * transport, token, server) and connect=1, as a deep link would.
   */
  static async open(browser, origin, query) {
    const chat = await ChatPage.create(browser);
    await chat.visit(origin, query);
    return chat;
  }

  /** A blank page: for what must watch the page from its first request. */
  static async create(browser) {
    const context = await browser.newContext({ viewport: { width: 1000, height: 720 } });
    context.setDefaultTimeout(WAIT_MS);
    return new ChatPage(context, await context.newPage());
  }

  async visit(origin, query) {
    await this.page.goto(`${origin}/?${new URLSearchParams({ ...query, connect: '1' })}`);
  }

  constructor(context, page) {
    this.context = context;
    this.page = page;
  }

  close() {
    return this.context.close();
  }

  state() {
    return this.page.$eval('#state', (el) => el.dataset.state);
  }

  error() {
    return this.page.textContent('#error');
  }

  lastKey() {
    return this.page.textContent('#last-key');
  }

  async reconnects() {
    return Number(await this.page.textContent('#reconnects'));
  }

  async waitForReconnects(count, timeout = WAIT_MS) {
    try {
      await this.page.waitForFunction((n) => Number(document.getElementById('reconnects').textContent) >= n, count,
        { timeout, polling: 50 });
    } catch {
      throw new Error(`expected ${count} reconnects, the page counted ${await this.reconnects()}`);
    }
  }

  /** Deliveries the page dropped because it had shown them already. */
  async duplicates() {
    return Number(await this.page.$eval('#messages', (el) => el.dataset.duplicates));
  }

  gaps() {
    return this.page.$$eval('#messages li.gap', (lis) => lis.length);
  }

  async waitForState(state, timeout = WAIT_MS) {
    try {
      await this.page.waitForFunction((s) => document.getElementById('state').dataset.state === s, state,
        { timeout, polling: 50 });
    } catch {
      throw new Error(`the page never reached "${state}": it is "${await this.state()}", error "${await this.error()}"`);
    }
  }

  /** Types into the message field and presses Send, as a person does. */
  async say(text) {
    await this.page.fill('#text', text);
    await this.page.click('#send-button');
  }

  /** The chat messages shown, oldest first: [{user, text}]. */
  messages() {
    return this.page.$$eval('#messages li.message', (lis) => lis.map((li) => ({
      user: li.querySelector('.user').textContent, text: li.querySelector('.text').textContent,
    })));
  }

  async texts() {
    return (await this.messages()).map((m) => m.text);
  }

  /** Waits until at least `count` chat messages are shown; returns their texts. */
  async waitForTexts(count, timeout = WAIT_MS) {
    try {
      await this.page.waitForFunction((n) => document.querySelectorAll('#messages li.message').length >= n, count,
        { timeout, polling: 50 });
    } catch {
      throw new Error(`expected ${count} messages, the page shows ${JSON.stringify(await this.texts())}` +
        ` (state "${await this.state()}", error "${await this.error()}")`);
    }
    return this.texts();
  }

  /** The user names in the connectors list. */
  connectors() {
    return this.page.$$eval('#connectors li', (lis) => lis.map((li) => li.firstChild.textContent));
  }

  async waitForConnectors(names, timeout = WAIT_MS) {
    try {
      await this.page.waitForFunction((wanted) => {
        const shown = Array.from(document.querySelectorAll('#connectors li'), (li) => li.firstChild.textContent);
        return wanted.every((name) => shown.includes(name));
      }, names, { timeout, polling: 100 });
    } catch {
      throw new Error(`expected connectors ${JSON.stringify(names)}, the page lists ${JSON.stringify(await this.connectors())}`);
    }
  }

  /**
   * From now on, records when each chat message's text reaches the DOM
   * (Date.now() in the page: the same clock as the test's).
   */
  recordArrivals() {
    return this.page.evaluate(() => {
      window.__arrivals = {};
      new MutationObserver((records) => {
        const now = Date.now();
        for (const r of records) {
          for (const node of r.addedNodes) {
            const text = node.querySelector && node.querySelector('.text');
            if (text) window.__arrivals[text.textContent] = now;
          }
        }
      }).observe(document.getElementById('messages'), { childList: true });
    });
  }

  /** When the message `text` arrived (ms since the epoch), once it has. */
  async arrivalOf(text, timeout = WAIT_MS) {
    const handle = await this.page.waitForFunction((t) => window.__arrivals[t], text, { timeout, polling: 10 });
    return handle.jsonValue();
  }

  /** Whether any frame of the page (the hidden iframe too) ran injected script. */
  async pwned() {
    const flags = await Promise.all(this.page.frames().map((f) => f.evaluate(() => window.__pwned).catch(() => undefined)));
    return flags.some((flag) => flag !== undefined);
  }

  async screenshot(file) {
    mkdirSync(path.dirname(file), { recursive: true });
    await this.page.screenshot({ path: file, fullPage: true });
  }
}
