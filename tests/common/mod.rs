//! Backends for the test binaries. SQLite and memory always run; PostgreSQL and Redis run when
//! `TEST_DATABASE_URL` / `TEST_REDIS_URL` are set (Sentinel, Cluster and the pooler when
//! `TEST_REDIS_SENTINEL_URL`, `TEST_REDIS_CLUSTER_URL`, `TEST_DATABASE_POOLER_URL` are), and
//! under `CI=true` their absence fails the run instead of skipping it.
#![allow(dead_code)]

pub mod totp;

use std::sync::Once;

/// The PostgreSQL server to test against (a maintenance URL such as
/// `postgres://postgres@127.0.0.1:5432/postgres`), or `None` to skip.
pub fn postgres_url() -> Option<String> {
    service_url("TEST_DATABASE_URL", "PostgreSQL")
}

/// The Redis server to test against, or `None` to skip.
pub fn redis_url() -> Option<String> {
    service_url("TEST_REDIS_URL", "Redis")
}

/// Redis behind Sentinel (`redis+sentinel://HOST:PORT/SERVICE`), or `None` to skip;
/// `.ci/scale-out-services` starts one.
pub fn redis_sentinel_url() -> Option<String> {
    service_url("TEST_REDIS_SENTINEL_URL", "Redis Sentinel")
}

/// A Redis Cluster (`redis+cluster://HOST:PORT,…`), or `None` to skip.
pub fn redis_cluster_url() -> Option<String> {
    service_url("TEST_REDIS_CLUSTER_URL", "Redis Cluster")
}

/// A PostgreSQL transaction-mode pooler in front of `TEST_DATABASE_URL`'s server (a URL like
/// it, with the pooler's port), or `None` to skip.
pub fn postgres_pooler_url() -> Option<String> {
    service_url("TEST_DATABASE_POOLER_URL", "PostgreSQL pooler")
}

fn service_url(variable: &str, service: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{variable} is not set, but CI=true: the {service} tests must run in CI")
        }
        _ => {
            static NOTICE: Once = Once::new();
            NOTICE.call_once(|| {
                eprintln!("notice: skipping {service} tests: {variable} is not set");
            });
            None
        }
    }
}

/// A new, empty PostgreSQL database for one test, so tests never share state. `.ci/run` drops
/// the `gatehouse_test_*` databases of earlier runs.
pub async fn fresh_postgres_database(server_url: &str) -> String {
    use sqlx::Connection as _;
    let name = format!("gatehouse_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(server_url)
        .await
        .expect("connect to TEST_DATABASE_URL");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create a test database");
    let mut url = url::Url::parse(server_url).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&name);
    url.to_string()
}

/// `database_url`'s database, reached through the server at `via` (a pooler in front of it).
pub fn same_database_via(database_url: &str, via: &str) -> String {
    let database = url::Url::parse(database_url).expect("a database URL");
    let mut url = url::Url::parse(via).expect("TEST_DATABASE_POOLER_URL is a URL");
    url.set_path(database.path());
    url.to_string()
}
