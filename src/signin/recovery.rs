//! Recovery codes: ten single-use codes shown once at enrolment, for the day the authenticator
//! is lost. Each is stored only as a SHA-256 digest: like client secrets they are random enough
//! (58.9 bits each) that no dictionary attacks a digest, so no password hash is needed, and a code
//! is found by its digest alone.

use crate::crypto::{random_bytes, sha256};

/// How many codes one enrolment hands out.
pub const COUNT: usize = 10;

/// Digits and upper-case letters without 0 O 1 I L (read for one another) and without U
/// (which Crockford's base32 leaves out too, so no word is spelt by accident): 30 symbols.
const ALPHABET: &[u8; 30] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ";

/// `XXXX-XXXX-XXXX`: 12 symbols of log2(30) bits, 58.9 bits in all.
const GROUPS: usize = 3;
const GROUP_LEN: usize = 4;

/// A recovery code in the clear, only between its generation and the page that shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

impl RecoveryCode {
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the store keeps: the same digest [`digest`] gives for the code as typed.
    pub fn digest(&self) -> [u8; 32] {
        digest(&self.0)
    }
}

impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode([redacted])")
    }
}

/// [`COUNT`] distinct fresh codes.
pub fn generate() -> Vec<RecoveryCode> {
    let mut codes: Vec<RecoveryCode> = Vec::with_capacity(COUNT);
    let mut symbols = Symbols::default();
    while codes.len() < COUNT {
        let code = one_code(&mut symbols);
        // Two equal codes are a 1 in 10^16 event, but the store keys codes by digest.
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    codes
}

/// The digest of a code as typed: case, spaces and dashes do not matter.
pub fn digest(typed: &str) -> [u8; 32] {
    let normalised: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    sha256(normalised.as_bytes())
}

fn one_code(symbols: &mut Symbols) -> RecoveryCode {
    let mut code = String::with_capacity(GROUPS * (GROUP_LEN + 1));
    for group in 0..GROUPS {
        if group > 0 {
            code.push('-');
        }
        for _ in 0..GROUP_LEN {
            code.push(symbols.next_symbol());
        }
    }
    RecoveryCode(code)
}

/// Uniform symbols of [`ALPHABET`] from random bytes. A byte at or above the largest multiple
/// of 30 below 256 is dropped: `byte % 30` over all 256 values would favour the first 16.
#[derive(Default)]
struct Symbols {
    bytes: Vec<u8>,
}

impl Symbols {
    const LIMIT: u8 = (256 / ALPHABET.len() * ALPHABET.len()) as u8;

    fn next_symbol(&mut self) -> char {
        loop {
            let Some(byte) = self.bytes.pop() else {
                self.bytes.extend_from_slice(&random_bytes::<32>());
                continue;
            };
            if byte < Self::LIMIT
                && let Some(&symbol) = ALPHABET.get(usize::from(byte) % ALPHABET.len())
            {
                return char::from(symbol);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn ten_distinct_codes_in_three_groups_of_four_unambiguous_symbols() {
        let codes = generate();
        assert_eq!(codes.len(), COUNT);
        let distinct: HashSet<_> = codes.iter().map(RecoveryCode::expose).collect();
        assert_eq!(distinct.len(), COUNT);
        for code in &codes {
            let groups: Vec<&str> = code.expose().split('-').collect();
            assert_eq!(groups.len(), 3, "{}", code.expose());
            for group in groups {
                assert_eq!(group.len(), 4, "{}", code.expose());
                assert!(group.bytes().all(|b| ALPHABET.contains(&b)));
            }
        }
        assert_ne!(
            generate()[0].expose(),
            codes[0].expose(),
            "fresh every time"
        );
    }

    #[test]
    fn the_alphabet_has_no_look_alikes_and_a_code_carries_at_least_50_bits() {
        for ambiguous in b"0O1IL" {
            assert!(!ALPHABET.contains(ambiguous), "{}", char::from(*ambiguous));
        }
        let distinct: HashSet<_> = ALPHABET.iter().collect();
        assert_eq!(distinct.len(), ALPHABET.len());
        let bits = (GROUPS * GROUP_LEN) as f64 * (ALPHABET.len() as f64).log2();
        assert!(bits >= 50.0, "{bits}");
    }

    #[test]
    fn every_symbol_is_drawn() {
        let mut symbols = Symbols::default();
        let seen: HashSet<char> = (0..3_000).map(|_| symbols.next_symbol()).collect();
        // Each of the 30 is missed in 3,000 draws with probability (29/30)^3000 < 10^-44.
        assert_eq!(seen.len(), ALPHABET.len());
        assert_eq!(Symbols::LIMIT, 240);
    }

    #[test]
    fn a_code_matches_however_it_is_typed() {
        let code = RecoveryCode("ABCD-EFGH-JKMN".into());
        for typed in [
            "ABCD-EFGH-JKMN",
            "abcd-efgh-jkmn",
            "abcdefghjkmn",
            " ABCD EFGH JKMN ",
            "aBcD--eFgH - jKmN\n",
        ] {
            assert_eq!(digest(typed), code.digest(), "{typed:?}");
        }
        assert_eq!(code.digest(), sha256(b"ABCDEFGHJKMN"));
        assert_ne!(digest("ABCD-EFGH-JKMP"), code.digest());
        assert_ne!(digest("ABCD-EFGH-JKM"), code.digest());
    }

    #[test]
    fn codes_never_print() {
        let codes = generate();
        let shown = format!("{codes:?}");
        assert!(!shown.contains(codes[0].expose()), "{shown}");
        assert!(shown.contains("RecoveryCode([redacted])"));
    }
}
