//! Time-based one-time passwords (RFC 6238) as a second factor: the shared secret, the URI and
//! QR code an authenticator app enrols it from, and the check of a typed code. Pure functions of
//! the secret, the code and `now`; the store keeps the secret sealed and the last step used, so
//! a code is accepted once across every instance (RFC 6238 §5.2).

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use time::OffsetDateTime;
use totp_rs::{Algorithm, Builder, Secret, Totp};
use uuid::Uuid;

use crate::crypto::{SealError, constant_time_eq, random_bytes};
use crate::keyring::KeyRing;

/// RFC 4226 §4: the secret MUST be at least 128 bits and SHOULD be 160.
pub const SECRET_LEN: usize = 20;

/// RFC 6238 §5.2 recommends a time step of 30 seconds.
pub const STEP_SECONDS: i64 = 30;

/// What authenticator apps show (RFC 4226 §5.3 allows 6 to 8).
pub const DIGITS: u8 = 6;

/// RFC 6238 §5.2: accept "at most one time step" of clock drift either side.
const SKEW_STEPS: i64 = 1;

/// The purpose secrets are sealed for under the key ring's KEK, with the user's id as context:
/// a sealed secret opens for no other purpose, and copied onto another user's row, not at all.
const SEAL_PURPOSE: &str = "totp secret";

/// The secret shared with the authenticator app: 160 random bits (RFC 4226 §4).
pub struct TotpSecret([u8; SECRET_LEN]);

impl TotpSecret {
    pub fn generate() -> Self {
        Self(random_bytes::<SECRET_LEN>())
    }

    /// The secret from its bytes (as unsealed from the store); `None` unless exactly 20.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// The raw bytes, to seal them; nothing else should need them.
    pub fn expose(&self) -> &[u8; SECRET_LEN] {
        &self.0
    }

    /// RFC 4648 base32 without padding: what a person types into an app that cannot scan.
    pub fn to_base32(&self) -> String {
        self.shared().to_base32()
    }

    /// The secret sealed for `user_id`'s row of the store: RFC 6238 §5.1 recommends keeping the
    /// keys encrypted in the validation system, and a database dump then holds no usable secret.
    pub fn seal(&self, keys: &KeyRing, user_id: Uuid) -> Result<Vec<u8>, SealError> {
        keys.seal_for(SEAL_PURPOSE, &[user_id.as_bytes()], &self.0)
    }

    /// Opens what [`TotpSecret::seal`] sealed for `user_id`.
    pub fn open(keys: &KeyRing, user_id: Uuid, sealed: &[u8]) -> Result<Self, SealError> {
        let bytes = keys.open_for(SEAL_PURPOSE, &[user_id.as_bytes()], sealed)?;
        Self::from_bytes(&bytes).ok_or(SealError::Open)
    }

    fn shared(&self) -> Secret {
        Secret::new_stack(self.0)
    }
}

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

/// Why an enrolment could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum ProvisioningError {
    /// Key Uri Format: the label is `issuer:account`, so neither may hold a colon (or be empty).
    #[error("the issuer and the account name must be non-empty and without a colon")]
    Label,
    #[error("the enrolment URI is too long for a QR code")]
    TooLong,
}

/// The `otpauth://totp/Issuer:account?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`
/// URI (Key Uri Format) an authenticator app enrols from. The parameters that have defaults are
/// spelled out all the same: some apps ignore the defaults they document.
pub fn otpauth_uri(
    secret: &TotpSecret,
    issuer: &str,
    account_name: &str,
) -> Result<String, ProvisioningError> {
    let labelled = |s: &str| !s.is_empty() && !s.contains(':');
    if !labelled(issuer) || !labelled(account_name) {
        return Err(ProvisioningError::Label);
    }
    let uri = Builder::new()
        .with_secret(secret.shared())
        .with_issuer(Some(issuer))
        .with_account_name(account_name)
        .build()
        .and_then(|totp| totp.to_url())
        .map_err(|_| ProvisioningError::Label)?;
    Ok(format!(
        "{uri}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"
    ))
}

