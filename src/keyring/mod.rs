//! The signing key ring: keys are created, published, rotated, retired and revoked by the service
//! itself. Each instance keeps a parsed snapshot in memory and reloads it every
//! `keys.refresh_interval_secs`, when a token names a `kid` it does not know (at most once a
//! second), and when told to ([`KeyRing::reload`]), so all instances pick up a rotation without
//! a restart.

mod kek;
mod lifecycle;
mod revoke;
mod sealing;
mod unknown_kid;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use time::OffsetDateTime;
use tokio::task::JoinHandle;

pub use self::lifecycle::{KeyPolicy, Transition, due_transitions};
pub use self::revoke::Revocation;
use self::unknown_kid::UnknownKidReloads;
use crate::config::KeySettings;
use crate::crypto::{
    KeyEncryptionKey, SigningAlgorithm, SigningKey, SigningKeyError, VerifyingKey,
};
use crate::store::{
    ChangeKind, Database, KeyState, NewAuditEvent, NewChange, SigningKeyRecord,
    SigningKeyRevocation, StoreError,
};
use crate::telemetry::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    #[error("keys.encryption_key is required with PostgreSQL (32 bytes, standard base64)")]
    KekRequired,
    #[error("key-encryption key file {path} {problem}")]
    KekFile { path: String, problem: String },
    #[error(
        "signing key {kid} does not open with the configured key-encryption key; \
         is keys.encryption_key (or keys/encryption.key) the one these keys were sealed with?"
    )]
    Unseal { kid: String },
    #[error(
        "a {algorithm} key ({kid}) is already staged to activate at {activates_at}; use --now to activate it at once"
    )]
    AlreadyStaged {
        algorithm: SigningAlgorithm,
        kid: String,
        activates_at: OffsetDateTime,
    },
    #[error("no signing key {kid}")]
    UnknownKey { kid: String },
    #[error("signing key {kid} became the active key while it was being revoked; try again")]
    StillActive { kid: String },
    #[error(transparent)]
    Key(#[from] SigningKeyError),
    #[error("the key store failed: {0}")]
    Store(#[from] StoreError),
}

/// A key as the ring holds it: its lifecycle facts, the parsed private key and its parsed
/// public half.
#[derive(Debug, Clone)]
pub struct RingKey {
    pub kid: String,
    pub algorithm: SigningAlgorithm,
    pub state: KeyState,
    pub created_at: OffsetDateTime,
    pub activates_at: OffsetDateTime,
    pub retired_at: Option<OffsetDateTime>,
    pub key: Arc<SigningKey>,
    pub verifying: Arc<VerifyingKey>,
}

#[derive(Debug, Default)]
struct Snapshot {
    keys: Vec<RingKey>,
    /// Kids that are distrusted for good: refused without a reload.
    revoked: HashSet<String>,
    /// The JWKS document, rendered once per reload.
    jwks: Arc<str>,
}

impl Snapshot {
    fn find(&self, kid: &str) -> Option<&RingKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }
}

#[derive(Debug)]
pub struct KeyRing {
    db: Arc<dyn Database>,
    kek: KeyEncryptionKey,
    policy: KeyPolicy,
    snapshot: RwLock<Arc<Snapshot>>,
    /// Held from reading the database to installing the snapshot, so a slower reload never
    /// installs an older view over a newer one (a revoked key must not come back).
    reloading: tokio::sync::Mutex<()>,
    unknown_kid_reloads: UnknownKidReloads,
    pregenerated: Pregenerated,
    /// Where rotations and revocations this ring performs are counted (none in the CLI).
    metrics: Option<Arc<Metrics>>,
}

type Generation = JoinHandle<Result<(SigningKey, Vec<u8>), SigningKeyError>>;

/// Keys being generated ahead of need, one per algorithm. A database that lives in memory is
/// new at every start: its first keys can be generated while it opens and migrates, instead of
/// one after another once it has (an RSA key takes tens of milliseconds).
#[derive(Debug, Default)]
pub struct Pregenerated(Mutex<HashMap<SigningAlgorithm, Generation>>);

