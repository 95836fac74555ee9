//! Presence: which clients are in a topic, and since when.
//!
//! A client id is present while at least one holder keeps it: a
//! subscription (streaming clients; released when the subscription closes)
//! or a lease (polling clients; each poll refreshes it, and it runs out by
//! itself). `Presence::join` says when a client becomes present and the
//! release calls say when it stops being present, so the topic can publish
//! exactly one `join` and one `leave` event per visit, however many tabs or
//! streams the client holds.

use std::collections::BTreeMap;

/// One present client, as listed by [`Bus::presence`](crate::Bus::presence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceEntry {
    /// The client id.
    pub client: String,
    /// Its info, a JSON value (the latest one given).
    pub info: String,
    /// When it became present, in milliseconds since the Unix epoch.
    pub since_ms: u64,
}

/// Renders a presence list as JSON:
/// `[{"client":"ann","info":{...},"since":1700000000000},...]`.
pub fn to_json(entries: &[PresenceEntry]) -> Vec<u8> {
    let mut out = vec![b'['];
    for (index, entry) in entries.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"client\":");
        crate::envelope::write_json_string(&mut out, &entry.client);
        out.extend_from_slice(b",\"info\":");
        // Info was validated as JSON when it was given.
        out.extend_from_slice(entry.info.as_bytes());
        out.extend_from_slice(format!(",\"since\":{}}}", entry.since_ms).as_bytes());
    }
    out.push(b']');
    out
}

/// What keeps a client present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holder {
    /// A subscription, by id.
    Subscription(u64),
    /// A lease running out at this time, on the monotonic clock
    /// ([`crate::clock`]): a step of the wall clock ends no lease.
    Lease { until_ms: u64 },
}

#[derive(Debug)]
struct Present {
    info: Box<str>,
    since_ms: u64,
    subscriptions: Vec<u64>,
    lease_until_ms: Option<u64>,
}

impl Present {
    /// `now` is on the monotonic clock, as leases are.
    fn is_held(&self, now: u64) -> bool {
        !self.subscriptions.is_empty() || self.lease_until_ms.is_some_and(|until| until > now)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Presence {
    clients: BTreeMap<Box<str>, Present>,
}

impl Presence {
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// Adds a holder for `client` and stores `info`; true when the client was
    /// not present before. `since_ms` is the wall-clock time it joins.
    pub fn join(&mut self, client: &str, info: &str, holder: Holder, since_ms: u64) -> bool {
        let mut joined = false;
        let present = self.clients.entry(client.into()).or_insert_with(|| {
            joined = true;
            Present {
                info: "".into(),
                since_ms,
                subscriptions: Vec::new(),
                lease_until_ms: None,
            }
        });
        present.info = info.into();
        match holder {
            Holder::Subscription(id) if !present.subscriptions.contains(&id) => {
                present.subscriptions.push(id)
            }
            Holder::Subscription(_) => {}
            Holder::Lease { until_ms } => present.lease_until_ms = Some(until_ms),
        }
        joined
    }

    /// Drops a subscription's hold on `client`; true when the client is no
    /// longer present (`now` on the monotonic clock).
    pub fn release(&mut self, client: &str, subscription: u64, now: u64) -> bool {
        let Some(present) = self.clients.get_mut(client) else {
            return false;
        };
        present.subscriptions.retain(|&id| id != subscription);
        if present.is_held(now) {
            return false;
        }
        self.clients.remove(client);
        true
    }

    /// Removes `client` whatever holds it; true when it was present.
    pub fn leave(&mut self, client: &str) -> bool {
        self.clients.remove(client).is_some()
    }

    /// Removes clients whose only holder was a lease that ran out by `now`
    /// (on the monotonic clock); returns them.
    pub fn expire(&mut self, now: u64) -> Vec<Box<str>> {
        let gone: Vec<Box<str>> = self
            .clients
            .iter()
            .filter(|(_, present)| !present.is_held(now))
            .map(|(client, _)| client.clone())
            .collect();
        for client in &gone {
            self.clients.remove(client);
        }
        gone
    }

    /// The present clients at `now` (on the monotonic clock), by client id.
    pub fn list(&self, now: u64) -> Vec<PresenceEntry> {
        self.clients
            .iter()
            .filter(|(_, present)| present.is_held(now))
            .map(|(client, present)| PresenceEntry {
                client: client.to_string(),
                info: present.info.to_string(),
                since_ms: present.since_ms,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_present_while_any_holder_keeps_it() {
        let mut presence = Presence::default();
        assert!(presence.join("ann", "{}", Holder::Subscription(1), 10));
        assert!(!presence.join("ann", "{\"v\":2}", Holder::Subscription(2), 20));
        assert!(!presence.join("ann", "{}", Holder::Lease { until_ms: 100 }, 30));
        assert!(!presence.release("ann", 1, 40));
        assert!(!presence.release("ann", 2, 40), "the lease still holds");
        let listed = presence.list(50);
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].client.as_str(), listed[0].since_ms), ("ann", 10));
        assert_eq!(presence.expire(99), Vec::<Box<str>>::new());
        assert_eq!(presence.expire(100), vec![Box::from("ann")]);
        assert!(presence.is_empty());
    }

    #[test]
    fn release_of_the_last_subscription_removes_the_client() {
        let mut presence = Presence::default();
        presence.join("bob", "{}", Holder::Subscription(7), 0);
        assert!(!presence.release("bob", 8, 0));
        assert!(presence.release("bob", 7, 0));
        assert!(!presence.release("bob", 7, 0));
        assert!(presence.list(0).is_empty());
    }

    #[test]
    fn leave_removes_whatever_holds() {
        let mut presence = Presence::default();
        presence.join("cy", "{}", Holder::Subscription(1), 0);
        presence.join("cy", "{\"a\":1}", Holder::Lease { until_ms: 9 }, 0);
        assert_eq!(presence.list(0)[0].info, "{\"a\":1}");
        assert!(presence.leave("cy"));
        assert!(!presence.leave("cy"));
    }

    #[test]
    fn lists_render_as_json() {
        let mut presence = Presence::default();
        presence.join("b\"<", "{\"x\":[1]}", Holder::Subscription(1), 5);
        presence.join("a", "null", Holder::Subscription(1), 6);
        let json: serde_json::Value = serde_json::from_slice(&to_json(&presence.list(0))).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{"client": "a", "info": null, "since": 6}, {"client": "b\"<", "info": {"x": [1]}, "since": 5}])
        );
        assert_eq!(to_json(&[]), b"[]");
    }

    #[test]
    fn expired_leases_are_not_listed_even_before_expiry_runs() {
        let mut presence = Presence::default();
        presence.join("dee", "{}", Holder::Lease { until_ms: 5 }, 0);
        assert_eq!(presence.list(4).len(), 1);
        assert!(presence.list(5).is_empty());
    }
}
