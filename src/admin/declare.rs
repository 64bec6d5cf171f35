//! Declared clients and users (`[[clients]]` and `[[users]]` of the configuration, or of a file
//! given to `gatehouse apply`): compared with the database, then made true through the same use
//! cases as the admin API, so a declaration is valid exactly when the same `/v1` request would
//! be. Applying twice changes nothing the second time.
//!
//! A declaration describes its object whole (as a `PUT` does): a field left out takes its
//! default. What it does not declare is left alone: a user's password when it declares none, a
//! client's secret when it declares none, and every object it does not name.

mod desired;

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use time::OffsetDateTime;

use self::desired::{
    client_changes, client_differences, desired_client, desired_user, new_client, new_user,
    user_changes, user_differences,
};
use super::{AdminError, FieldError, audit, clients, describe, users};
use crate::config::{Declarations, DeclaredClient, DeclaredUser};
use crate::crypto::{PasswordHasher, SigningAlgorithm, Verification};
use crate::domain::{Client, Role, User};
use crate::store::{Database, StoreError};

/// How often one object is planned again after another instance changed it meanwhile (several
/// instances starting at once apply the same declarations).
const ATTEMPTS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Client,
    User,
}

/// What applying a declaration does (or did) to its object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Create,
    /// The fields that differ, by their API names.
    Update(Vec<&'static str>),
    Unchanged,
}

/// One declared object and its change: `create client billing`, `update user ann: email`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub kind: Kind,
    /// The client id or the username.
    pub name: String,
    pub change: Change,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Client => "client",
            Kind::User => "user",
        };
        match &self.change {
            Change::Create => write!(f, "create {kind} {}", self.name),
            Change::Update(fields) => {
                write!(f, "update {kind} {}: {}", self.name, fields.join(", "))
            }
            Change::Unchanged => write!(f, "unchanged {kind} {}", self.name),
        }
    }
}

/// Every declared object in declaration order, clients first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
}

impl Plan {
    pub fn created(&self) -> usize {
        self.count(|c| matches!(c, Change::Create))
    }

    pub fn updated(&self) -> usize {
        self.count(|c| matches!(c, Change::Update(_)))
    }

    pub fn unchanged(&self) -> usize {
        self.count(|c| matches!(c, Change::Unchanged))
    }

    fn count(&self, which: impl Fn(&Change) -> bool) -> usize {
        self.steps.iter().filter(|s| which(&s.change)).count()
    }
}

/// A declared object that cannot be applied, named by its place and its id:
/// `clients[1] (client_id "billing"): redirect_uris[0]: …`.
#[derive(Debug, thiserror::Error)]
#[error("{object}: {}", self.problem())]
pub struct DeclareError {
    pub object: String,
    pub error: AdminError,
}

impl DeclareError {
    /// Whether the declaration itself is wrong (rather than the database failing).
    pub fn is_invalid(&self) -> bool {
        matches!(self.error, AdminError::Invalid(_))
    }

    /// What is wrong, in one line.
    pub fn problem(&self) -> String {
        match &self.error {
            AdminError::Invalid(errors) => describe(errors),
            other => {
                let mut line = other.to_string();
                let mut cause = std::error::Error::source(other);
                while let Some(error) = cause {
                    line = format!("{line}: {error}");
                    cause = error.source();
                }
                line
            }
        }
    }
}

/// Checks every declaration as the admin API would, without the database: the first one
/// refused is named with all its problems. Run at configuration load.
/// A fixed `client_secret` is for tests only: outside test mode (`testing.enabled`, which
/// `--ephemeral` sets and only the in-memory database allows) a declared one is refused, so a secret
/// written into a config file can never become a production client's.
pub fn check_fixed_secrets_allowed(
    declarations: &Declarations,
    testing_enabled: bool,
) -> Result<(), DeclareError> {
    if testing_enabled {
        return Ok(());
    }
    match declarations
        .clients
        .iter()
        .enumerate()
        .find(|(_, declared)| declared.client_secret.is_some())
    {
        Some((i, declared)) => Err(client_error(
            i,
            declared,
            invalid(
                "client_secret",
                "a fixed secret is for tests only: use serve --ephemeral (or testing.enabled \
                 with the in-memory database); elsewhere the server generates the secret",
            ),
        )),
        None => Ok(()),
    }
}

