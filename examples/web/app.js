// The pushbus chat page: one client for every example server (CHAT_API.md).
//
// The page first polls (no key: the last 50 messages and the newest key),
// then opens the chosen transport from that key, so nothing falls between
// the two. Every transport keeps the last key it saw and reconnects from
// it: nothing is lost, nothing repeated. A refusal (401 or 403) stops the
// page and shows the server's reason. Text from the network reaches the
// document only through textContent. Plain JS, no build step.
//
// Query parameters: room, user, transport, token (fill the form),
// connect=1 (connect at once), server=ORIGIN (a chat server on another
// origin, allowed by its ALLOWED_ORIGINS), heartbeat=SECONDS (the server's
// HEARTBEAT_SECONDS, default 15: how long a silent stream may be alive).
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const els = {
    connect: $("connect"), room: $("room"), user: $("user"), transport: $("transport"), token: $("token"),
    connectButton: $("connect-button"), disconnectButton: $("disconnect-button"),
    state: $("state"), activeTransport: $("active-transport"), reconnects: $("reconnects"), lastKey: $("last-key"),
    messages: $("messages"), send: $("send"), text: $("text"), sendButton: $("send-button"),
    error: $("error"), connectors: $("connectors"),
  };

  const SHORT_POLL_MS = 2000;
  const LONG_POLL_SECONDS = 25; // under the 60 s read timeout of common proxies
  const CONNECTORS_MS = 3000;
  const MAX_SHOWN = 500;
  const POLYFILL_SRC = "/static/eventsource-polyfill.min.js";

  let session = null; // the current connection, replaced on every connect

  if (!els.user.value) els.user.value = "guest" + Math.floor(Math.random() * 10000);
  const params = new URLSearchParams(location.search);
  for (const name of ["room", "user", "transport", "token"]) {
    if (params.get(name)) els[name].value = params.get(name);
  }
  // "" keeps every URL relative: the server that served this page.
  const serverBase = (params.get("server") || "").replace(/\/+$/, "");
  const crossOrigin = serverBase !== "" && new URL(serverBase, location.href).origin !== location.origin;
  // A stream that hears nothing, not even a heartbeat, for this long is
  // dead without a word: a hidden iframe whose connection dropped stays
  // "loading" for ever, with no event at all.
  const HEARTBEAT_MS = 1000 * (Number(params.get("heartbeat")) || 15);
  const SILENCE_MS = 2.5 * HEARTBEAT_MS;

  function setState(state) {
    els.state.textContent = state;
    els.state.dataset.state = state;
  }

  function showError(text) {
    els.error.textContent = text || "";
  }

  // Browsers hide why a cross-origin request failed; this is the usual cause.
  function unreachable(why) {
    return crossOrigin ? why + " (is this page's origin in the server's ALLOWED_ORIGINS?)" : why;
  }

  function roomUrl(s, path, query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query || {})) if (v !== null && v !== undefined && v !== "") q.set(k, v);
    // EventSource, iframes and WebSockets cannot send an Authorization header.
    if (s.token && (path === "events" || path === "iframe" || path === "ws")) q.set("token", s.token);
    const qs = q.toString();
    return serverBase + "/rooms/" + encodeURIComponent(s.room) + "/" + path + (qs ? "?" + qs : "");
  }

  function authHeaders(s, extra) {
    const h = Object.assign({}, extra || {});
    if (s.token) h["Authorization"] = "Bearer " + s.token;
    return h;
  }

  const isRefusal = (status) => status === 401 || status === 403;

  // "HTTP 401: the token has expired", from a response's JSON {"error": ...}.
  function httpReason(status, bodyText) {
    let why = "";
    try { why = JSON.parse(bodyText).error || ""; } catch (e) { why = (bodyText || "").slice(0, 200); }
    return "HTTP " + status + (why ? ": " + why : "");
  }

  function formatTime(ms) {
    const d = new Date(ms);
    return isNaN(d) ? "" : d.toLocaleTimeString();
  }

  function span(className, text) {
    const el = document.createElement("span");
    el.className = className;
    el.textContent = text;
    return el;
  }

  // One envelope from any transport: a message, join, leave or gap.
  function deliver(s, env) {
    if (s !== session || !env || typeof env !== "object") return;
    const li = document.createElement("li");
    if (env.event === "gap") {
      li.className = "gap";
      li.textContent = "Some messages were missed (gap from " + env.from + " to " + env.to + ").";
      s.lastKey = env.to;
    } else {
      if (env.id && s.seen.has(env.id)) {
        // A correct server never repeats: counted so that the tests can say so.
        els.messages.dataset.duplicates = String(Number(els.messages.dataset.duplicates || 0) + 1);
        return;
      }
      if (env.id) s.seen.add(env.id);
      s.lastKey = env.id || s.lastKey;
      li.className = env.event || "message";
      li.appendChild(span("time", formatTime(env.time)));
      const data = env.data || {};
      if (env.event === "join" || env.event === "leave") {
        const who = data.client || data.user || "someone";
        li.appendChild(document.createTextNode(who + (env.event === "join" ? " joined" : " left")));
        refreshConnectors(s);
      } else {
        li.appendChild(span("user", data.user || "?"));
        li.appendChild(span("text", typeof data === "string" ? data : (data.text || JSON.stringify(data))));
      }
    }
    els.lastKey.textContent = s.lastKey || "none";
    const atBottom = els.messages.scrollTop + els.messages.clientHeight >= els.messages.scrollHeight - 4;
    els.messages.appendChild(li);
    while (els.messages.children.length > MAX_SHOWN) els.messages.removeChild(els.messages.firstChild);
    if (atBottom) els.messages.scrollTop = els.messages.scrollHeight;
  }

  function opened(s) {
    if (s !== session) return;
    if (s.interrupted) {
      s.interrupted = false;
      s.reconnects += 1;
      els.reconnects.textContent = String(s.reconnects);
    }
    setState("connected");
    s.backoff = 500;
    showError("");
  }

  // The server said no (401, 403) or the transport cannot work: stop for
  // good and say why; retrying would only be refused again.
  function refuse(s, why) {
    if (s !== session || s.stopped) return;
    stop(s);
    setState("refused");
    showError("refused: " + why);
    els.connectButton.disabled = false; // e.g. with another token
    els.text.disabled = els.sendButton.disabled = true;
  }

  // Reconnect from the last key, with a capped exponential backoff.
  // EventSource, WebSocket and iframe cannot read an error status: when
  // they failed without a word (probe), a poll asks the server why first.
  function retry(s, why, options) {
    if (s !== session || s.stopped) return;
    s.cleanup();
    s.interrupted = true;
    setState("reconnecting");
    if (why) showError(unreachable(why));
    const delay = s.backoff;
    s.backoff = Math.min(Math.max(s.backoff * 2, 500), 10000);
    const reopen = () => {
      s.timer = setTimeout(() => {
        if (s === session && !s.stopped) openTransport(s);
      }, delay);
    };
    if (options && options.probe) probeRefusal(s).then(reopen);
    else reopen();
  }

  // Resolves once the server is known not to refuse this session (or
  // cannot be reached); refuses the session otherwise. Reads nothing of the
  // room: If-None-Match makes an up-to-date answer an empty 304.
  async function probeRefusal(s) {
    try {
      const r = await fetch(roomUrl(s, "poll", { key: s.lastKey }),
        { headers: authHeaders(s, s.lastKey ? { "If-None-Match": s.lastKey } : {}), cache: "no-store" });
      if (isRefusal(r.status)) refuse(s, httpReason(r.status, await r.text()));
    } catch (e) { /* unreachable: the retry will tell */ }
  }

  async function refreshConnectors(s) {
    if (s !== session) return;
    try {
      const r = await fetch(roomUrl(s, "connectors"), { headers: authHeaders(s), cache: "no-store" });
      if (!r.ok || s !== session) return;
      const body = await r.json();
      els.connectors.textContent = "";
      for (const c of body.connectors || []) {
        const li = document.createElement("li");
        li.textContent = c.user;
        li.appendChild(span("since", "since " + formatTime(c.since)));
        els.connectors.appendChild(li);
      }
    } catch (e) { /* the next tick tries again */ }
  }

  // -- transports: each opens from s.lastKey and calls deliver/opened/retry --

  function openSse(s, EventSourceClass) {
    // The key travels as ?lastEventId=; on its own reconnects EventSource
    // sends the Last-Event-ID header (which wins), the polyfill rewrites
    // the query parameter.
    const es = new EventSourceClass(roomUrl(s, "events", { user: s.user, lastEventId: s.lastKey }),
      { heartbeatTimeout: SILENCE_MS }); // read by the polyfill only
    s.cleanup = () => es.close();
    es.onopen = () => opened(s);
    for (const type of ["message", "join", "leave", "gap"]) {
      es.addEventListener(type, (ev) => { try { deliver(s, JSON.parse(ev.data)); } catch (e) { /* not an envelope */ } });
    }
    // EventSource reconnects by itself; when it gives up (an error status
    // or type) we start over from our own last key.
    es.onerror = () => {
      if (es.readyState === EventSourceClass.CLOSED) retry(s, "the event stream closed", { probe: true });
      else if (s === session) { s.interrupted = true; setState("reconnecting"); }
    };
  }

  // Calls onSilence once the stream has said nothing for SILENCE_MS.
  function silenceWatch(onSilence) {
    let timer = setTimeout(onSilence, SILENCE_MS);
    return {
      heard() { clearTimeout(timer); timer = setTimeout(onSilence, SILENCE_MS); },
      stop() { clearTimeout(timer); },
    };
  }

  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = () => reject(new Error("could not load " + src));
      document.head.appendChild(script);
    });
  }

  // The same page code over Yaffle's EventSource polyfill (MIT, vendored
  // unchanged): it resumes with the lastEventId query parameter.
  async function openSsePolyfill(s) {
    if (!window.EventSourcePolyfill) await loadScript(POLYFILL_SRC);
    if (s === session && !s.stopped) openSse(s, window.EventSourcePolyfill);
  }

  function openWs(s) {
    const url = new URL(roomUrl(s, "ws", { user: s.user, key: s.lastKey }), location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(url.href);
    let wasOpen = false;
    s.cleanup = () => { ws.onclose = null; ws.close(); };
    ws.onopen = () => {
      wasOpen = true;
      s.sendOverWs = (text) => ws.send(JSON.stringify({ type: "message", user: s.user, text: text }));
      opened(s);
    };
    ws.onmessage = (ev) => { try { deliver(s, JSON.parse(ev.data)); } catch (e) { /* ignore */ } };
    ws.onclose = (ev) => {
      s.sendOverWs = null;
      retry(s, ev.code === 1000 ? "" : "the WebSocket closed (" + ev.code + ")", { probe: !wasOpen });
    };
  }

  function openXhr(s) {
    const xhr = new XMLHttpRequest();
    let offset = 0;
    xhr.open("GET", roomUrl(s, "xhr", { user: s.user, key: s.lastKey }));
    for (const [k, v] of Object.entries(authHeaders(s))) xhr.setRequestHeader(k, v);
    const consume = () => {
      const text = xhr.responseText;
      let nl;
      while ((nl = text.indexOf("\n", offset)) !== -1) {
        const line = text.slice(offset, nl).trim();
        offset = nl + 1;
        if (line) { try { deliver(s, JSON.parse(line)); } catch (e) { /* padding */ } }
      }
    };
    xhr.onreadystatechange = () => {
      if (xhr.readyState === 2 && xhr.status === 200) opened(s);
    };
    const silence = silenceWatch(() => retry(s, "the XHR stream went silent"));
    xhr.onprogress = () => { silence.heard(); consume(); };
    // The server closes after a byte budget: reopen from the last key at once.
    xhr.onload = () => {
      if (isRefusal(xhr.status)) return refuse(s, httpReason(xhr.status, xhr.responseText));
      consume();
      if (xhr.status === 200) s.backoff = 0;
      retry(s, xhr.status === 200 ? "" : "XHR stream: HTTP " + xhr.status);
    };
    xhr.onerror = () => retry(s, "the XHR stream failed");
    s.cleanup = () => { silence.stop(); xhr.onload = xhr.onerror = xhr.onprogress = null; xhr.abort(); };
    xhr.send();
  }

  function openIframe(s) {
    if (crossOrigin) {
      return refuse(s, "the hidden-iframe transport needs the page and the server on one origin" +
        " (a frame from another origin may not call this page)");
    }
    const callback = "pushbusFrame" + Math.floor(Math.random() * 1e9);
    const frame = document.createElement("iframe");
    let calls = 0; // messages and heartbeats: none means refused or unreachable
    const silence = silenceWatch(() => retry(s, "the iframe stream went silent", { probe: calls === 0 }));
    frame.style.display = "none";
    window[callback] = (env) => {
      calls += 1;
      silence.heard();
      if (env !== null) deliver(s, env); // null: a heartbeat
    };
    // The stream ended (byte budget, server): reopen from the last key.
    frame.onload = () => retry(s, "", { probe: calls === 0 });
    frame.src = roomUrl(s, "iframe", { user: s.user, key: s.lastKey, cb: callback });
    document.body.appendChild(frame);
    s.cleanup = () => { silence.stop(); frame.onload = null; frame.remove(); delete window[callback]; };
    // No event says "the stream started": a frame still loading is one.
    setTimeout(() => { if (s === session && frame.isConnected) opened(s); }, 300);
  }

  function openLongPoll(s) {
    const controller = new AbortController();
    s.cleanup = () => controller.abort();
    // A held request answers only when something happens. The first time,
    // the page has just polled the room, so it is reachable: say connected
    // now. After a failure, only an answer says so.
    if (!s.interrupted) opened(s);
    (async () => {
      while (s === session && !s.stopped && !controller.signal.aborted) {
        const r = await fetch(roomUrl(s, "longpoll", { key: s.lastKey, timeout: LONG_POLL_SECONDS, user: s.user }),
          { headers: authHeaders(s), cache: "no-store", signal: controller.signal });
        if (isRefusal(r.status)) return refuse(s, httpReason(r.status, await r.text()));
        if (!r.ok) throw new Error("long poll: HTTP " + r.status);
        handlePoll(s, await r.json());
        opened(s);
      }
    })().catch((e) => { if (!controller.signal.aborted) retry(s, e.message); });
  }

  function openShortPoll(s) {
    let timer = null;
    const controller = new AbortController();
    s.cleanup = () => { clearTimeout(timer); controller.abort(); };
    const tick = async () => {
      try {
        const headers = authHeaders(s, s.lastKey ? { "If-None-Match": s.lastKey } : {});
        const r = await fetch(roomUrl(s, "poll", { key: s.lastKey, user: s.user }),
          { headers: headers, cache: "no-store", signal: controller.signal });
        if (isRefusal(r.status)) return refuse(s, httpReason(r.status, await r.text()));
        if (r.status !== 304) {
          if (!r.ok) throw new Error("short poll: HTTP " + r.status);
          handlePoll(s, await r.json());
        }
        opened(s);
        timer = setTimeout(tick, SHORT_POLL_MS);
      } catch (e) {
        if (!controller.signal.aborted) retry(s, e.message);
      }
    };
    tick();
  }

  function handlePoll(s, body) {
    if (body.gap) deliver(s, body.gap);
    for (const env of body.messages || []) deliver(s, env);
    if (body.key) { s.lastKey = body.key; els.lastKey.textContent = s.lastKey; }
  }

  const OPEN = {
    sse: (s) => openSse(s, window.EventSource), "sse-polyfill": openSsePolyfill, ws: openWs, xhr: openXhr,
    iframe: openIframe, longpoll: openLongPoll, poll: openShortPoll,
  };

  function openTransport(s) {
    setState(s.interrupted ? "reconnecting" : "connecting");
    s.cleanup = () => {};
    Promise.resolve().then(() => OPEN[s.transport](s)).catch((e) => retry(s, e.message));
  }

  async function connect() {
    disconnect();
    const s = {
      room: els.room.value.trim(), user: els.user.value.trim(), transport: els.transport.value,
      token: els.token.value.trim(), lastKey: null, seen: new Set(), reconnects: 0, interrupted: false,
      backoff: 500, stopped: false, timer: null, connectorsTimer: null, cleanup: () => {}, sendOverWs: null,
      sending: Promise.resolve(),
    };
    session = s;
    els.messages.textContent = "";
    els.messages.dataset.duplicates = "0";
    els.reconnects.textContent = "0";
    els.activeTransport.textContent = els.transport.selectedOptions[0].textContent;
    els.connectButton.disabled = true;
    els.disconnectButton.disabled = false;
    els.text.disabled = els.sendButton.disabled = false;
    setState("connecting");
    // First the history and the key, then the stream from that key.
    try {
      const r = await fetch(roomUrl(s, "poll", { user: s.user }), { headers: authHeaders(s), cache: "no-store" });
      if (isRefusal(r.status)) return refuse(s, httpReason(r.status, await r.text()));
      if (!r.ok) throw new Error(httpReason(r.status, await r.text()));
      handlePoll(s, await r.json());
    } catch (e) {
      if (s !== session) return;
      s.interrupted = true; // not known to be reachable: only an answer says connected
      showError(unreachable("could not load the room: " + e.message));
    }
    if (s !== session || s.stopped) return;
    refreshConnectors(s);
    s.connectorsTimer = setInterval(() => refreshConnectors(s), CONNECTORS_MS);
    openTransport(s);
  }

  function stop(s) {
    s.stopped = true;
    clearTimeout(s.timer);
    clearInterval(s.connectorsTimer);
    s.cleanup();
  }

  function disconnect() {
    const s = session;
    session = null;
    if (s) stop(s);
    setState("disconnected");
    els.activeTransport.textContent = "none";
    els.connectButton.disabled = false;
    els.disconnectButton.disabled = true;
    els.text.disabled = els.sendButton.disabled = true;
  }

  async function post(s, text) {
    if (s.sendOverWs) { s.sendOverWs(text); return; }
    const r = await fetch(roomUrl(s, "messages"), {
      method: "POST",
      headers: authHeaders(s, { "Content-Type": "application/json" }),
      body: JSON.stringify({ user: s.user, text: text }),
    });
    if (!r.ok) showError("not sent: " + httpReason(r.status, await r.text()));
  }

  // One send at a time, so that a person's messages keep their order.
  function send(text) {
    const s = session;
    if (!s) return;
    s.sending = s.sending.then(() => post(s, text)).catch((e) => showError(unreachable("not sent: " + e.message)));
  }

  els.connect.addEventListener("submit", (ev) => { ev.preventDefault(); connect(); });
  els.disconnectButton.addEventListener("click", disconnect);
  els.send.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = els.text.value;
    if (!text) return;
    els.text.value = "";
    send(text);
  });
  window.addEventListener("beforeunload", disconnect);
  // A deep link (?room=..&user=..&transport=..&connect=1) connects at once.
  if (params.get("connect") === "1") connect();
})();
