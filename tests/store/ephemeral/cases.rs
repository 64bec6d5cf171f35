//! The contract every `EphemeralStore` backend must pass, written once and instantiated per
//! backend by `contract_suite!` in the parent file.

use super::*;

pub async fn put_then_get_returns_the_value(s: Arc<dyn EphemeralStore>) {
    s.put("k", b"v", TTL).await.unwrap();
    assert_eq!(s.get("k").await.unwrap(), Some(b"v".to_vec()));
}

pub async fn get_of_a_missing_key_is_none(s: Arc<dyn EphemeralStore>) {
    assert_eq!(s.get("missing").await.unwrap(), None);
}

pub async fn put_replaces(s: Arc<dyn EphemeralStore>) {
    s.put("k", b"one", TTL).await.unwrap();
    s.put("k", b"two", TTL).await.unwrap();
    assert_eq!(s.get("k").await.unwrap(), Some(b"two".to_vec()));
}

pub async fn take_returns_the_value_once_and_then_none(s: Arc<dyn EphemeralStore>) {
    s.put("code", b"c", TTL).await.unwrap();
    assert_eq!(s.take("code").await.unwrap(), Some(b"c".to_vec()));
    assert_eq!(s.take("code").await.unwrap(), None);
    assert_eq!(s.get("code").await.unwrap(), None);
}

pub async fn delete_reports_whether_something_was_there(s: Arc<dyn EphemeralStore>) {
    s.put("k", b"v", TTL).await.unwrap();
    assert!(s.delete("k").await.unwrap());
    assert!(!s.delete("k").await.unwrap());
    assert_eq!(s.get("k").await.unwrap(), None);
}

pub async fn put_if_absent_stores_only_once(s: Arc<dyn EphemeralStore>) {
    assert!(s.put_if_absent("jti", b"first", TTL).await.unwrap());
    assert!(!s.put_if_absent("jti", b"second", TTL).await.unwrap());
    assert_eq!(s.get("jti").await.unwrap(), Some(b"first".to_vec()));
}

pub async fn two_concurrent_takes_of_one_key_never_both_succeed(s: Arc<dyn EphemeralStore>) {
    for i in 0..50 {
        let key = format!("code:{i}");
        s.put(&key, b"c", TTL).await.unwrap();
        let (a, b) = (s.clone(), s.clone());
        let (ka, kb) = (key.clone(), key.clone());
        let first = tokio::spawn(async move { a.take(&ka).await.unwrap() });
        let second = tokio::spawn(async move { b.take(&kb).await.unwrap() });
        let (first, second) = (first.await.unwrap(), second.await.unwrap());
        let winners = [first, second].iter().filter(|t| t.is_some()).count();
        assert_eq!(winners, 1, "key {key}: {winners} takes saw the value");
    }
}

pub async fn concurrent_put_if_absent_has_exactly_one_winner(s: Arc<dyn EphemeralStore>) {
    for i in 0..50 {
        let key = format!("jti:{i}");
        let racers: Vec<_> = (0..4u8)
            .map(|n| {
                let (s, key) = (s.clone(), key.clone());
                tokio::spawn(async move { s.put_if_absent(&key, &[n], TTL).await.unwrap() })
            })
            .collect();
        let mut winners = 0;
        for racer in racers {
            winners += usize::from(racer.await.unwrap());
        }
        assert_eq!(winners, 1, "key {key}: {winners} put_if_absent calls won");
    }
}

pub async fn increment_counts_one_two_three(s: Arc<dyn EphemeralStore>) {
    for expected in 1..=3 {
        assert_eq!(s.increment("hits", TTL).await.unwrap(), expected);
    }
}

pub async fn decrement_takes_one_back_and_never_creates_a_counter(s: Arc<dyn EphemeralStore>) {
    s.increment("tries", TTL).await.unwrap();
    s.increment("tries", TTL).await.unwrap();
    s.decrement("tries").await.unwrap();
    assert_eq!(s.get("tries").await.unwrap(), Some(b"1".to_vec()));
    s.decrement("tries").await.unwrap();
    s.decrement("tries").await.unwrap();
    assert_eq!(
        s.get("tries").await.unwrap(),
        Some(b"0".to_vec()),
        "never below zero"
    );
    assert_eq!(s.increment("tries", TTL).await.unwrap(), 1);
    s.decrement("absent").await.unwrap();
    assert_eq!(
        s.get("absent").await.unwrap(),
        None,
        "no counter is created"
    );
}

pub async fn keys_with_different_names_are_independent(s: Arc<dyn EphemeralStore>) {
    s.put("a", b"1", TTL).await.unwrap();
    s.put("b", b"2", TTL).await.unwrap();
    assert_eq!(s.increment("c", TTL).await.unwrap(), 1);
    assert!(s.delete("a").await.unwrap());
    assert_eq!(s.get("b").await.unwrap(), Some(b"2".to_vec()));
    assert_eq!(s.increment("d", TTL).await.unwrap(), 1);
}

pub async fn a_counter_reads_back_as_its_decimal_count(s: Arc<dyn EphemeralStore>) {
    s.increment("n", TTL).await.unwrap();
    s.increment("n", TTL).await.unwrap();
    assert_eq!(s.get("n").await.unwrap(), Some(b"2".to_vec()));
}

pub async fn a_zero_ttl_is_accepted(s: Arc<dyn EphemeralStore>) {
    s.put("z", b"v", Duration::ZERO).await.unwrap();
    s.put_if_absent("z2", b"v", Duration::ZERO).await.unwrap();
    s.increment("z3", Duration::ZERO).await.unwrap();
}

pub async fn ping_works(s: Arc<dyn EphemeralStore>) {
    s.ping().await.unwrap();
}
