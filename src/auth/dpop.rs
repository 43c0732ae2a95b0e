//! DPoP proofs (RFC 9449): an access token bound to a key (its `cnf.jkt`) is accepted only with
//! a proof, signed by that key, that this very call is made by its holder. Norsk helsenett's
//! APIs require it with HelseID; samvirke checks it for every token that is bound, and for
//! every token of an issuer configured to require it.
//!
//! A proof (`dpop` header) is a JWT with `typ` `dpop+jwt`, an asymmetric `alg` and the public
//! key (`jwk`) in its header, and `jti`, `htm`, `htu`, `iat` and `ath` in its claims
//! (RFC 9449 § 4.2). It is refused when any of these does not hold (§ 4.3): the signature by the
//! `jwk`; `htm` is `POST` (every gRPC call is); `htu` is the server's public URL followed by
//! the call's gRPC path; `iat` lies within `max_age` of now, give or take the clock skew;
//! `ath` is the SHA-256 of the access token; the key's thumbprint (RFC 7638) is the token's
//! `cnf.jkt`; and its `jti` was not seen before within that time (a replayed proof).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::ThumbprintHash;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::domain::Error;

/// The most bytes a proof may have.
const MAX_PROOF_BYTES: usize = 8 * 1024;

/// The most proofs remembered for replay at once for one key; past it, that key's proofs are
/// refused until older ones age out. One key holder cannot crowd out another's.
const MAX_REMEMBERED_PER_KEY: usize = 10_000;

/// The most keys whose proofs are remembered at once; past it (after forgetting what has aged
/// out), a proof of a new key is refused, rather than the memory growing without end.
const MAX_KEYS: usize = 100_000;

/// What a proof's JWK may not hold: the members of a private key (RFC 7517 § 9.2,
/// RFC 7518 § 6): a proof carrying one is refused (RFC 9449 § 4.3).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The signature algorithms a proof may use: asymmetric ones only (RFC 9449 § 4.3, 5).
const ALGORITHMS: [Algorithm; 8] = [
    Algorithm::EdDSA,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
];

/// How proofs are checked.
#[derive(Clone, Debug)]
pub struct DpopConfig {
    /// The server's URL as clients call it (`https://samvirke.example.no`), without a path:
    /// a proof's `htu` is it followed by the gRPC path. `None`: DPoP-bound tokens are refused.
    pub public_url: Option<String>,
    /// How old a proof may be.
    pub max_age: Duration,
    /// Clock skew tolerated on `iat`.
    pub leeway: Duration,
}

impl Default for DpopConfig {
    fn default() -> Self {
        DpopConfig {
            public_url: None,
            max_age: Duration::from_secs(60),
            leeway: Duration::from_secs(5),
        }
    }
}

#[derive(Deserialize)]
struct ProofClaims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    #[serde(default)]
    ath: Option<String>,
}

/// Checks DPoP proofs and remembers the ones seen, to refuse them again.
pub struct ProofChecker {
    config: DpopConfig,
    /// Proofs seen, by key (`jkt`) then `jti`, with when each may be forgotten (Unix seconds).
    seen: Mutex<HashMap<String, HashMap<String, i64>>>,
}

impl ProofChecker {
    /// A checker with `config`.
    pub fn new(config: DpopConfig) -> Self {
        ProofChecker { config, seen: Mutex::new(HashMap::new()) }
    }

