//! The revocations every verifier honours, as a pure structure: fed by the change feed, asked
//! with a token's facts and `now`. No I/O here.

use std::collections::HashMap;

use crate::store::{ChangeKind, NewChange};

/// What a verifier knows of a token that decides whether a revocation covers it.
#[derive(Debug, Clone, Copy)]
pub struct TokenFacts<'a> {
    /// The SHA-256 (hex) of its `jti`.
    pub jti_digest: &'a str,
    pub sub: &'a str,
    pub client_id: &'a str,
    pub grant_id: Option<&'a str>,
    pub family_id: Option<&'a str>,
    /// Space-delimited, as in the `scope` claim.
    pub scope: Option<&'a str>,
    /// Unix seconds.
    pub issued_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    /// Unix seconds: for cut-offs, tokens issued at or before it are refused.
    at: i64,
    expires_at: i64,
}

/// Live revocations by kind and subject.
#[derive(Debug, Default)]
pub struct Revocations {
    entries: HashMap<ChangeKind, HashMap<String, Entry>>,
}

impl Revocations {
    /// Takes in one change of the feed; changes that revoke nothing are ignored. Applying a
    /// change twice is harmless, so the feed may be re-read.
    pub fn apply(&mut self, change: &NewChange, now: i64) {
        if matches!(
            change.kind,
            ChangeKind::ClientChanged | ChangeKind::Keys | ChangeKind::UserChanged
        ) {
            return;
        }
        let entry = Entry {
            at: change.at.unix_timestamp(),
            expires_at: change.expires_at.unix_timestamp(),
        };
        if entry.expires_at <= now {
            return;
        }
        let subjects = self.entries.entry(change.kind).or_default();
        subjects
            .entry(change.subject.clone())
            .and_modify(|known| {
                known.at = known.at.max(entry.at);
                known.expires_at = known.expires_at.max(entry.expires_at);
            })
            .or_insert(entry);
    }

