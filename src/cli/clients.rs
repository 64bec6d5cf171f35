use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::json;
use time::format_description::well_known::Rfc3339;

use super::Output;
use crate::admin::clients::{self, ADMIN_READ_SCOPE, ADMIN_SCOPE, NewClient};
use crate::clock::{Clock as _, SystemClock};
use crate::config::Settings;
use crate::domain::Client;
use crate::store;

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a client; prints its id and, once, its secret.
    Create(Box<CreateArgs>),
    /// List registered clients.
    List {
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Show one client.
    Show {
        id: String,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Delete a client and everything issued to it.
    Delete { id: String },
    /// Disable a client: it can do nothing, and its tokens are refused at once.
    Disable { id: String },
    /// Enable a disabled client again.
    Enable { id: String },
    /// Issue a new secret; the previous one stays valid for --overlap seconds.
    RotateSecret {
        id: String,
        /// How long the previous secret stays valid (0 ends it now, e.g. after a leak).
        #[arg(long, default_value_t = 86_400, value_name = "SECONDS")]
        overlap: u64,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[arg(long)]
    name: String,
    /// A fixed client id (default: a random one).
    #[arg(long)]
    id: Option<String>,
    /// A public client (no secret; authenticates with `none`).
    #[arg(long)]
    public: bool,
    #[arg(long = "grant-type", value_name = "G")]
    grant_types: Vec<String>,
    #[arg(long = "scope", value_name = "S")]
    scopes: Vec<String>,
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// Where the client may send a browser after logout.
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    post_logout_redirect_uris: Vec<String>,
    /// A resource the client may address (RFC 8707); the first is its tokens' default `aud`.
    #[arg(long = "audience", value_name = "AUD")]
    audiences: Vec<String>,
    /// client_secret_basic (default), client_secret_post, private_key_jwt or none.
    #[arg(long = "auth-method", value_name = "M")]
    auth_method: Option<String>,
    #[arg(long = "access-token-ttl", value_name = "SECONDS")]
    access_token_ttl: Option<u32>,
    /// The algorithm of its ID tokens: RS256 (the default), ES256 or EdDSA.
    #[arg(long = "id-token-alg", value_name = "ALG")]
    id_token_alg: Option<String>,
    /// The client's public keys for private_key_jwt: a file holding a JWK Set.
    #[arg(long, value_name = "FILE")]
    jwks: Option<PathBuf>,
    /// Its users are not asked for consent.
    #[arg(long)]
    first_party: bool,
    /// Every sign-in to it needs a second factor (`urn:gatehouse:acr:mfa`): a password alone
    /// is stepped up.
    #[arg(long)]
    require_mfa: bool,
    /// An administrator of this Gatehouse: may get client_credentials tokens with the scopes
    /// `gatehouse:admin` and `gatehouse:admin:read`, which the /v1 API requires.
    #[arg(long)]
    admin: bool,
    #[arg(long, value_enum, default_value_t)]
    output: Output,
}

pub async fn run(settings: Settings, command: ClientsCommand) -> anyhow::Result<()> {
    let db = store::connect(&settings.database).await?;
    let now = SystemClock.now();
    match command {
        ClientsCommand::Create(args) => {
            let output = args.output;
            let signing = &settings.keys.algorithms;
            let request = args.into_request()?;
            let created = clients::create_client(db.as_ref(), request, signing, "cli", now).await?;
            let secret = created.secret.as_ref().map(|s| s.expose().to_owned());
            match output {
                Output::Json => {
                    let mut record = client_json(&created.client);
                    record["client_secret"] = json!(secret);
                    println!("{}", serde_json::to_string_pretty(&record)?);
                }
                Output::Text => {
                    println!("client_id: {}", created.client.id);
                    if let Some(secret) = secret {
                        println!("client_secret: {secret}");
                        eprintln!("The secret is shown only this once: store it now.");
                    }
                }
            }
        }
        ClientsCommand::List { output } => {
            let all = clients::list_all_clients(db.as_ref()).await?;
            match output {
                Output::Json => {
                    let records: Vec<_> = all.iter().map(client_json).collect();
                    println!("{}", serde_json::to_string_pretty(&records)?);
                }
                Output::Text => {
                    println!(
                        "{:<40}  {:<12}  {:<19}  NAME",
                        "CLIENT_ID", "TYPE", "AUTH_METHOD"
                    );
                    for c in &all {
                        println!(
                            "{:<40}  {:<12}  {:<19}  {}",
                            c.id, c.client_type, c.auth_method, c.name
                        );
                    }
                }
            }
        }
        ClientsCommand::Show { id, output } => {
            let client = clients::find_client(db.as_ref(), &id).await?;
            match output {
                Output::Json => {
                    println!("{}", serde_json::to_string_pretty(&client_json(&client))?)
                }
                Output::Text => print_client(&client),
            }
        }
        ClientsCommand::Delete { id } => {
            clients::delete_client(db.as_ref(), &id, None, "cli", now).await?;
            eprintln!("deleted client {id}");
        }
        ClientsCommand::Disable { id } => {
            set_disabled(db.as_ref(), &settings, &id, true, now).await?;
        }
        ClientsCommand::Enable { id } => {
            set_disabled(db.as_ref(), &settings, &id, false, now).await?;
        }
        ClientsCommand::RotateSecret {
            id,
            overlap,
            output,
        } => {
            let rotated = clients::rotate_client_secret(
                db.as_ref(),
                &id,
                Duration::from_secs(overlap),
                "cli",
                now,
            )
            .await?;
            let until = rotated.previous_expire_at.format(&Rfc3339)?;
            match output {
                Output::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "client_id": id,
                        "client_secret": rotated.secret.expose(),
                        "previous_secrets_expire_at": until,
                    }))?
                ),
                Output::Text => {
                    println!("client_id: {id}");
                    println!("client_secret: {}", rotated.secret.expose());
                    eprintln!("The previous secret stays valid until {until}.");
                }
            }
        }
    }
    Ok(())
}