impl Pregenerated {
    /// Starts generating one key per algorithm on the blocking pool. An RSA key is a search for
    /// two random primes, and its time varies several-fold from one key to the next (20 starts
    /// of `serve --ephemeral`: 60 to 210 ms): with cores to spare, two searches race and the
    /// first key found is taken, which halves the slow tail that start-up waits on.
    pub fn start(algorithms: &[SigningAlgorithm]) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let pending = algorithms
            .iter()
            .map(|&algorithm| {
                let racers = if algorithm == SigningAlgorithm::Rs256 && cores > 1 {
                    2
                } else {
                    1
                };
                (algorithm, first_generated(algorithm, racers))
            })
            .collect();
        Self(Mutex::new(pending))
    }

    fn take(&self, algorithm: SigningAlgorithm) -> Option<Generation> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&algorithm)
    }
}

/// The first of `racers` generations of an `algorithm` key on the blocking pool to finish; the
/// others run to their end and are dropped (a generation cannot be interrupted).
fn first_generated(algorithm: SigningAlgorithm, racers: usize) -> Generation {
    let generate = move || tokio::task::spawn_blocking(move || SigningKey::generate(algorithm));
    if racers <= 1 {
        return generate();
    }
    let generations: Vec<_> = (0..racers).map(|_| generate()).collect();
    tokio::spawn(async move {
        let (first, _, _others) = futures_util::future::select_all(generations).await;
        first.map_err(|_| SigningKeyError::Generate(algorithm))?
    })
}

impl KeyRing {
    /// Opens the ring: resolves the key-encryption key and unseals every stored key (a wrong KEK
    /// is an error here, never a silent new key). Changes nothing; `maintain` creates the first
    /// keys and performs due transitions.
    pub async fn open(db: Arc<dyn Database>, settings: &KeySettings) -> Result<Self, KeyRingError> {
        let records = db.list_signing_keys().await?;
        let revocations = db.list_signing_key_revocations().await?;
        let kek = kek::resolve(settings, db.is_embedded(), !records.is_empty())?;
        let ring = Self {
            db,
            kek,
            policy: KeyPolicy::from(settings),
            snapshot: RwLock::default(),
            reloading: tokio::sync::Mutex::default(),
            unknown_kid_reloads: UnknownKidReloads::default(),
            pregenerated: Pregenerated::default(),
            metrics: None,
        };
        ring.load(records, revocations)?;
        Ok(ring)
    }

    /// Uses `keys`, generated ahead, for the next keys this ring creates.
    pub fn with_pregenerated(mut self, keys: Pregenerated) -> Self {
        self.pregenerated = keys;
        self
    }

    /// Counts the rotations and revocations this ring performs in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Applies the transitions due at `now`, then reloads. Safe on every instance at once.
    pub async fn maintain(&self, now: OffsetDateTime, actor: &str) -> Result<(), KeyRingError> {
        let records = self.db.list_signing_keys().await?;
        let due = due_transitions(&records, &self.policy, now);
        for transition in &due {
            self.apply(transition, now, actor).await?;
        }
        self.reload().await
    }

    /// Reads the key ring from the database and replaces this instance's snapshot: keys created,
    /// promoted, retired or revoked by any instance (or the CLI) hold here from now on. Call it
    /// when another instance announces a key change; verification calls it by itself (at most
    /// once a second) when a token names an unknown `kid`.
    pub async fn reload(&self) -> Result<(), KeyRingError> {
        let _one_at_a_time = self.reloading.lock().await;
        let records = self.db.list_signing_keys().await?;
        let revocations = self.db.list_signing_key_revocations().await?;
        self.load(records, revocations)
    }

    /// Rotates `algorithm` on demand. Normally stages a successor that starts signing after
    /// `keys.publish_ahead_secs`; with `immediately` (a compromised key) the successor signs at once.
    pub async fn rotate(
        &self,
        algorithm: SigningAlgorithm,
        immediately: bool,
        now: OffsetDateTime,
        actor: &str,
    ) -> Result<RingKey, KeyRingError> {
        let records = self.db.list_signing_keys().await?;
        let staged = records
            .iter()
            .find(|k| k.algorithm == algorithm && k.state == KeyState::Next);
        let kid = match (staged, immediately) {
            (Some(next), false) => {
                return Err(KeyRingError::AlreadyStaged {
                    algorithm,
                    kid: next.kid.clone(),
                    activates_at: next.activates_at,
                });
            }
            (Some(next), true) => next.kid.clone(),
            (None, immediately) => {
                let activates_at = if immediately {
                    now
                } else {
                    now + self.policy.publish_ahead
                };
                self.create(algorithm, KeyState::Next, activates_at, now, actor)
                    .await?
            }
        };
        if immediately {
            self.apply(&Transition::Promote { kid: kid.clone() }, now, actor)
                .await?;
        }
        self.announce(&kid, now).await?;
        self.reload().await?;
        self.keys()
            .into_iter()
            .find(|k| k.kid == kid)
            .ok_or(KeyRingError::Store(StoreError::NotFound))
    }

