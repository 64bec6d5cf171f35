use super::*;

#[test]
fn public_clients_get_no_refresh_grace_window_by_default() {
    let tokens = TokenSettings::default();
    assert_eq!(tokens.public_refresh_token_grace_secs, 0);
    assert_eq!(tokens.refresh_token_grace_secs, 30);
    assert!(Settings::default().validate().is_ok());
}

#[test]
fn the_management_listener_is_off_by_default_and_apart_from_the_public_one() {
    assert!(Settings::default().server.management_bind.is_none());
    let mut settings = Settings::default();
    settings.server.management_bind = Some("127.0.0.1:9090".parse().unwrap());
    assert!(settings.validate().is_ok());
    settings.server.management_bind = Some(settings.server.bind);
    assert_eq!(
        settings.validate().unwrap_err().key,
        "server.management_bind"
    );
}

#[test]
fn public_scopes_are_scopes_and_never_admin_scopes() {
    let mut settings = Settings::default();
    settings.discovery.public_scopes = vec![crate::domain::Scope::parse("orders:read").unwrap()];
    assert!(settings.validate().is_ok());
    for admin in ["gatehouse:admin", "gatehouse:admin:read"] {
        let mut settings = Settings::default();
        settings.discovery.public_scopes = vec![crate::domain::Scope::parse(admin).unwrap()];
        assert_eq!(
            settings.validate().unwrap_err().key,
            "discovery.public_scopes"
        );
    }
    let bad: Result<Settings, _> = Figment::from(Toml::string(
        "[discovery]\npublic_scopes = [\"two words\"]\n",
    ))
    .extract();
    assert!(bad.is_err());
}

#[test]
fn a_transaction_pooler_is_postgres_only_and_needs_a_direct_url_to_migrate() {
    let pooled: Settings = Figment::from(Toml::string(
        "[database]\nurl = \"postgres://app@pgbouncer:6432/gh\"\npooler = \"transaction\"\n\
         direct_url = \"postgres://app@db:5432/gh\"\n",
    ))
    .extract()
    .unwrap();
    assert_eq!(pooled.database.pooler, Pooler::Transaction);
    assert!(pooled.validate().is_ok());

    let mut no_direct = pooled.clone();
    no_direct.database.direct_url = None;
    assert_eq!(no_direct.validate().unwrap_err().key, "database.direct_url");
    no_direct.database.migrate_on_start = false;
    assert!(
        no_direct.validate().is_ok(),
        "migrated by `gatehouse migrate`"
    );

    let mut sqlite = Settings::default();
    sqlite.database.pooler = Pooler::Transaction;
    sqlite.database.migrate_on_start = false;
    assert_eq!(sqlite.validate().unwrap_err().key, "database.pooler");

    let mut direct_sqlite = pooled;
    direct_sqlite.database.direct_url = Some(DatabaseUrl::Sqlite("sqlite://x.db".into()));
    assert_eq!(
        direct_sqlite.validate().unwrap_err().key,
        "database.direct_url"
    );
    assert_eq!(Settings::default().database.pooler, Pooler::None);
}

#[test]
fn each_refresh_grace_window_is_bounded_at_load() {
    let mut confidential = Settings::default();
    confidential.tokens.refresh_token_grace_secs = MAX_REFRESH_TOKEN_GRACE_SECS + 1;
    let mut public = Settings::default();
    public.tokens.public_refresh_token_grace_secs = MAX_REFRESH_TOKEN_GRACE_SECS + 1;
    let mut longest = Settings::default();
    longest.tokens.public_refresh_token_grace_secs = MAX_REFRESH_TOKEN_GRACE_SECS;

    assert_eq!(
        confidential.validate().unwrap_err().key,
        "tokens.refresh_token_grace_secs"
    );
    assert_eq!(
        public.validate().unwrap_err().key,
        "tokens.public_refresh_token_grace_secs"
    );
    assert!(longest.validate().is_ok());
}

#[test]
fn client_assertions_live_an_hour_by_default_and_at_most_a_day() {
    assert_eq!(
        TokenSettings::default().client_assertion_max_lifetime_secs,
        3600
    );
    let mut longest = Settings::default();
    longest.tokens.client_assertion_max_lifetime_secs = MAX_CLIENT_ASSERTION_LIFETIME_SECS;
    let mut too_long = Settings::default();
    too_long.tokens.client_assertion_max_lifetime_secs = MAX_CLIENT_ASSERTION_LIFETIME_SECS + 1;
    let mut zero = Settings::default();
    zero.tokens.client_assertion_max_lifetime_secs = 0;

    assert!(longest.validate().is_ok());
    for bad in [too_long, zero] {
        assert_eq!(
            bad.validate().unwrap_err().key,
            "tokens.client_assertion_max_lifetime_secs"
        );
    }
}

#[test]
fn cors_origins_parse_as_origins_and_never_as_a_wildcard() {
    let origins: Result<Settings, _> = Figment::from(Toml::string(
        "[server]\ncors_allowed_origins = [\"https://App.example.com/\"]\n",
    ))
    .extract();
    let origins = origins.unwrap().server.cors_allowed_origins;
    assert_eq!(origins[0].as_str(), "https://app.example.com");
    for bad in ["*", "https://app.example.com/callback"] {
        let refused: Result<Settings, _> = Figment::from(Toml::string(&format!(
            "[server]\ncors_allowed_origins = [\"{bad}\"]\n"
        )))
        .extract();
        assert!(refused.is_err(), "{bad}");
    }
}

#[test]
fn request_timeouts_are_on_and_bounded() {
    assert_eq!(ServerSettings::default().header_timeout_ms, 5_000);
    assert_eq!(ServerSettings::default().body_timeout_ms, 10_000);
    for (key, set) in [
        (
            "server.header_timeout_ms",
            (|s: &mut Settings, v| s.server.header_timeout_ms = v) as fn(&mut Settings, u64),
        ),
        ("server.body_timeout_ms", |s: &mut Settings, v| {
            s.server.body_timeout_ms = v
        }),
    ] {
        for bad in [0, 60_001] {
            let mut settings = Settings::default();
            set(&mut settings, bad);
            assert_eq!(settings.validate().unwrap_err().key, key);
        }
    }
}