pub fn check(declarations: &Declarations) -> Result<(), DeclareError> {
    let mut ids = HashSet::new();
    for (i, declared) in declarations.clients.iter().enumerate() {
        let client = desired_client(declared, &declarations.signing_algorithms)
            .map_err(|e| client_error(i, declared, e))?;
        if !ids.insert(client.id) {
            return Err(client_error(
                i,
                declared,
                invalid("client_id", "is declared twice"),
            ));
        }
    }
    let mut usernames = HashSet::new();
    for (i, declared) in declarations.users.iter().enumerate() {
        let user = desired_user(declared).map_err(|e| user_error(i, declared, e))?;
        if !usernames.insert(user.username) {
            return Err(user_error(
                i,
                declared,
                invalid("username", "is declared twice"),
            ));
        }
    }
    Ok(())
}

/// What applying `declarations` would do, changing nothing (`--dry-run`).
pub async fn plan(
    db: &dyn Database,
    hasher: &PasswordHasher,
    declarations: &Declarations,
    now: OffsetDateTime,
) -> Result<Plan, DeclareError> {
    let mut plan = Plan::default();
    for (i, declared) in declarations.clients.iter().enumerate() {
        let (change, _) = plan_client(db, declared, &declarations.signing_algorithms, now)
            .await
            .map_err(|e| client_error(i, declared, e))?;
        plan.steps.push(client_step(declared, change));
    }
    for (i, declared) in declarations.users.iter().enumerate() {
        let (change, _) = plan_user(db, hasher, declared)
            .await
            .map_err(|e| user_error(i, declared, e))?;
        plan.steps.push(user_step(declared, change));
    }
    Ok(plan)
}

/// Creates or updates every declared object, and returns what it did. Every declaration is
/// checked before the first change; a failure afterwards (the database) leaves the objects
/// before it applied, and applying again completes the rest.
pub async fn apply(
    db: &dyn Database,
    hasher: &PasswordHasher,
    declarations: &Declarations,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Plan, DeclareError> {
    check(declarations)?;
    let mut plan = Plan::default();
    for (i, declared) in declarations.clients.iter().enumerate() {
        let signing = &declarations.signing_algorithms;
        let change = retrying(|| apply_client(db, declared, signing, actor, now))
            .await
            .map_err(|e| client_error(i, declared, e))?;
        plan.steps.push(client_step(declared, change));
    }
    for (i, declared) in declarations.users.iter().enumerate() {
        let change = retrying(|| apply_user(db, hasher, declared, actor, now))
            .await
            .map_err(|e| user_error(i, declared, e))?;
        plan.steps.push(user_step(declared, change));
    }
    Ok(plan)
}

/// Runs `attempt` again when another writer got there first (a taken id, a stale version).
async fn retrying<F, Fut>(mut attempt: F) -> Result<Change, AdminError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Change, AdminError>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(AdminError::Conflict(_) | AdminError::PreconditionFailed) if tries < ATTEMPTS => {
                tries += 1;
            }
            outcome => return outcome,
        }
    }
}

async fn plan_client(
    db: &dyn Database,
    declared: &DeclaredClient,
    signing: &[SigningAlgorithm],
    now: OffsetDateTime,
) -> Result<(Change, Option<Client>), AdminError> {
    let desired = desired_client(declared, signing)?;
    let current = match db.find_client(&desired.id).await {
        Ok(current) => current,
        Err(StoreError::NotFound) => return Ok((Change::Create, None)),
        Err(error) => return Err(error.into()),
    };
    clients::check_secret_kept(&current, &desired)?;
    let mut fields = client_differences(&current, &desired);
    if let Some(secret) = &declared.client_secret {
        let live = db.live_client_secrets(&current.id, now).await?;
        // Only a secret that does not expire counts: one rotated out is on its way out.
        let lasting = live
            .iter()
            .filter(|r| r.expires_at.is_none())
            .map(|r| &r.digest);
        if !secret.to_plain().matches_any(lasting) {
            fields.push("client_secret");
        }
    }
    Ok((change_of(fields), Some(current)))
}

async fn apply_client(
    db: &dyn Database,
    declared: &DeclaredClient,
    signing: &[SigningAlgorithm],
    actor: &str,
    now: OffsetDateTime,
) -> Result<Change, AdminError> {
    let (change, current) = plan_client(db, declared, signing, now).await?;
    let secret = declared.client_secret.as_ref().map(|s| s.to_plain());
    match (&change, current) {
        (Change::Create, _) => {
            let request = new_client(declared);
            clients::create_client_with_secret(db, request, signing, secret, actor, now).await?;
        }
        (Change::Update(fields), Some(current)) => {
            let id = current.id.as_str();
            if fields.iter().any(|f| *f != "client_secret") {
                // Whether a client is disabled is an operator's decision, not the declaration's.
                let changes = clients::ClientChanges {
                    disabled: current.disabled,
                    ..client_changes(declared)
                };
                let version = Some(current.version);
                clients::replace_client(db, id, changes, signing, version, actor, now).await?;
            }
            if let Some(secret) = secret.filter(|_| fields.contains(&"client_secret")) {
                // No overlap: the declaration says which secret is valid now.
                clients::rotate_client_secret_to(db, id, secret, Duration::ZERO, actor, now)
                    .await?;
            }
        }
        _ => {}
    }
    Ok(change)
}

