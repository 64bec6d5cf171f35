use base64::Engine as _;

/// `N` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    // aws-lc's DRBG fails only if the OS entropy source is gone; nothing can go on safely then.
    if aws_lc_rs::rand::fill(&mut out).is_err() {
        std::process::abort();
    }
    out
}

/// 256 random bits, URL-safe base64 without padding: codes, refresh tokens and client secrets.
pub fn random_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_256_bits_and_differ() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }
}