    /// Checks `proof` for a call of `path` (`/samvirke.v1.PlanService/GetPlan`) with
    /// `access_token`, bound to the key whose thumbprint is `jkt`. UNAUTHENTICATED, saying
    /// what is wrong, when it does not hold.
    pub fn check(
        &self,
        proof: &str,
        access_token: &str,
        path: &str,
        jkt: &str,
    ) -> Result<(), Error> {
        let bad = Error::Unauthenticated;
        if proof.len() > MAX_PROOF_BYTES {
            return Err(bad("the DPoP proof is too large"));
        }
        let Some(public_url) = &self.config.public_url else {
            return Err(bad("this server takes no DPoP-bound tokens: it has no public URL set"));
        };
        check_header_members(proof)?;
        let header =
            jsonwebtoken::decode_header(proof).map_err(|_| bad("the DPoP proof is malformed"))?;
        if !header.typ.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("dpop+jwt")) {
            return Err(bad("the DPoP proof's typ must be dpop+jwt"));
        }
        if !ALGORITHMS.contains(&header.alg) {
            return Err(bad("the DPoP proof's alg must be an asymmetric one"));
        }
        let jwk = header.jwk.ok_or(bad("the DPoP proof carries no key (jwk)"))?;
        let key =
            DecodingKey::from_jwk(&jwk).map_err(|_| bad("the DPoP proof's key is unusable"))?;
        let mut validation = Validation::new(header.alg);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<ProofClaims>(proof, &key, &validation)
            .map_err(|_| bad("the DPoP proof's signature or claims do not hold"))?
            .claims;
        if claims.htm != "POST" {
            return Err(bad("the DPoP proof's htm must be POST"));
        }
        if !same_target(&claims.htu, public_url, path) {
            return Err(bad("the DPoP proof's htu is not this call's URL"));
        }
        let now = unix_now();
        let (max_age, leeway) = (seconds(self.config.max_age), seconds(self.config.leeway));
        if claims.iat > now + leeway || claims.iat < now - max_age - leeway {
            return Err(bad("the DPoP proof is not fresh (iat)"));
        }
        let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()));
        if claims.ath.as_deref() != Some(ath.as_str()) {
            return Err(bad("the DPoP proof's ath is not the access token's hash"));
        }
        let thumbprint =
            jwk.thumbprint(ThumbprintHash::SHA256).map_err(|_| bad("the DPoP key is unusable"))?;
        if thumbprint != jkt {
            return Err(bad("the DPoP proof's key is not the one the token is bound to"));
        }
        if claims.jti.is_empty() || claims.jti.len() > 256 {
            return Err(bad("the DPoP proof's jti must be 1 to 256 characters"));
        }
        self.remember(jkt, claims.jti, claims.iat + max_age + leeway, now)
    }

    /// Remembers the proof `jti` of key `jkt` until `until`; UNAUTHENTICATED when it was seen
    /// before, or when the key, or the checker, remembers as many as it may.
    fn remember(&self, jkt: &str, jti: String, until: i64, now: i64) -> Result<(), Error> {
        let busy = || Error::Unauthenticated("too many DPoP proofs of this key at once: retry");
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if !seen.contains_key(jkt) && seen.len() >= MAX_KEYS {
            seen.retain(|_, proofs| {
                proofs.retain(|_, until| *until >= now);
                !proofs.is_empty()
            });
            if seen.len() >= MAX_KEYS {
                return Err(busy());
            }
        }
        let proofs = seen.entry(jkt.to_owned()).or_default();
        if proofs.get(&jti).is_some_and(|until| *until >= now) {
            return Err(Error::Unauthenticated("the DPoP proof was used before (replayed jti)"));
        }
        if proofs.len() >= MAX_REMEMBERED_PER_KEY {
            proofs.retain(|_, until| *until >= now);
            if proofs.len() >= MAX_REMEMBERED_PER_KEY {
                return Err(busy());
            }
        }
        proofs.insert(jti, until);
        Ok(())
    }
}

/// Refuses a proof whose header marks extensions as critical (`crit`, which this checker
/// understands none of: RFC 7515 § 4.1.11), or whose JWK holds a private key's members.
fn check_header_members(proof: &str) -> Result<(), Error> {
    let malformed = || Error::Unauthenticated("the DPoP proof is malformed");
    let header = proof.split('.').next().ok_or_else(malformed)?;
    let header = URL_SAFE_NO_PAD.decode(header).map_err(|_| malformed())?;
    let header: serde_json::Value = serde_json::from_slice(&header).map_err(|_| malformed())?;
    if header.get("crit").is_some() {
        return Err(Error::Unauthenticated("the DPoP proof marks extensions as critical (crit)"));
    }
    let jwk = header.get("jwk").and_then(|j| j.as_object());
    if jwk.is_some_and(|jwk| PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m))) {
        return Err(Error::Unauthenticated("the DPoP proof's jwk holds a private key"));
    }
    Ok(())
}

