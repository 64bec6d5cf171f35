//! The one error a configuration can produce: a key and what is wrong with it, with where the
//! value came from (file or environment variable).

use super::ENV_PREFIX;

/// A configuration that cannot be used. Its `Display` is the one line printed before exiting 2.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {key}: {problem}{}", origin_suffix(.origin))]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
    origin: Option<String>,
}

fn origin_suffix(origin: &Option<String>) -> String {
    origin
        .as_ref()
        .map(|s| format!(" (from {s})"))
        .unwrap_or_default()
}

impl ConfigError {
    pub(super) fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            problem: problem.into(),
            origin: None,
        }
    }

    pub(super) fn from_figment(error: figment::Error) -> Self {
        use figment::error::Kind;
        let mut path = error.path.clone();
        let problem = match &error.kind {
            Kind::UnknownField(field, _) => {
                if path.last() != Some(field) {
                    path.push(field.clone());
                }
                "unknown key".to_owned()
            }
            Kind::Message(message) => message.clone(),
            other => other.to_string(),
        };
        let origin = error.metadata.as_ref().map(|meta| match &meta.source {
            Some(figment::Source::File(file)) => format!("file {}", file.display()),
            _ if meta.name.contains("environment") => format!(
                "environment variable {ENV_PREFIX}{}",
                path.join("__").to_uppercase()
            ),
            _ => meta.name.to_string(),
        });
        let key = if path.is_empty() {
            "<root>".to_owned()
        } else {
            // `clients.1.name` reads `clients[1].name`
            path.iter()
                .map(|part| match part.parse::<usize>() {
                    Ok(index) => format!("[{index}]"),
                    Err(_) => format!(".{part}"),
                })
                .collect::<String>()
                .trim_start_matches('.')
                .to_owned()
        };
        Self {
            key,
            problem,
            origin,
        }
    }
}
