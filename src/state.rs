use std::sync::Arc;

use crate::clock::Clock;
use crate::config::{IssuerUrl, Settings};
use crate::ephemeral::EphemeralStore;
use crate::keyring::KeyRing;
use crate::store::Database;
use crate::telemetry::Metrics;

/// Everything a request handler may use; built once in `startup`, registered once.
#[derive(Debug, Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub issuer: IssuerUrl,
    pub db: Arc<dyn Database>,
    pub ephemeral: Arc<dyn EphemeralStore>,
    pub keys: Arc<KeyRing>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
}
