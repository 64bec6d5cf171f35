//! The web origins of public clients, for CORS: a browser app (a public client, PKCE) calls
//! the token, userinfo, introspection and revocation endpoints from the origin its redirect
//! URIs live on. A preflight names no client, so the check asks this set, kept in process:
//! read whole at the first catch-up, then one client at a time as the change feed names them
//! (on every instance within `cache.poll_interval_ms`), and whole again after the client cache's
//! TTL as a backstop. No request reads the database for it.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::domain::{AuthMethod, Client, ClientId, WebOrigin};
use crate::store::{After, Database, StoreError};

/// Clients read per query during a full read.
const PAGE: u32 = 500;

#[derive(Debug)]
pub struct ClientOrigins {
    registered: RwLock<Registered>,
    /// Clients the feed named since the last refresh.
    pending: Mutex<BTreeSet<String>>,
    /// Read everything again after this long, whatever the feed says.
    ttl: Duration,
}

#[derive(Debug, Default)]
struct Registered {
    /// The origins each enabled public client contributes.
    by_client: HashMap<ClientId, Vec<WebOrigin>>,
    /// How many clients contribute each origin (its ASCII serialization, as browsers send it).
    counts: HashMap<String, usize>,
    /// When everything was last read; `None` before the first read.
    read_whole_at: Option<Instant>,
}

impl ClientOrigins {
    pub fn new(ttl: Duration) -> Self {
        Self {
            registered: RwLock::default(),
            pending: Mutex::default(),
            ttl,
        }
    }

    /// Whether `origin` (an `Origin` header's value) is a redirect origin of an enabled public
    /// client.
    pub fn allows(&self, origin: &str) -> bool {
        let registered = self.registered.read().unwrap_or_else(|p| p.into_inner());
        registered.counts.contains_key(origin)
    }

    /// The client `id` changed (or was created, or deleted): read it again at the next refresh.
    pub fn client_changed(&self, id: &str) {
        self.lock_pending().insert(id.to_owned());
    }

    /// Applies what changed since the last call: the clients the feed named, or everything
    /// when never read or older than the TTL. A client that cannot be read stays pending.
    pub async fn refresh(&self, db: &dyn Database) -> Result<(), StoreError> {
        let read_whole_at = self.lock_registered().read_whole_at;
        if read_whole_at.is_none_or(|at| at.elapsed() >= self.ttl) {
            return self.read_whole(db).await;
        }
        let pending = std::mem::take(&mut *self.lock_pending());
        let mut remaining = pending.iter();
        while let Some(id) = remaining.next() {
            let Ok(client_id) = ClientId::parse(id) else {
                continue;
            };
            let origins = match db.find_client(&client_id).await {
                Ok(client) => origins_of(&client),
                Err(StoreError::NotFound) => Vec::new(),
                Err(error) => {
                    let mut again = self.lock_pending();
                    again.insert(id.clone());
                    again.extend(remaining.cloned());
                    return Err(error);
                }
            };
            self.lock_registered().set(client_id, origins);
        }
        Ok(())
    }

    /// Reads every client again and replaces the set.
    async fn read_whole(&self, db: &dyn Database) -> Result<(), StoreError> {
        // What is named from here on is read again at the next refresh, even if this read
        // already saw it: harmless, and no change slips between the read and the swap.
        self.lock_pending().clear();
        let started = Instant::now();
        let mut fresh = Registered::default();
        let mut after = None;
        loop {
            let page = db.list_clients_after(after.as_ref(), PAGE).await?;
            for client in &page {
                fresh.set(client.id.clone(), origins_of(client));
            }
            match page.last() {
                Some(last) if page.len() == PAGE as usize => {
                    after = Some(After {
                        created_at: last.created_at,
                        id: last.id.to_string(),
                    });
                }
                _ => break,
            }
        }
        fresh.read_whole_at = Some(started);
        *self.lock_registered() = fresh;
        Ok(())
    }

    fn lock_registered(&self) -> std::sync::RwLockWriteGuard<'_, Registered> {
        self.registered.write().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Registered {
    /// Records what `id` contributes now (nothing: forgets it).
    fn set(&mut self, id: ClientId, origins: Vec<WebOrigin>) {
        if let Some(previous) = self.by_client.remove(&id) {
            for origin in previous {
                if let Some(count) = self.counts.get_mut(origin.as_str()) {
                    *count -= 1;
                    if *count == 0 {
                        self.counts.remove(origin.as_str());
                    }
                }
            }
        }
        if origins.is_empty() {
            return;
        }
        for origin in &origins {
            *self.counts.entry(origin.to_string()).or_default() += 1;
        }
        self.by_client.insert(id, origins);
    }
}

/// The origins a client may call from a browser: those of its redirect URIs, for an enabled
/// public client only. A confidential client's secret or key never belongs in a browser, so its
/// redirect origins earn nothing here.
fn origins_of(client: &Client) -> Vec<WebOrigin> {
    if client.disabled || client.auth_method != AuthMethod::None {
        return Vec::new();
    }
    let origins: BTreeSet<WebOrigin> = client
        .redirect_uris
        .iter()
        .filter_map(|uri| uri.web_origin())
        .collect();
    origins.into_iter().collect()
}