impl CreateArgs {
    fn into_request(self) -> anyhow::Result<NewClient> {
        let jwks = match &self.jwks {
            Some(path) => Some(serde_json::from_str(&std::fs::read_to_string(path)?)?),
            None => None,
        };
        let (mut grant_types, mut scopes) = (self.grant_types, self.scopes);
        if self.admin {
            for scope in [ADMIN_SCOPE, ADMIN_READ_SCOPE] {
                if !scopes.iter().any(|s| s == scope) {
                    scopes.push(scope.to_owned());
                }
            }
            if !grant_types.is_empty() && !grant_types.iter().any(|g| g == "client_credentials") {
                grant_types.push("client_credentials".to_owned());
            }
        }
        Ok(NewClient {
            client_id: self.id,
            name: self.name,
            public: self.public,
            grant_types,
            scopes,
            redirect_uris: self.redirect_uris,
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            audiences: self.audiences,
            token_endpoint_auth_method: self.auth_method,
            access_token_ttl_secs: self.access_token_ttl,
            id_token_signed_response_alg: self.id_token_alg,
            jwks,
            first_party: self.first_party,
            require_mfa: self.require_mfa,
            disabled: false,
        })
    }
}

fn client_json(client: &Client) -> serde_json::Value {
    serde_json::to_value(client).unwrap_or_default()
}

fn print_client(client: &Client) {
    let list = |items: Vec<&str>| {
        if items.is_empty() {
            "-".to_owned()
        } else {
            items.join(" ")
        }
    };
    println!("client_id:                  {}", client.id);
    println!("name:                       {}", client.name);
    println!("client_type:                {}", client.client_type);
    println!("token_endpoint_auth_method: {}", client.auth_method);
    println!(
        "grant_types:                {}",
        list(client.grant_types.iter().map(|g| g.as_str()).collect())
    );
    println!(
        "scopes:                     {}",
        list(client.scopes.iter().map(|s| s.as_str()).collect())
    );
    println!(
        "redirect_uris:              {}",
        list(client.redirect_uris.iter().map(|u| u.as_str()).collect())
    );
    println!(
        "audiences:                  {}",
        list(client.audiences.iter().map(|a| a.as_str()).collect())
    );
    println!(
        "access_token_ttl_secs:      {}",
        client
            .access_token_ttl_secs
            .map_or("default".to_owned(), |t| t.to_string())
    );
    println!("first_party:                {}", client.first_party);
    println!("require_mfa:                {}", client.require_mfa);
    println!("disabled:                   {}", client.disabled);
}

async fn set_disabled(
    db: &dyn store::Database,
    settings: &Settings,
    id: &str,
    disabled: bool,
    now: time::OffsetDateTime,
) -> anyhow::Result<()> {
    let patch = serde_json::json!({ "disabled": disabled });
    let signing = &settings.keys.algorithms;
    clients::patch_client(db, id, &patch, signing, None, "cli", now).await?;
    let state = if disabled { "disabled" } else { "enabled" };
    eprintln!("{state} client {id}");
    Ok(())
}