/// Whether `htu` names `public_url` followed by `path`, without query or fragment, the scheme
/// and host compared without regard to case (RFC 9449 § 4.3, RFC 3986 § 6.2.2.1).
fn same_target(htu: &str, public_url: &str, path: &str) -> bool {
    let htu = htu.split(['?', '#']).next().unwrap_or_default();
    let expected = format!("{}{path}", public_url.trim_end_matches('/'));
    let split = |url: &str| -> Option<(String, String)> {
        let (scheme, rest) = url.split_once("://")?;
        let (authority, path) = rest.find('/').map_or((rest, ""), |at| rest.split_at(at));
        Some((format!("{}://{}", scheme, authority).to_ascii_lowercase(), path.to_owned()))
    };
    matches!((split(htu), split(&expected)), (Some(a), Some(b)) if a == b)
}

fn unix_now() -> i64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    i64::try_from(now).unwrap_or(i64::MAX)
}

fn seconds(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_is_the_public_url_and_the_path() {
        let path = "/samvirke.v1.PlanService/GetPlan";
        assert!(same_target(
            "https://Samvirke.Example.no/samvirke.v1.PlanService/GetPlan",
            "https://samvirke.example.no",
            path
        ));
        assert!(same_target(
            "https://samvirke.example.no/samvirke.v1.PlanService/GetPlan?x#y",
            "https://samvirke.example.no/",
            path
        ));
        assert!(!same_target(
            "https://samvirke.example.no/samvirke.v1.PlanService/ListPlans",
            "https://samvirke.example.no",
            path
        ));
        assert!(!same_target(
            "https://evil.example/samvirke.v1.PlanService/GetPlan",
            "https://samvirke.example.no",
            path
        ));
        assert!(!same_target(
            "samvirke.example.no/samvirke.v1.PlanService/GetPlan",
            "https://samvirke.example.no",
            path
        ));
    }

    /// Found by the attacker: a proof whose jwk carried the private key, or whose header marked
    /// an unknown extension critical, was accepted.
    #[test]
    fn private_keys_and_critical_extensions_are_refused() {
        let header = |json: serde_json::Value| {
            format!("{}.e30.sig", URL_SAFE_NO_PAD.encode(json.to_string()))
        };
        let jwk = serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": "AAAA"});
        let mut private = jwk.clone();
        private["d"] = "BBBB".into();
        let plain = serde_json::json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": jwk});
        assert!(check_header_members(&header(plain.clone())).is_ok());
        let with_d = serde_json::json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": private});
        assert!(check_header_members(&header(with_d)).is_err());
        let mut crit = plain;
        crit["crit"] = serde_json::json!(["foo"]);
        assert!(check_header_members(&header(crit)).is_err());
    }

    /// Found by the attacker: one key holder filling the memory of proofs locked every other
    /// holder out. The memory is per key now.
    #[test]
    fn one_key_cannot_crowd_out_another() {
        let checker = ProofChecker::new(DpopConfig::default());
        let (now, until) = (1_000, 2_000);
        for n in 0..MAX_REMEMBERED_PER_KEY {
            checker.remember("a", n.to_string(), until, now).unwrap();
        }
        assert!(checker.remember("a", "one more".into(), until, now).is_err());
        checker.remember("b", "0".into(), until, now).expect("another key is let in");
        assert!(checker.remember("b", "0".into(), until, now).is_err(), "a replay");
        // Once aged out, the first key's proofs are forgotten.
        checker.remember("a", "later".into(), until + 10, until + 1).unwrap();
    }
}