    /// Tells every instance, through the change feed, to read the ring again: a key made to
    /// sign or revoked here must hold there within the feed's interval, not at the next
    /// `keys.refresh_interval_secs`.
    pub(crate) async fn announce(
        &self,
        kid: &str,
        now: OffsetDateTime,
    ) -> Result<(), KeyRingError> {
        self.db
            .record_change(&NewChange::changed(ChangeKind::Keys, kid, now))
            .await?;
        Ok(())
    }

    /// Every published key, oldest first.
    pub fn keys(&self) -> Vec<RingKey> {
        self.current().keys.clone()
    }

    /// The key that signs for `algorithm` now.
    pub fn active_key(&self, algorithm: SigningAlgorithm) -> Option<Arc<SigningKey>> {
        self.current()
            .keys
            .iter()
            .find(|k| k.algorithm == algorithm && k.state == KeyState::Active)
            .map(|k| Arc::clone(&k.key))
    }

    /// Any published key by `kid`, as this instance's snapshot holds it (no reload).
    pub fn published_key(&self, kid: &str) -> Option<Arc<SigningKey>> {
        self.current().find(kid).map(|k| Arc::clone(&k.key))
    }

    /// Whether `kid` is known to be revoked (as of this instance's last reload).
    pub fn is_revoked(&self, kid: &str) -> bool {
        self.current().revoked.contains(kid)
    }

    /// The JWKS document (RFC 7517 §5): the public part of every next, active and retired key.
    pub fn jwks_json(&self) -> Arc<str> {
        Arc::clone(&self.current().jwks)
    }

    fn current(&self) -> Arc<Snapshot> {
        let guard = self.snapshot.read().unwrap_or_else(|p| p.into_inner());
        Arc::clone(&guard)
    }

    async fn apply(
        &self,
        transition: &Transition,
        now: OffsetDateTime,
        actor: &str,
    ) -> Result<(), KeyRingError> {
        match transition {
            Transition::CreateActive(algorithm) => self
                .create(*algorithm, KeyState::Active, now, now, actor)
                .await
                .map(drop)
                .or_else(ignore_lost_race),
            Transition::StageNext {
                algorithm,
                activates_at,
            } => self
                .create(*algorithm, KeyState::Next, *activates_at, now, actor)
                .await
                .map(drop)
                .or_else(ignore_lost_race),
            Transition::Promote { kid } => {
                if self.db.promote_signing_key(kid, now).await? {
                    if let Some(metrics) = &self.metrics {
                        metrics.key_rotated();
                    }
                    self.audit(actor, "signing_key.activated", Some(kid), now)
                        .await;
                }
                Ok(())
            }
            Transition::DeleteRetiredBefore(cutoff) => {
                let deleted = self.db.delete_signing_keys_retired_before(*cutoff).await?;
                if deleted > 0 {
                    self.audit(actor, "signing_key.deleted", None, now).await;
                }
                Ok(())
            }
        }
    }

