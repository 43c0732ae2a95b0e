//! Verified tokens, remembered by their SHA-256 digest until they expire, so that a token's
//! signature is checked once and not on every call it carries. Only tokens that passed every
//! check are remembered, each with the key that signed it and the reading of the provider's key
//! set it was found in: a hit counts only while that reading is current and holds the key, so a
//! key taken out of the set, or replaced under the same `kid`, stops its tokens at once.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::domain::principal::Principal;

/// The most tokens remembered; past it, expired ones are dropped, and if none had expired, all.
const CAPACITY: usize = 10_000;

/// A token's digest.
pub(super) type TokenDigest = [u8; 32];

/// The digest a token is remembered by.
pub(super) fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

/// What a verified token proved.
#[derive(Clone)]
pub(super) struct Verified {
    /// Who it names.
    pub principal: Principal,
    /// Its `exp`, in seconds since the Unix epoch: it is not taken from here from then on.
    pub expires: i64,
    /// The provider whose key signed it (an index into the verifier's providers).
    pub provider: usize,
    /// The key (`kid`) that signed it.
    pub kid: String,
    /// How many times the provider's key set had been read again when it was verified.
    pub generation: u64,
    /// The thumbprint of the key it is bound to (`cnf.jkt`, RFC 9449), when it is bound.
    pub bound_to: Option<String>,
}

/// Tokens verified, by digest.
#[derive(Default)]
pub(super) struct TokenCache {
    entries: Mutex<HashMap<TokenDigest, Verified>>,
}

impl TokenCache {
    /// What the token with `digest` proved, if it was verified and has not expired at `now`
    /// (seconds since the Unix epoch).
    pub(super) fn get(&self, digest: &TokenDigest, now: i64) -> Option<Verified> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(digest) {
            Some(hit) if now < hit.expires => Some(hit.clone()),
            Some(_) => {
                entries.remove(digest);
                None
            }
            None => None,
        }
    }

    /// Remembers a verified token.
    pub(super) fn insert(&self, digest: TokenDigest, verified: Verified, now: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CAPACITY {
            entries.retain(|_, v| now < v.expires);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(digest, verified);
    }

    /// Forgets the token with `digest`.
    pub(super) fn remove(&self, digest: &TokenDigest) {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).remove(digest);
    }
}