    /// Forgets revocations whose tokens have all expired at `now`.
    pub fn purge(&mut self, now: i64) {
        for subjects in self.entries.values_mut() {
            subjects.retain(|_, entry| entry.expires_at > now);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get(&self, kind: ChangeKind, subject: &str, now: i64) -> Option<Entry> {
        self.entries
            .get(&kind)?
            .get(subject)
            .copied()
            .filter(|entry| entry.expires_at > now)
    }

    /// Whether a whole-subject revocation (token, grant, family) exists.
    fn revoked(&self, kind: ChangeKind, subject: &str, now: i64) -> bool {
        self.get(kind, subject, now).is_some()
    }

    /// Whether a cut-off of `kind` for `subject` covers something issued at `issued_at`.
    fn cut_off(&self, kind: ChangeKind, subject: &str, issued_at: i64, now: i64) -> bool {
        // At or before: a token's `iat` has one-second resolution, so a token issued in the
        // second of the cut-off may predate it; refusing it errs on the safe side.
        self.get(kind, subject, now)
            .is_some_and(|entry| issued_at <= entry.at)
    }

    /// Why `token` is refused at `now`, if it is.
    pub fn refusal(&self, token: &TokenFacts<'_>, now: i64) -> Option<&'static str> {
        if self.revoked(ChangeKind::Token, token.jti_digest, now) {
            return Some("the token was revoked");
        }
        if token
            .grant_id
            .is_some_and(|g| self.revoked(ChangeKind::Grant, g, now))
        {
            return Some("its grant was revoked");
        }
        if token
            .family_id
            .is_some_and(|f| self.revoked(ChangeKind::Family, f, now))
        {
            return Some("its token family was revoked");
        }
        if self.cut_off(ChangeKind::User, token.sub, token.issued_at, now) {
            return Some("its user was signed out, disabled or deleted");
        }
        if self.cut_off(ChangeKind::Client, token.client_id, token.issued_at, now) {
            return Some("its client was disabled or deleted");
        }
        if self
            .entries
            .get(&ChangeKind::Scope)
            .is_some_and(|s| !s.is_empty())
        {
            let scopes = token.scope.unwrap_or_default().split(' ');
            for scope in scopes.filter(|s| !s.is_empty()) {
                let subject = scope_subject(token.client_id, scope);
                if self.cut_off(ChangeKind::Scope, &subject, token.issued_at, now) {
                    return Some("one of its scopes was taken from the client");
                }
            }
        }
        None
    }

    /// Whether a browser session of `user_id` that signed in at `auth_time` has been ended.
    pub fn ends_session(&self, user_id: &str, auth_time: i64, now: i64) -> bool {
        self.cut_off(ChangeKind::User, user_id, auth_time, now)
    }
}

/// The subject of a [`ChangeKind::Scope`] change.
pub fn scope_subject(client_id: &str, scope: &str) -> String {
    format!("{client_id} {scope}")
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;

    fn change(kind: ChangeKind, subject: &str, at: i64, expires_at: i64) -> NewChange {
        NewChange {
            kind,
            subject: subject.into(),
            at: OffsetDateTime::from_unix_timestamp(at).unwrap(),
            expires_at: OffsetDateTime::from_unix_timestamp(expires_at).unwrap(),
        }
    }

    fn token(issued_at: i64) -> TokenFacts<'static> {
        TokenFacts {
            jti_digest: "j",
            sub: "u",
            client_id: "c",
            grant_id: Some("g"),
            family_id: Some("f"),
            scope: Some("openid orders:read"),
            issued_at,
        }
    }

    #[test]
    fn nothing_revoked_refuses_nothing() {
        assert_eq!(Revocations::default().refusal(&token(100), 100), None);
    }

    #[test]
    fn a_token_grant_or_family_revocation_refuses_whatever_the_time() {
        for kind in [ChangeKind::Token, ChangeKind::Grant, ChangeKind::Family] {
            let subject = match kind {
                ChangeKind::Token => "j",
                ChangeKind::Grant => "g",
                _ => "f",
            };
            let mut revocations = Revocations::default();
            revocations.apply(&change(kind, subject, 50, 1000), 100);
            assert!(revocations.refusal(&token(100), 100).is_some(), "{kind:?}");
        }
    }

    #[test]
    fn a_cut_off_refuses_what_was_issued_until_then_and_nothing_later() {
        let mut revocations = Revocations::default();
        revocations.apply(&change(ChangeKind::User, "u", 100, 1000), 100);
        assert!(revocations.refusal(&token(99), 100).is_some());
        assert!(revocations.refusal(&token(100), 100).is_some());
        assert_eq!(revocations.refusal(&token(101), 101), None);
        assert!(revocations.ends_session("u", 100, 100));
        assert!(!revocations.ends_session("u", 101, 101));
    }

    #[test]
    fn a_later_cut_off_wins_and_an_earlier_one_does_not_undo_it() {
        let mut revocations = Revocations::default();
        revocations.apply(&change(ChangeKind::Client, "c", 200, 1000), 100);
        revocations.apply(&change(ChangeKind::Client, "c", 150, 1000), 100);
        assert!(revocations.refusal(&token(180), 200).is_some());
    }

    #[test]
    fn a_removed_scope_refuses_only_tokens_that_carry_it() {
        let mut revocations = Revocations::default();
        let subject = scope_subject("c", "orders:read");
        revocations.apply(&change(ChangeKind::Scope, &subject, 100, 1000), 100);
        assert!(revocations.refusal(&token(100), 100).is_some());
        let without = TokenFacts {
            scope: Some("openid"),
            ..token(100)
        };
        assert_eq!(revocations.refusal(&without, 100), None);
    }

    #[test]
    fn expired_revocations_are_forgotten() {
        let mut revocations = Revocations::default();
        revocations.apply(&change(ChangeKind::Token, "j", 50, 150), 100);
        assert!(revocations.refusal(&token(100), 149).is_some());
        revocations.purge(150);
        assert!(revocations.is_empty());
        revocations.apply(&change(ChangeKind::Token, "j", 50, 150), 200);
        assert!(revocations.is_empty(), "an expired change is not taken in");
    }
}
