//! The key lifecycle as a pure decision: given the stored keys, the policy and `now`, which
//! transitions are due. The ring carries them out; every instance may run this, because the
//! database accepts only one `active` and one `next` key per algorithm and promotes a key once.

use std::time::Duration;

use time::OffsetDateTime;

use crate::config::KeySettings;
use crate::crypto::SigningAlgorithm;
use crate::store::{KeyState, SigningKeyRecord};

/// The lifecycle settings, as durations.
#[derive(Debug, Clone)]
pub struct KeyPolicy {
    pub algorithms: Vec<SigningAlgorithm>,
    pub rotation_interval: Duration,
    pub publish_ahead: Duration,
    pub retain_retired: Duration,
}

impl From<&KeySettings> for KeyPolicy {
    fn from(settings: &KeySettings) -> Self {
        Self {
            algorithms: settings.algorithms.clone(),
            rotation_interval: Duration::from_secs(settings.rotation_interval_secs),
            publish_ahead: Duration::from_secs(settings.publish_ahead_secs),
            retain_retired: Duration::from_secs(settings.retain_retired_secs),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// No key at all for the algorithm: make one that signs at once (nothing is cached yet).
    CreateActive(SigningAlgorithm),
    /// The active key is due for replacement: publish its successor ahead of time.
    StageNext {
        algorithm: SigningAlgorithm,
        activates_at: OffsetDateTime,
    },
    /// The staged key's time has come (or nothing else can sign): it signs from now on.
    Promote { kid: String },
    /// Retired keys past their retention are no longer published.
    DeleteRetiredBefore(OffsetDateTime),
}

/// The transitions due at `now`, in the order to apply them.
pub fn due_transitions(
    keys: &[SigningKeyRecord],
    policy: &KeyPolicy,
    now: OffsetDateTime,
) -> Vec<Transition> {
    let mut due = Vec::new();
    for &algorithm in &policy.algorithms {
        let find = |state| {
            keys.iter()
                .find(|k| k.algorithm == algorithm && k.state == state)
        };
        match (find(KeyState::Active), find(KeyState::Next)) {
            (None, None) => due.push(Transition::CreateActive(algorithm)),
            (None, Some(next)) => due.push(Transition::Promote {
                kid: next.kid.clone(),
            }),
            (Some(_), Some(next)) if next.activates_at <= now => due.push(Transition::Promote {
                kid: next.kid.clone(),
            }),
            (Some(active), None)
                if active.activates_at + policy.rotation_interval <= now + policy.publish_ahead =>
            {
                due.push(Transition::StageNext {
                    algorithm,
                    activates_at: now + policy.publish_ahead,
                });
            }
            _ => {}
        }
    }
    let cutoff = now - policy.retain_retired;
    if keys
        .iter()
        .any(|k| k.retired_at.is_some_and(|retired| retired < cutoff))
    {
        due.push(Transition::DeleteRetiredBefore(cutoff));
    }
    due
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    fn policy() -> KeyPolicy {
        KeyPolicy {
            algorithms: vec![SigningAlgorithm::Es256],
            rotation_interval: 30 * DAY,
            publish_ahead: DAY,
            retain_retired: 7 * DAY,
        }
    }

    fn key(kid: &str, state: KeyState, activates_at: OffsetDateTime) -> SigningKeyRecord {
        SigningKeyRecord {
            kid: kid.into(),
            algorithm: SigningAlgorithm::Es256,
            state,
            public_jwk: serde_json::json!({}),
            sealed_private_key: vec![],
            created_at: activates_at,
            activates_at,
            retired_at: (state == KeyState::Retired).then_some(activates_at),
        }
    }

    #[test]
    fn an_empty_ring_gets_an_active_key_per_algorithm() {
        let now = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(
            due_transitions(&[], &policy(), now),
            vec![Transition::CreateActive(SigningAlgorithm::Es256)]
        );
    }

    #[test]
    fn the_successor_is_staged_one_publish_ahead_before_the_rotation_is_due() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let keys = [key("a", KeyState::Active, t0)];
        assert!(due_transitions(&keys, &policy(), t0 + 28 * DAY).is_empty());
        assert_eq!(
            due_transitions(&keys, &policy(), t0 + 29 * DAY),
            vec![Transition::StageNext {
                algorithm: SigningAlgorithm::Es256,
                activates_at: t0 + 30 * DAY
            }]
        );
    }

    #[test]
    fn a_staged_key_is_promoted_only_once_its_time_has_come() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let keys = [
            key("a", KeyState::Active, t0),
            key("b", KeyState::Next, t0 + DAY),
        ];
        assert!(due_transitions(&keys, &policy(), t0).is_empty());
        assert_eq!(
            due_transitions(&keys, &policy(), t0 + DAY),
            vec![Transition::Promote { kid: "b".into() }]
        );
    }

    #[test]
    fn retired_keys_are_deleted_after_their_retention() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let keys = [
            key("a", KeyState::Retired, t0),
            key("b", KeyState::Active, t0),
        ];
        assert!(due_transitions(&keys, &policy(), t0 + 7 * DAY).is_empty());
        let later = t0 + 7 * DAY + Duration::from_secs(1);
        assert_eq!(
            due_transitions(&keys, &policy(), later),
            vec![Transition::DeleteRetiredBefore(later - 7 * DAY)]
        );
    }
}
