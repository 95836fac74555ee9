// For the scenarios that cut connections: a 1 s heartbeat, set on the
// server and told to the page. A dropped hidden-iframe stream gives no
// sign at all (the frame stays "loading"); the page notices the missing
// heartbeats, after 2.5 of them.
export const FAST_HEARTBEAT = { server: { HEARTBEAT_SECONDS: '1' }, page: { heartbeat: '1' } };