async fn plan_user(
    db: &dyn Database,
    hasher: &PasswordHasher,
    declared: &DeclaredUser,
) -> Result<(Change, Option<User>), AdminError> {
    let desired = desired_user(declared)?;
    let current = match db.find_user_by_username(&desired.username).await {
        Ok(current) => current,
        Err(StoreError::NotFound) => return Ok((Change::Create, None)),
        Err(error) => return Err(error.into()),
    };
    let mut fields = user_differences(&current, &desired, declared);
    if let Some(password) = &declared.password {
        let stored = current.password_hash.as_deref();
        let verified = match stored {
            Some(_) => hasher.verify(&password.to_password(), stored).await?,
            None => Verification::Invalid,
        };
        // A hash made with older parameters still matches; the next sign-in upgrades it.
        if verified == Verification::Invalid {
            fields.push("password");
        }
    }
    if let Some(hash) = &declared.password_hash
        && current.password_hash.as_deref() != Some(hash.as_str())
    {
        fields.push("password_hash");
    }
    Ok((change_of(fields), Some(current)))
}

async fn apply_user(
    db: &dyn Database,
    hasher: &PasswordHasher,
    declared: &DeclaredUser,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Change, AdminError> {
    let (change, current) = plan_user(db, hasher, declared).await?;
    let password = declared.password.as_ref().map(|p| p.to_password());
    let (user, fields) = match (&change, current) {
        (Change::Create, _) => {
            let request = new_user(declared);
            let user =
                users::create_user(db, hasher, request, password.clone(), actor, now).await?;
            // Creation knows no `disabled`, no hash and no role: the API too sets them
            // afterwards.
            let mut later = vec!["password_hash"];
            if declared.disabled {
                later.push("disabled");
            }
            if declared
                .roles
                .as_ref()
                .is_some_and(|roles| !roles.is_empty())
            {
                later.push("roles");
            }
            (user, later)
        }
        (Change::Update(fields), Some(current)) => (current, fields.clone()),
        _ => return Ok(change),
    };
    let id = user.id.to_string();
    let profile = |f: &&str| !matches!(*f, "password" | "password_hash" | "roles");
    let mut user = user;
    if fields.iter().any(profile) {
        let changes = user_changes(declared);
        user = users::replace_user(db, &id, changes, Some(user.version), actor, now).await?;
    }
    if fields.contains(&"roles") {
        let wanted = desired_user(declared)?.roles;
        for role in Role::ALL {
            let held = wanted.contains(role);
            user = users::set_role(db, user, role, held, actor, now).await?;
        }
    }
    if let Some(password) = password.filter(|_| fields.contains(&"password")) {
        users::set_password(db, hasher, &id, &password, actor, now).await?;
    }
    if let Some(hash) = &declared.password_hash
        && fields.contains(&"password_hash")
    {
        db.set_password_hash(user.id, hash.as_str(), now).await?;
        audit(db, actor, "user.password_set", "user", &id, now).await;
    }
    Ok(change)
}

fn change_of(fields: Vec<&'static str>) -> Change {
    if fields.is_empty() {
        Change::Unchanged
    } else {
        Change::Update(fields)
    }
}

fn client_step(declared: &DeclaredClient, change: Change) -> Step {
    Step {
        kind: Kind::Client,
        name: declared.client_id.clone(),
        change,
    }
}

fn user_step(declared: &DeclaredUser, change: Change) -> Step {
    Step {
        kind: Kind::User,
        name: declared.username.trim().to_lowercase(),
        change,
    }
}

fn client_error(i: usize, declared: &DeclaredClient, error: AdminError) -> DeclareError {
    DeclareError {
        object: format!("clients[{i}] (client_id {:?})", declared.client_id),
        error,
    }
}

fn user_error(i: usize, declared: &DeclaredUser, error: AdminError) -> DeclareError {
    DeclareError {
        object: format!("users[{i}] (username {:?})", declared.username),
        error,
    }
}

fn invalid(field: &str, problem: &str) -> AdminError {
    AdminError::Invalid(vec![FieldError {
        field: field.to_owned(),
        problem: problem.to_owned(),
    }])
}

#[cfg(test)]
mod tests;