    async fn create(
        &self,
        algorithm: SigningAlgorithm,
        state: KeyState,
        activates_at: OffsetDateTime,
        now: OffsetDateTime,
        actor: &str,
    ) -> Result<String, KeyRingError> {
        // RSA generation takes a while: keep it off the async workers.
        let generation = self.pregenerated.take(algorithm).unwrap_or_else(|| {
            tokio::task::spawn_blocking(move || SigningKey::generate(algorithm))
        });
        let (key, der) = generation
            .await
            .map_err(|_| SigningKeyError::Generate(algorithm))??;
        let sealed_private_key = self
            .kek
            .seal(key.kid().as_bytes(), &der)
            .map_err(|_| SigningKeyError::Generate(algorithm))?;
        let record = SigningKeyRecord {
            kid: key.kid().to_owned(),
            algorithm,
            state,
            public_jwk: key.public_jwk().clone(),
            sealed_private_key,
            created_at: now,
            activates_at,
            retired_at: None,
        };
        self.db.insert_signing_key(&record).await?;
        let action = match state {
            KeyState::Next => "signing_key.staged",
            _ => "signing_key.created",
        };
        self.audit(actor, action, Some(&record.kid), now).await;
        tracing::info!(kid = %record.kid, %algorithm, state = state.as_str(), "created a signing key");
        Ok(record.kid)
    }

    /// Records what happened; the audit trail must not block key maintenance.
    async fn audit(&self, actor: &str, action: &str, kid: Option<&str>, now: OffsetDateTime) {
        let details = serde_json::Value::Object(serde_json::Map::new());
        self.audit_with(actor, action, kid, details, now).await;
    }

    async fn audit_with(
        &self,
        actor: &str,
        action: &str,
        kid: Option<&str>,
        details: serde_json::Value,
        now: OffsetDateTime,
    ) {
        let event = NewAuditEvent::new(actor, action, "signing_key", kid, details);
        if let Err(error) = self.db.record_audit_event(&event, now).await {
            tracing::warn!(%error, action, "could not record an audit event");
        }
    }

    /// Replaces the snapshot, unsealing and parsing only keys not already parsed. A revoked
    /// key is left out even if its row is still listed.
    fn load(
        &self,
        records: Vec<SigningKeyRecord>,
        revocations: Vec<SigningKeyRevocation>,
    ) -> Result<(), KeyRingError> {
        let revoked: HashSet<String> = revocations.into_iter().map(|r| r.kid).collect();
        let current = self.current();
        let parsed: HashMap<&str, (&Arc<SigningKey>, &Arc<VerifyingKey>)> = current
            .keys
            .iter()
            .map(|k| (k.kid.as_str(), (&k.key, &k.verifying)))
            .collect();
        let keys = records
            .into_iter()
            .filter(|record| !revoked.contains(&record.kid))
            .map(|record| {
                let (key, verifying) = match parsed.get(record.kid.as_str()) {
                    Some((key, verifying)) => (Arc::clone(key), Arc::clone(verifying)),
                    None => {
                        let key = self.unseal(&record)?;
                        let verifying = VerifyingKey::from_signing_key(&key)?;
                        (Arc::new(key), Arc::new(verifying))
                    }
                };
                Ok(RingKey {
                    kid: record.kid,
                    algorithm: record.algorithm,
                    state: record.state,
                    created_at: record.created_at,
                    activates_at: record.activates_at,
                    retired_at: record.retired_at,
                    key,
                    verifying,
                })
            })
            .collect::<Result<Vec<_>, KeyRingError>>()?;
        drop(parsed);
        drop(current);
        let jwks = serde_json::json!({
            "keys": keys.iter().map(|k| k.key.public_jwk()).collect::<Vec<_>>()
        })
        .to_string();
        let snapshot = Arc::new(Snapshot {
            keys,
            revoked,
            jwks: jwks.into(),
        });
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = snapshot;
        Ok(())
    }

    fn unseal(&self, record: &SigningKeyRecord) -> Result<SigningKey, KeyRingError> {
        let unseal_error = || KeyRingError::Unseal {
            kid: record.kid.clone(),
        };
        let der = self
            .kek
            .open(record.kid.as_bytes(), &record.sealed_private_key)
            .map_err(|_| unseal_error())?;
        let key = SigningKey::from_pkcs8(record.algorithm, &der)?;
        // The kid is the key's thumbprint: a row whose key does not match it is corrupt.
        if key.kid() != record.kid {
            return Err(unseal_error());
        }
        Ok(key)
    }
}

/// Another instance created the same key first: its key serves as well as ours would have.
fn ignore_lost_race(error: KeyRingError) -> Result<(), KeyRingError> {
    match error {
        KeyRingError::Store(StoreError::Conflict { .. }) => Ok(()),
        other => Err(other),
    }
}
