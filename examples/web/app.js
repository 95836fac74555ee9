// The pushbus chat page: one client for every example server (CHAT_API.md).
//
// The page first polls (no key: the last 50 messages and the newest key),
// then opens the chosen transport from that key, so nothing falls between
// the two. Every transport keeps the last key it saw and reconnects from
// it: nothing is lost, nothing repeated. Plain JS, no build step.
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

  const NAMES = {
    sse: "Server-Sent Events", ws: "WebSocket", xhr: "XHR streaming",
    iframe: "Hidden iframe", longpoll: "Long polling", poll: "Short polling",
  };
  const SHORT_POLL_MS = 2000;
  const CONNECTORS_MS = 3000;
  const MAX_SHOWN = 500;

  let session = null; // the current connection, replaced on every connect

  if (!els.user.value) els.user.value = "guest" + Math.floor(Math.random() * 10000);
  const params = new URLSearchParams(location.search);
  for (const name of ["room", "user", "transport", "token"]) {
    if (params.get(name)) els[name].value = params.get(name);
  }

  function setState(state) {
    els.state.textContent = state;
    els.state.dataset.state = state;
  }

  function showError(text) {
    els.error.textContent = text || "";
  }

  function roomUrl(s, path, query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query || {})) if (v !== null && v !== undefined && v !== "") q.set(k, v);
    if (s.token && (path === "events" || path === "iframe" || path === "ws")) q.set("token", s.token);
    const qs = q.toString();
    return "/rooms/" + encodeURIComponent(s.room) + "/" + path + (qs ? "?" + qs : "");
  }

  function authHeaders(s, extra) {
    const h = Object.assign({}, extra || {});
    if (s.token) h["Authorization"] = "Bearer " + s.token;
    return h;
  }

  function formatTime(ms) {
    const d = new Date(ms);
    return isNaN(d) ? "" : d.toLocaleTimeString();
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
      if (env.id && s.seen.has(env.id)) return; // never shown twice
      if (env.id) s.seen.add(env.id);
      s.lastKey = env.id || s.lastKey;
      li.className = env.event || "message";
      const time = document.createElement("span");
      time.className = "time";
      time.textContent = formatTime(env.time);
      li.appendChild(time);
      const data = env.data || {};
      if (env.event === "join" || env.event === "leave") {
        const who = data.client || data.user || "someone";
        li.appendChild(document.createTextNode(who + (env.event === "join" ? " joined" : " left")));
        refreshConnectors(s);
      } else {
        const user = document.createElement("span");
        user.className = "user";
        user.textContent = (data && data.user) || "?";
        li.appendChild(user);
        li.appendChild(document.createTextNode(typeof data === "string" ? data : (data.text || JSON.stringify(data))));
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
    setState("connected");
    s.backoff = 500;
    showError("");
  }

  // Reconnect from the last key, with a capped exponential backoff.
  function retry(s, why) {
    if (s !== session || s.stopped) return;
    s.cleanup();
    setState("reconnecting");
    if (why) showError(why);
    const delay = s.backoff;
    s.backoff = Math.min(Math.max(s.backoff * 2, 500), 10000);
    s.timer = setTimeout(() => {
      if (s !== session || s.stopped) return;
      s.reconnects += 1;
      els.reconnects.textContent = String(s.reconnects);
      openTransport(s);
    }, delay);
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
        const since = document.createElement("span");
        since.className = "since";
        since.textContent = "since " + formatTime(c.since);
        li.appendChild(since);
        els.connectors.appendChild(li);
      }
    } catch (e) { /* the next tick tries again */ }
  }

  // -- transports: each opens from s.lastKey and calls deliver/opened/retry --

  function openSse(s) {
    const es = new EventSource(roomUrl(s, "events", { user: s.user, lastEventId: s.lastKey }));
    s.cleanup = () => es.close();
    es.onopen = () => opened(s);
    for (const type of ["message", "join", "leave", "gap"]) {
      es.addEventListener(type, (ev) => { try { deliver(s, JSON.parse(ev.data)); } catch (e) { /* not an envelope */ } });
    }
    // EventSource reconnects by itself (sending Last-Event-ID); when it gives
    // up (an error status) we start over from our own last key.
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) retry(s, "the event stream closed");
      else if (s === session) setState("reconnecting");
    };
  }

  function openWs(s) {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + roomUrl(s, "ws", { user: s.user, key: s.lastKey }));
    s.cleanup = () => { ws.onclose = null; ws.close(); };
    s.sendOverWs = (text) => ws.send(JSON.stringify({ type: "message", user: s.user, text: text }));
    ws.onopen = () => opened(s);
    ws.onmessage = (ev) => { try { deliver(s, JSON.parse(ev.data)); } catch (e) { /* ignore */ } };
    ws.onclose = (ev) => { s.sendOverWs = null; retry(s, ev.code === 1000 ? "" : "the WebSocket closed (" + ev.code + ")"); };
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
        if (line) { try { deliver(s, JSON.parse(line)); } catch (e) { /* partial or padding */ } }
      }
    };
    xhr.onreadystatechange = () => {
      if (xhr.readyState === 2 && xhr.status === 200) opened(s);
    };
    xhr.onprogress = consume;
    // The server closes after a byte budget: reopen from the last key at once.
    xhr.onload = () => { consume(); if (xhr.status === 200) { s.backoff = 0; } retry(s, xhr.status === 200 ? "" : "XHR stream: HTTP " + xhr.status); };
    xhr.onerror = () => retry(s, "the XHR stream failed");
    s.cleanup = () => { xhr.onload = xhr.onerror = xhr.onprogress = null; xhr.abort(); };
    xhr.send();
  }

  function openIframe(s) {
    const callback = "pushbusFrame" + Math.floor(Math.random() * 1e9);
    const frame = document.createElement("iframe");
    frame.style.display = "none";
    window[callback] = (env) => {
      if (env === null) return; // heartbeat
      deliver(s, env);
    };
    frame.onload = () => retry(s, ""); // the stream ended (byte budget or server): reopen from the last key
    frame.src = roomUrl(s, "iframe", { user: s.user, key: s.lastKey, cb: callback });
    document.body.appendChild(frame);
    s.cleanup = () => { frame.onload = null; frame.remove(); delete window[callback]; };
    setTimeout(() => { if (s === session && s.cleanup && frame.isConnected) opened(s); }, 300);
  }

  function openLongPoll(s) {
    const controller = new AbortController();
    s.cleanup = () => controller.abort();
    // A held request answers only when something happens: the room is
    // reachable (the page has just polled it), so say connected now.
    opened(s);
    (async () => {
      while (s === session && !s.stopped && !controller.signal.aborted) {
        const r = await fetch(roomUrl(s, "longpoll", { key: s.lastKey, timeout: 25, user: s.user }),
          { headers: authHeaders(s), cache: "no-store", signal: controller.signal });
        if (!r.ok) throw new Error("long poll: HTTP " + r.status);
        opened(s);
        handlePoll(s, await r.json());
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

  const OPEN = { sse: openSse, ws: openWs, xhr: openXhr, iframe: openIframe, longpoll: openLongPoll, poll: openShortPoll };

  function openTransport(s) {
    setState(s.reconnects ? "reconnecting" : "connecting");
    s.cleanup = () => {};
    try { OPEN[s.transport](s); } catch (e) { retry(s, e.message); }
  }

  async function connect() {
    disconnect();
    const s = {
      room: els.room.value.trim(), user: els.user.value.trim(), transport: els.transport.value,
      token: els.token.value.trim(), lastKey: null, seen: new Set(), reconnects: 0, backoff: 500,
      stopped: false, timer: null, connectorsTimer: null, cleanup: () => {}, sendOverWs: null,
    };
    session = s;
    els.messages.textContent = "";
    els.reconnects.textContent = "0";
    els.activeTransport.textContent = NAMES[s.transport];
    els.connectButton.disabled = true;
    els.disconnectButton.disabled = false;
    els.text.disabled = els.sendButton.disabled = false;
    setState("connecting");
    // First the history and the key, then the stream from that key.
    try {
      const r = await fetch(roomUrl(s, "poll", { user: s.user }), { headers: authHeaders(s), cache: "no-store" });
      if (!r.ok) throw new Error("HTTP " + r.status + " " + (await r.text()));
      handlePoll(s, await r.json());
    } catch (e) {
      if (s !== session) return;
      showError("could not load the room: " + e.message);
    }
    if (s !== session) return;
    refreshConnectors(s);
    s.connectorsTimer = setInterval(() => refreshConnectors(s), CONNECTORS_MS);
    openTransport(s);
  }

  function disconnect() {
    const s = session;
    session = null;
    if (s) {
      s.stopped = true;
      clearTimeout(s.timer);
      clearInterval(s.connectorsTimer);
      s.cleanup();
    }
    setState("disconnected");
    els.activeTransport.textContent = "none";
    els.connectButton.disabled = false;
    els.disconnectButton.disabled = true;
    els.text.disabled = els.sendButton.disabled = true;
  }

  async function send(text) {
    const s = session;
    if (!s) return;
    if (s.sendOverWs) { s.sendOverWs(text); return; }
    const r = await fetch(roomUrl(s, "messages"), {
      method: "POST",
      headers: authHeaders(s, { "Content-Type": "application/json" }),
      body: JSON.stringify({ user: s.user, text: text }),
    });
    if (!r.ok) {
      let why = "HTTP " + r.status;
      try { why = (await r.json()).error || why; } catch (e) { /* not JSON */ }
      showError("not sent: " + why);
    }
  }

  els.connect.addEventListener("submit", (ev) => { ev.preventDefault(); connect(); });
  els.disconnectButton.addEventListener("click", disconnect);
  els.send.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = els.text.value;
    if (!text) return;
    els.text.value = "";
    send(text).catch((e) => showError("not sent: " + e.message));
  });
  window.addEventListener("beforeunload", disconnect);
  // A deep link (?room=..&user=..&transport=..&connect=1) connects at once.
  if (params.get("connect") === "1") connect();
})();
