//! The one composition root: binds the listener (port 0 in tests), opens the stores and the key
//! ring, and builds the HTTP server around one `AppState`.

mod background;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use tokio::task::JoinHandle;
use tracing_actix_web::TracingLogger;

use crate::admin::declare::{self, Change, DeclareError};

use crate::clock::{Clock, SystemClock};
use crate::config::{ConfigError, EncryptionKey, Settings};
use crate::crypto::{PasswordError, PasswordHasher};
use crate::current::{ChangeNotices, ClientCache, Current, FeedPolicy, UserCache};
use crate::ephemeral::{self, EphemeralError};
use crate::http;
use crate::keyring::{KeyRing, KeyRingError, Pregenerated};
use crate::oauth::throttle::RecentFailures;
use crate::oauth::verified::VerifiedTokens;
use crate::state::{AppState, Endpoints};
use crate::store::{self, StoreError};
use crate::telemetry::{self, Metrics};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot open the database: {0}")]
    Database(#[source] StoreError),
    #[error("cannot open the ephemeral store: {0}")]
    Ephemeral(#[source] EphemeralError),
    #[error("cannot open the key ring: {0}")]
    Keys(#[source] KeyRingError),
    #[error("cannot set up password hashing: {0}")]
    Passwords(#[source] PasswordError),
    /// Test mode with PostgreSQL (refused at load too).
    #[error(transparent)]
    Config(ConfigError),
    /// A declared client or user cannot be applied; when the declaration is at fault
    /// (`is_invalid`), a configuration error.
    #[error("cannot apply the declared clients and users: {0}")]
    Declarations(DeclareError),
}

pub struct Application {
    address: SocketAddr,
    state: web::Data<AppState>,
    server: Server,
    /// The management listener (`server.management_bind`) and its address, when set.
    management: Option<(SocketAddr, Server)>,
    maintenance: JoinHandle<()>,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// As [`Application::build`], with time injected (tests move it forward).
    pub async fn build_with_clock(
        mut settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartupError> {
        settings.validate_testing().map_err(StartupError::Config)?;
        // A database in memory starts empty at every start (`serve --ephemeral`): its first
        // keys are generated while it opens, and sealed under a key that never leaves memory.
        let in_memory = settings.database.url.is_in_memory();
        let pregenerated = if in_memory {
            Pregenerated::start(&settings.keys.algorithms)
        } else {
            Pregenerated::default()
        };
        if in_memory && settings.keys.encryption_key.is_none() {
            settings.keys.encryption_key = Some(EncryptionKey::generate());
        }
        let wanted = settings.server.bind.socket_addr();
        let bind_error = |source| StartupError::Bind {
            address: wanted,
            source,
        };
        let listener = TcpListener::bind(wanted).map_err(bind_error)?;
        let address = listener.local_addr().map_err(bind_error)?;
        let management_listener = settings
            .server
            .management_bind
            .map(|wanted| bind(wanted.socket_addr()))
            .transpose()?;
        let metrics = Arc::new(Metrics::default());
        let db = store::connect(&settings.database)
            .await
            .map_err(StartupError::Database)?;
        let db = telemetry::counted_database(db, Arc::clone(&metrics));
        let ephemeral = ephemeral::connect(&settings.ephemeral, Arc::clone(&clock))
            .map_err(StartupError::Ephemeral)?;
        let ephemeral = telemetry::counted_ephemeral(ephemeral, Arc::clone(&metrics));
        let notices =
            Arc::new(ChangeNotices::connect(&settings.ephemeral).map_err(StartupError::Ephemeral)?);
        let keys = KeyRing::open(Arc::clone(&db), &settings.keys)
            .await
            .map_err(StartupError::Keys)?
            .with_pregenerated(pregenerated)
            .with_metrics(Arc::clone(&metrics));
        keys.maintain(clock.now(), "system")
            .await
            .map_err(StartupError::Keys)?;
        let passwords = PasswordHasher::new(&settings.passwords)
            .map_err(StartupError::Passwords)?
            .with_timings(metrics.password_timings());
        apply_declarations(db.as_ref(), &passwords, &settings, clock.now()).await?;
        warn_of_client_ids_like_user_subjects(db.as_ref()).await;
        let issuer = settings.issuer_for(address);
        let server_settings = &settings.server;
        if address.ip().is_unspecified()
            && server_settings.issuer.is_none()
            && server_settings.public_url.is_none()
        {
            tracing::warn!(
                %issuer,
                "listening on every interface with neither server.public_url nor server.issuer \
                 set: the issuer names an address clients cannot reach; set server.public_url"
            );
        }
        let keys = Arc::new(keys);
        let current = Arc::new(Current::new(
            Arc::clone(&db),
            Arc::clone(&keys),
            FeedPolicy {
                poll_interval: Duration::from_millis(settings.cache.poll_interval_ms),
                max_staleness: Duration::from_millis(settings.cache.max_staleness_ms),
            },
            ClientCache::new(
                settings.cache.max_clients,
                Duration::from_secs(settings.cache.client_ttl_secs),
            ),
            UserCache::new(
                settings.cache.max_users,
                Duration::from_secs(settings.cache.user_ttl_secs),
            ),
        ));
        current
            .sync(clock.now())
            .await
            .map_err(StartupError::Database)?;
        let endpoints = Endpoints::for_issuer(&issuer);
        let discovery = crate::oauth::discovery::document(&settings, &issuer, &endpoints).into();
        let client_auth_failures = Arc::new(RecentFailures::new(
            settings.client_auth.max_remembered_failures,
        ));
        let verified_tokens = Arc::new(VerifiedTokens::new(
            settings.cache.max_verified_tokens,
            // a token living longer than the default is verified again after that long
            Duration::from_secs(u64::from(settings.tokens.access_token_ttl_secs)),
        ));
        let passkeys = Arc::new(crate::signin::passkey::Passkeys::for_issuer(
            issuer.as_str(),
        ));
        let state = web::Data::new(AppState {
            passkeys,
            endpoints,
            discovery,
            issuer,
            settings: Arc::new(settings),
            db,
            ephemeral,
            keys,
            current,
            passwords,
            clock,
            metrics,
            client_auth_failures,
            notices,
            verified_tokens,
        });
        let operator_routes_here = management_listener.is_none();
        let server =
            build_server(listener, state.clone(), operator_routes_here).map_err(bind_error)?;
        let management = management_listener
            .map(|(listener, management_address)| {
                build_management_server(listener, state.clone())
                    .map(|server| (management_address, server))
                    .map_err(|source| StartupError::Bind {
                        address: management_address,
                        source,
                    })
            })
            .transpose()?;
        let maintenance = tokio::spawn(background::maintain(state.clone()));
        let management_address = management.as_ref().map(|(address, _)| *address);
        tracing::info!(
            %address,
            management_address = management_address.map(tracing::field::display),
            issuer = %state.issuer,
            "gatehouse is listening"
        );
        Ok(Self {
            address,
            state,
            server,
            management,
            maintenance,
        })
    }

    /// The address actually bound (port 0 resolved).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The address the management listener actually bound (`server.management_bind`, port 0
    /// resolved), if there is one.
    pub fn management_address(&self) -> Option<SocketAddr> {
        self.management.as_ref().map(|(address, _)| *address)
    }

    /// The base URL of the address actually bound, as a local client reaches it: loopback
    /// stands in for an unspecified address (`0.0.0.0`, `::`).
    pub fn local_url(&self) -> String {
        let mut address = self.address;
        if address.ip().is_unspecified() {
            let loopback: std::net::IpAddr = if address.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            };
            address.set_ip(loopback);
        }
        format!("http://{address}")
    }

    pub fn issuer(&self) -> &str {
        self.state.issuer.as_str()
    }

    /// The state the handlers share (tests and embedders reach the stores through it).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until SIGTERM or Ctrl-C; in-flight requests finish within
    /// `server.shutdown_timeout_secs`.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        // Both listeners stop on the same signals.
        let result = match self.management {
            Some((_, management)) => {
                let (public, management) = tokio::join!(self.server, management);
                public.and(management)
            }
            None => self.server.await,
        };
        self.maintenance.abort();
        // In-flight requests have finished: let the pool close its connections cleanly (and
        // SQLite checkpoint its WAL) rather than be dropped mid-call.
        self.state.db.close().await;
        result
    }
}

/// Creates or updates the `[[clients]]` and `[[users]]` of the configuration.
async fn apply_declarations(
    db: &dyn store::Database,
    passwords: &PasswordHasher,
    settings: &Settings,
    now: time::OffsetDateTime,
) -> Result<(), StartupError> {
    let declarations = settings.declarations();
    if declarations.is_empty() {
        return Ok(());
    }
    declare::check_fixed_secrets_allowed(&declarations, settings.testing.enabled)
        .map_err(StartupError::Declarations)?;
    let plan = declare::apply(db, passwords, &declarations, "config", now)
        .await
        .map_err(StartupError::Declarations)?;
    let changed = plan.steps.iter().filter(|s| s.change != Change::Unchanged);
    for step in changed {
        tracing::info!(change = %step, "applied a declared object");
    }
    tracing::info!(
        created = plan.created(),
        updated = plan.updated(),
        unchanged = plan.unchanged(),
        "applied the declared clients and users"
    );
    Ok(())
}

/// Clients registered before ids spelled as UUIDs were refused keep working (userinfo never
/// takes their tokens for a user's), but resource servers reading `sub` could (RFC 9068 §5):
/// name each at every start, so the operator registers it again under another id.
async fn warn_of_client_ids_like_user_subjects(db: &dyn store::Database) {
    const PAGE: u32 = 500;
    let mut after = None;
    loop {
        let clients = match db.list_clients_after(after.as_ref(), PAGE).await {
            Ok(clients) => clients,
            Err(error) => {
                tracing::warn!(%error, "could not check the stored client ids");
                return;
            }
        };
        for client in clients.iter().filter(|client| client.id.reads_as_uuid()) {
            tracing::warn!(
                client_id = %client.id,
                "this client's id is a UUID, the form of a user's subject: its own tokens' `sub` \
                 reads like a user's; register it again under another id and delete this one"
            );
        }
        match clients.last() {
            Some(last) if clients.len() == PAGE as usize => {
                after = Some(store::After {
                    created_at: last.created_at,
                    id: last.id.to_string(),
                });
            }
            _ => return,
        }
    }
}

/// Binds `wanted`; the listener with the address actually bound.
fn bind(wanted: SocketAddr) -> Result<(TcpListener, SocketAddr), StartupError> {
    let bind_error = |source| StartupError::Bind {
        address: wanted,
        source,
    };
    let listener = TcpListener::bind(wanted).map_err(bind_error)?;
    let address = listener.local_addr().map_err(bind_error)?;
    Ok((listener, address))
}

/// The public listener; with `operator_routes`, `/readyz` and `/metrics` too (no management
/// listener).
fn build_server(
    listener: TcpListener,
    state: web::Data<AppState>,
    operator_routes: bool,
) -> std::io::Result<Server> {
    let settings = Arc::clone(&state.settings);
    let testing = settings.testing.enabled;
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(from_fn(http::bound_request_bodies))
            .wrap(from_fn(http::read_own_admin_changes))
            .wrap(from_fn(http::observe_request))
            .wrap(from_fn(http::carry_request_origin))
            .wrap(from_fn(http::set_request_id_header))
            .wrap(TracingLogger::<http::RequestSpan>::new())
            .wrap(from_fn(http::strict_transport_security))
            .wrap(from_fn(http::resolve_client_address))
            .configure(|cfg| http::routes(cfg, &state))
            .configure(|cfg| {
                if testing {
                    http::testing_routes(cfg);
                }
                if operator_routes {
                    http::operator_routes(cfg);
                }
            })
    })
    // A head that never completes is answered 408 and closed (the body: `http::limits`).
    .client_request_timeout(Duration::from_millis(settings.server.header_timeout_ms))
    .listen(listener)?
    .shutdown_timeout(settings.server.shutdown_timeout_secs);
    if let Some(workers) = settings.server.workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}

/// The management listener: liveness, readiness and metrics, for operators inside the
/// network. One worker is plenty for probes and scrapes.
fn build_management_server(
    listener: TcpListener,
    state: web::Data<AppState>,
) -> std::io::Result<Server> {
    let shutdown_timeout = state.settings.server.shutdown_timeout_secs;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(from_fn(http::observe_request))
            .configure(http::management_routes)
    })
    .workers(1)
    .listen(listener)?
    .shutdown_timeout(shutdown_timeout);
    Ok(server.run())
}