/// `uri` as a QR code in SVG, rendered here: the page inlines it, so nothing is fetched, no
/// script runs, and the secret reaches no other party (a strict CSP allows it as it is). The
/// SVG is rectangles in one path, with no text, link or style: nothing of `uri` but the modules.
pub fn qr_svg(uri: &str) -> Result<String, ProvisioningError> {
    let code = QrCode::with_error_correction_level(uri, EcLevel::M)
        .map_err(|_| ProvisioningError::TooLong)?;
    let image = code
        .render::<svg::Color>()
        .min_dimensions(200, 200)
        .dark_color(svg::Color("#000"))
        .light_color(svg::Color("#fff"))
        .build();
    // The XML declaration is for a file of its own; inside HTML it is a bogus comment.
    Ok(match image.find("<svg") {
        Some(start) => image.get(start..).unwrap_or(&image).to_owned(),
        None => image,
    })
}

/// Checks a typed `code` against `secret` at `now`: RFC 6238 with HMAC-SHA-1, 6 digits and
/// 30-second steps, accepting the current step and one either side (RFC 6238 §5.2). Returns
/// the step that matched (unix time / 30), to be stored as the last one used; a step at or
/// before `last_used_step` is refused, so a code is accepted once, even within its window.
/// White space is ignored; anything else that is not six ASCII digits is refused.
pub fn verify(
    secret: &TotpSecret,
    code: &str,
    now: OffsetDateTime,
    last_used_step: Option<i64>,
) -> Option<i64> {
    let typed = typed_digits(code)?;
    let current = now.unix_timestamp().div_euclid(STEP_SECONDS);
    let totp = totp(secret);
    let mut matched = None;
    for step in (current - SKEW_STEPS)..=(current + SKEW_STEPS) {
        // Before 1970 there is no step to match.
        let Ok(at) = u64::try_from(step * STEP_SECONDS) else {
            continue;
        };
        // Every step of the window is computed and compared in constant time, so the time
        // taken does not tell which step (or whether any) matched.
        let expected = totp.generate(at).to_string();
        let fits = constant_time_eq(expected.as_bytes(), &typed);
        let unused = last_used_step.is_none_or(|last| step > last);
        if fits && unused && matched.is_none() {
            matched = Some(step);
        }
    }
    matched
}

/// The code's digits without its white space, or `None` unless there are exactly six.
fn typed_digits(code: &str) -> Option<[u8; DIGITS as usize]> {
    let mut digits = [0u8; DIGITS as usize];
    let mut count = 0;
    for c in code.chars().filter(|c| !c.is_whitespace()) {
        if !c.is_ascii_digit() {
            return None;
        }
        *digits.get_mut(count)? = u8::try_from(c).ok()?;
        count += 1;
    }
    (count == digits.len()).then_some(digits)
}

