//! Bearer tokens: random, shown once to their owner, stored only as a SHA-256 hash.
//!
//! A token has 256 bits of entropy, so a plain (unsalted) hash is enough to make a stolen database
//! useless for logging in, and it keeps the lookup an indexed equality match.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new random token with a readable prefix (`kfa_` agent, `kfv_` visitor).
pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// The hash under which a token is stored and looked up.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_unique_and_hash_stably() {
        let a = super::generate("kfa_");
        let b = super::generate("kfa_");
        assert_ne!(a, b);
        assert!(a.starts_with("kfa_") && a.len() == 68);
        assert_eq!(super::hash(&a), super::hash(&a));
        assert_ne!(super::hash(&a), super::hash(&b));
    }
}
