// The requests a page sends, as Chromium's DevTools protocol reports them:
// CORS preflights too (playwright's own request events leave them out),
// and the headers as sent on the wire (Last-Event-ID is added below the
// page, so only the "extra info" events carry it).
export async function recordRequests(chat) {
  const requests = [];
  const byId = new Map();
  const entry = (requestId) => {
    if (!byId.has(requestId)) {
      const request = { requestId, headers: {} };
      byId.set(requestId, request);
      requests.push(request);
    }
    return byId.get(requestId);
  };
  const cdp = await chat.context.newCDPSession(chat.page);
  cdp.on('Network.requestWillBeSent', ({ requestId, request, type }) => {
    Object.assign(entry(requestId), { type, method: request.method, url: new URL(request.url) });
  });
  cdp.on('Network.requestWillBeSentExtraInfo', ({ requestId, headers }) => {
    Object.assign(entry(requestId).headers, lowerCase(headers));
  });
  cdp.on('Network.webSocketCreated', ({ requestId, url }) => {
    Object.assign(entry(requestId), { type: 'WebSocket', method: 'GET', url: new URL(url) });
  });
  cdp.on('Network.responseReceived', ({ requestId, response }) => {
    entry(requestId).status = response.status;
  });
  await cdp.send('Network.enable');
  return requests;
}

function lowerCase(headers) {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}
