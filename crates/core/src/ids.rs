//! Ids we mint: a resource prefix, an underscore and 24 random base-62 characters
//! (`pay_3kTMd9Qx…`), about 143 bits of randomness.

use rand::Rng;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A new id with `prefix` (`pay`, `re`, `evt`).
pub fn new_id(prefix: &str) -> String {
    let mut rng = rand::rng();
    let mut id = String::with_capacity(prefix.len() + 25);
    id.push_str(prefix);
    id.push('_');
    for _ in 0..24 {
        let i = rng.random_range(0..ALPHABET.len());
        id.push(char::from(ALPHABET.get(i).copied().unwrap_or(b'0')));
    }
    id
}

/// Whether `id` looks like one of ours with `prefix`.
pub fn has_prefix(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|rest| rest.len() == 24 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_prefix_and_do_not_repeat() {
        let a = new_id("pay");
        assert!(has_prefix(&a, "pay"), "{a}");
        assert!(!has_prefix(&a, "re"));
        assert_ne!(a, new_id("pay"));
        assert!(!has_prefix("pay_short", "pay"));
    }
}
