use std::io::BufRead as _;

use clap::{Args, Subcommand};
use time::format_description::well_known::Rfc3339;

use super::Output;
use crate::admin::users::factors::{self, Factors};
use crate::admin::users::{self, NewUser};
use crate::clock::{Clock as _, SystemClock};
use crate::config::Settings;
use crate::crypto::{Password, PasswordHasher};
use crate::domain::{Role, User};
use crate::store;

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user; the password is read from standard input, never from an argument.
    Create(CreateArgs),
    /// List users.
    List {
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Show one user, by id or username.
    Show {
        user: String,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Delete a user with their grants and refresh tokens.
    Delete { user: String },
    /// End every browser session and token of a user at once ("sign out everywhere").
    SignOut { user: String },
    /// Show a user's second factors: the authenticator app and how many recovery codes are
    /// left (never a secret).
    Factors {
        user: String,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Remove a user's authenticator and recovery codes and sign them out everywhere (a lost
    /// or stolen phone); they sign in with the password alone and may set factors up again.
    ResetFactors { user: String },
    /// Give a user a role: `admin` (everything the admin API and this CLI do) or `auditor`
    /// (every read, no change), for their own tokens, through the admin console or any client.
    GrantRole { user: String, role: String },
    /// Take a role away from a user; their admin tokens stop doing what it allowed at once.
    RevokeRole { user: String, role: String },
    /// Disable a user: no sign-in, and everything they hold is refused at once.
    Disable { user: String },
    /// Enable a disabled user again (they sign in anew).
    Enable { user: String },
    /// Set a user's password, read from standard input.
    SetPassword {
        user: String,
        /// Read the password from standard input (the only way: arguments end up in shell
        /// histories and process lists).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[arg(long)]
    username: String,
    #[arg(long)]
    email: Option<String>,
    /// Mark the email address as verified.
    #[arg(long)]
    email_verified: bool,
    /// The display name (the `name` claim).
    #[arg(long = "name", value_name = "DISPLAY")]
    display_name: Option<String>,
    /// Read the password from standard input; without it the user cannot sign in yet.
    #[arg(long)]
    password_stdin: bool,
    /// A role the user holds from the start (`admin` or `auditor`; repeatable): the first
    /// administrator of a new installation.
    #[arg(long = "role", value_name = "ROLE")]
    roles: Vec<String>,
    #[arg(long, value_enum, default_value_t)]
    output: Output,
}

pub async fn run(settings: Settings, command: UsersCommand) -> anyhow::Result<()> {
    let db = store::connect(&settings.database).await?;
    let hasher = PasswordHasher::new(&settings.passwords)?;
    let now = SystemClock.now();
    match command {
        UsersCommand::Create(args) => {
            let roles = parse_roles(&args.roles)?;
            let password = args.password_stdin.then(read_password).transpose()?;
            let request = NewUser {
                username: args.username,
                email: args.email,
                email_verified: args.email_verified,
                display_name: args.display_name,
                ..NewUser::default()
            };
            let mut user =
                users::create_user(db.as_ref(), &hasher, request, password, "cli", now).await?;
            for role in roles {
                user = users::set_role(db.as_ref(), user, role, true, "cli", now).await?;
            }
            print_users(args.output, &[user], true)?;
        }
        UsersCommand::List { output } => {
            print_users(output, &users::list_all_users(db.as_ref()).await?, false)?;
        }
        UsersCommand::Show { user, output } => {
            let user = users::find_user(db.as_ref(), &user).await?;
            print_users(output, &[user], true)?;
        }
        UsersCommand::Delete { user } => {
            let deleted = users::delete_user(db.as_ref(), &user, "cli", now).await?;
            eprintln!("deleted user {} ({})", deleted.username, deleted.id);
        }
        UsersCommand::SignOut { user } => {
            let signed_out = users::sign_out(db.as_ref(), &user, "cli", now).await?;
            eprintln!(
                "signed out {} ({}) everywhere",
                signed_out.username, signed_out.id
            );
        }
        UsersCommand::Factors { user, output } => {
            let user = users::find_user(db.as_ref(), &user).await?;
            print_factors(output, &factors::list_factors(db.as_ref(), &user).await?)?;
        }
        UsersCommand::ResetFactors { user } => {
            let user = users::find_user(db.as_ref(), &user).await?;
            let removed = factors::reset_factors(db.as_ref(), &user, "cli", now).await?;
            let what = if removed {
                "removed the second factors of"
            } else {
                "no second factors to remove for"
            };
            eprintln!(
                "{what} {} ({}); signed out everywhere",
                user.username, user.id
            );
        }
        UsersCommand::GrantRole { user, role } => {
            let role = Role::parse(&role).map_err(anyhow::Error::msg)?;
            let user = users::change_role(db.as_ref(), &user, role, true, "cli", now).await?;
            eprintln!(
                "{} ({}) holds the role {}",
                user.username,
                user.id,
                role.as_str()
            );
        }
        UsersCommand::RevokeRole { user, role } => {
            let role = Role::parse(&role).map_err(anyhow::Error::msg)?;
            let user = users::change_role(db.as_ref(), &user, role, false, "cli", now).await?;
            eprintln!(
                "{} ({}) no longer holds the role {}",
                user.username,
                user.id,
                role.as_str()
            );
        }
        UsersCommand::Disable { user } => set_disabled(db.as_ref(), &user, true, now).await?,
        UsersCommand::Enable { user } => set_disabled(db.as_ref(), &user, false, now).await?,
        UsersCommand::SetPassword { user, .. } => {
            let password = read_password()?;
            users::set_password(db.as_ref(), &hasher, &user, &password, "cli", now).await?;
            eprintln!("password set for {user}");
        }
    }
    Ok(())
}

async fn set_disabled(
    db: &dyn store::Database,
    user: &str,
    disabled: bool,
    now: time::OffsetDateTime,
) -> anyhow::Result<()> {
    let found = users::find_user(db, user).await?;
    let patch = serde_json::json!({ "disabled": disabled });
    users::patch_user(db, &found.id.to_string(), &patch, None, "cli", now).await?;
    let state = if disabled { "disabled" } else { "enabled" };
    eprintln!("{state} user {} ({})", found.username, found.id);
    Ok(())
}

/// One line of standard input, without its line ending.
fn read_password() -> anyhow::Result<Password> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let trimmed = line.strip_suffix('\n').unwrap_or(&line);
    let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
    Ok(Password::new(trimmed.to_owned()))
}

/// The roles named on the command line, checked before anything is written.
fn parse_roles(names: &[String]) -> anyhow::Result<Vec<Role>> {
    names
        .iter()
        .map(|name| Role::parse(name).map_err(anyhow::Error::msg))
        .collect()
}

fn print_factors(output: Output, factors: &Factors) -> anyhow::Result<()> {
    if let Output::Json = output {
        println!("{}", serde_json::to_string_pretty(factors)?);
        return Ok(());
    }
    match &factors.totp {
        None => println!("totp: none"),
        Some(totp) => match totp.confirmed_at {
            Some(confirmed_at) => {
                println!("totp: confirmed since {}", confirmed_at.format(&Rfc3339)?)
            }
            None => println!(
                "totp: waiting for its first code since {}",
                totp.created_at.format(&Rfc3339)?
            ),
        },
    }
    println!("recovery codes left: {}", factors.recovery_codes_left);
    for passkey in &factors.passkeys {
        let last_used = match passkey.last_used_at {
            Some(at) => at.format(&Rfc3339)?,
            None => "never".to_owned(),
        };
        println!(
            "passkey {}: {:?}, added {}, last used {last_used}",
            passkey.id,
            passkey.name,
            passkey.created_at.format(&Rfc3339)?
        );
    }
    Ok(())
}

/// One record as an object (`single`), or a list as an array.
fn print_users(output: Output, list: &[User], single: bool) -> anyhow::Result<()> {
    match (output, list) {
        (Output::Json, [user]) if single => println!("{}", serde_json::to_string_pretty(user)?),
        (Output::Json, _) => println!("{}", serde_json::to_string_pretty(list)?),
        (Output::Text, _) => {
            println!(
                "{:<36}  {:<24}  {:<30}  NAME",
                "USER_ID", "USERNAME", "EMAIL"
            );
            for u in list {
                println!(
                    "{:<36}  {:<24}  {:<30}  {}",
                    u.id,
                    u.username,
                    u.email.as_ref().map_or("-", |e| e.as_str()),
                    u.display_name.as_deref().unwrap_or("-")
                );
            }
        }
    }
    Ok(())
}
