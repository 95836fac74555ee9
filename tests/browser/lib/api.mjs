// The chat contract (CHAT_API.md) spoken directly, as another client: what
// the tests publish and check behind the page's back.

/** Publishes a message; returns its key. Anything but 201 is an error. */
export async function postMessage(origin, room, user, text, headers = {}) {
  const r = await fetch(`${origin}/rooms/${room}/messages`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify({ user, text }),
  });
  const body = await r.text();
  if (r.status !== 201) throw new Error(`POST /rooms/${room}/messages: HTTP ${r.status} ${body}`);
  return JSON.parse(body).id;
}

/** The room's last chat messages, as the server holds them: their envelopes. */
export async function roomEnvelopes(origin, room, headers = {}) {
  const r = await fetch(`${origin}/rooms/${room}/poll`, { headers });
  if (r.status !== 200) throw new Error(`GET /rooms/${room}/poll: HTTP ${r.status} ${await r.text()}`);
  return (await r.json()).messages.filter((m) => m.event === 'message');
}

/** The room's last chat messages: [{user, text}]. */
export async function roomMessages(origin, room, headers = {}) {
  return (await roomEnvelopes(origin, room, headers)).map((m) => m.data);
}