/// SHA-1, 6 digits, 30 s: the parameters every authenticator app implements, and the ones
/// `otpauth_uri` announces. They are RFC-compliant, so the checks `build` makes are not needed
/// (the URI test shows `build` accepts them).
fn totp(secret: &TotpSecret) -> Totp {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_step_duration(STEP_SECONDS.unsigned_abs())
        .with_secret(secret.shared())
        .build_noncompliant()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890").unwrap()
    }

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).unwrap()
    }

    #[test]
    fn the_rfc_6238_sha1_test_vectors_are_accepted_at_their_time() {
        // Appendix B, SHA1 column, as 6 digits (the last six of the 8-digit values).
        for (time, eight_digits) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            let six = &eight_digits[2..];
            assert_eq!(
                verify(&rfc_secret(), six, at(time), None),
                Some(time / 30),
                "T={time}"
            );
        }
    }

    #[test]
    fn one_step_of_skew_either_way_is_accepted_and_two_are_not() {
        let (code, time, step) = ("081804", 1_111_111_109, 37_037_036);
        let secret = rfc_secret();
        assert_eq!(verify(&secret, code, at(time), None), Some(step));
        assert_eq!(verify(&secret, code, at(time + 30), None), Some(step));
        assert_eq!(verify(&secret, code, at(time - 30), None), Some(step));
        assert_eq!(verify(&secret, code, at(time + 60), None), None);
        assert_eq!(verify(&secret, code, at(time - 60), None), None);
    }

    #[test]
    fn a_used_step_or_an_earlier_one_is_refused() {
        let (code, time, step) = ("081804", 1_111_111_109, 37_037_036);
        let secret = rfc_secret();
        assert_eq!(verify(&secret, code, at(time), Some(step)), None, "replay");
        assert_eq!(
            verify(&secret, code, at(time), Some(step + 1)),
            None,
            "an older code after a newer one"
        );
        assert_eq!(verify(&secret, code, at(time), Some(step - 1)), Some(step));
    }

    #[test]
    fn spaces_are_ignored_and_anything_but_six_digits_is_refused() {
        let (secret, now) = (rfc_secret(), at(1_111_111_109));
        let long = "9".repeat(10_000);
        assert_eq!(verify(&secret, " 081 804\t", now, None), Some(37_037_036));
        for garbage in [
            "",
            "      ",
            "08180",
            "0818045",
            "07081804",
            "08180a",
            "+81804",
            "-81804",
            "081-804",
            "０８１８０４",
            "081804\u{0}",
            "💥💥💥💥💥💥",
            long.as_str(),
        ] {
            assert_eq!(verify(&secret, garbage, now, None), None, "{garbage:?}");
        }
    }

    #[test]
    fn a_wrong_code_or_another_secret_is_refused() {
        let now = at(1_111_111_109);
        assert_eq!(verify(&rfc_secret(), "081805", now, None), None);
        let other = TotpSecret::from_bytes(b"abcdefghijklmnopqrst").unwrap();
        assert_eq!(verify(&other, "081804", now, None), None);
    }

    #[test]
    fn a_time_before_1970_matches_nothing_and_does_not_panic() {
        assert_eq!(verify(&rfc_secret(), "287082", at(-1), None), None);
        assert_eq!(verify(&rfc_secret(), "287082", at(-10_000), None), None);
    }

    #[test]
    fn a_secret_is_20_random_bytes_that_never_print() {
        let (a, b) = (TotpSecret::generate(), TotpSecret::generate());
        assert_ne!(a.expose(), b.expose());
        assert_eq!(format!("{a:?}"), "TotpSecret([redacted])");
        assert!(TotpSecret::from_bytes(&[0; 19]).is_none());
        assert!(TotpSecret::from_bytes(&[0; 21]).is_none());
        let copy = TotpSecret::from_bytes(a.expose()).unwrap();
        assert_eq!(copy.expose(), a.expose());
    }

    async fn key_ring(kek: u8) -> KeyRing {
        use crate::config::{EncryptionKey, KeySettings};
        let db = crate::store::SqliteStore::connect(
            "sqlite::memory:",
            1,
            std::time::Duration::from_secs(5),
        )
        .await
        .unwrap();
        crate::store::Database::migrate(&db).await.unwrap();
        let settings = KeySettings {
            encryption_key: Some(EncryptionKey::from_bytes([kek; 32])),
            ..KeySettings::default()
        };
        KeyRing::open(std::sync::Arc::new(db), &settings)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_sealed_secret_opens_for_its_user_under_its_kek_only() {
        let (keys, other_kek) = (key_ring(1).await, key_ring(2).await);
        let (ann, bob) = (Uuid::now_v7(), Uuid::now_v7());
        let secret = TotpSecret::generate();

        let sealed = secret.seal(&keys, ann).unwrap();

        assert!(!sealed.windows(SECRET_LEN).any(|w| w == secret.expose()));
        let opened = TotpSecret::open(&keys, ann, &sealed).unwrap();
        assert_eq!(opened.expose(), secret.expose());
        assert!(
            TotpSecret::open(&keys, bob, &sealed).is_err(),
            "another row"
        );
        assert!(TotpSecret::open(&other_kek, ann, &sealed).is_err());
        let mut altered = sealed.clone();
        if let Some(last) = altered.last_mut() {
            *last ^= 1;
        }
        assert!(TotpSecret::open(&keys, ann, &altered).is_err());
        let not_a_secret = keys
            .seal_for(SEAL_PURPOSE, &[ann.as_bytes()], b"too short")
            .unwrap();
        assert!(matches!(
            TotpSecret::open(&keys, ann, &not_a_secret),
            Err(SealError::Open)
        ));
    }

    #[test]
    fn base32_is_rfc_4648_without_padding() {
        assert_eq!(rfc_secret().to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let random = TotpSecret::generate().to_base32();
        assert_eq!(random.len(), 32);
        assert!(
            random
                .bytes()
                .all(|b| b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".contains(&b))
        );
    }

    #[test]
    fn the_uri_follows_the_key_uri_format_and_round_trips() {
        let uri = otpauth_uri(&rfc_secret(), "Gatehouse", "ann@example.com").unwrap();
        assert_eq!(
            uri,
            "otpauth://totp/Gatehouse:ann%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Gatehouse&algorithm=SHA1&digits=6&period=30"
        );
        let parsed = Totp::from_url(&uri).unwrap();
        assert_eq!(parsed.secret().as_bytes(), b"12345678901234567890");
        assert_eq!(parsed.issuer(), Some("Gatehouse"));
        assert_eq!(parsed.account_name(), "ann@example.com");
        assert_eq!((parsed.digits(), parsed.step()), (6, 30));
        assert_eq!(parsed.generate(59).to_string(), "287082");
    }

    #[test]
    fn the_uri_encodes_what_the_label_cannot_hold_and_refuses_colons() {
        let uri = otpauth_uri(&rfc_secret(), "Example Co", "ann").unwrap();
        assert!(uri.starts_with("otpauth://totp/Example%20Co:ann?"), "{uri}");
        assert!(uri.contains("&issuer=Example%20Co&"), "{uri}");
        for (issuer, account) in [("a:b", "ann"), ("Gatehouse", "a:b"), ("", "ann"), ("G", "")] {
            assert!(matches!(
                otpauth_uri(&rfc_secret(), issuer, account),
                Err(ProvisioningError::Label)
            ));
        }
    }

    #[test]
    fn the_qr_code_is_a_self_contained_svg() {
        let uri = otpauth_uri(&rfc_secret(), "Gatehouse", "ann").unwrap();
        let image = qr_svg(&uri).unwrap();
        assert!(image.starts_with("<svg "), "{image}");
        assert!(image.ends_with("</svg>"), "{image}");
        assert!(image.contains("viewBox="));
        // The namespace is a name, never fetched; nothing else may point anywhere.
        let body = image.replace(r#"xmlns="http://www.w3.org/2000/svg""#, "");
        for outside in [
            "http", "//", "href", "url(", "<script", "<image", "<style", " on",
        ] {
            assert!(!body.contains(outside), "{outside} in {image}");
        }
        assert!(
            !image.contains("GEZDGNBV"),
            "the secret is not in the SVG as text"
        );
        assert_ne!(image, qr_svg(&uri.replace("ann", "bob")).unwrap());
    }

    #[test]
    fn a_uri_too_long_for_a_qr_code_is_an_error() {
        assert!(matches!(
            qr_svg(&"x".repeat(5_000)),
            Err(ProvisioningError::TooLong)
        ));
    }
}
