//! Bearer tokens. Production trusts the keys of a JWKS file (ID-porten for citizens, HelseID for
//! health personnel, Maskinporten for agency systems); the embedded default keeps a local Ed25519
//! key and mints development tokens with the same claims, so both paths verify alike.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::RwLock;
use std::time::{Duration, Instant as MonoInstant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm,
    OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Deserialize;

use crate::domain::Error;
use crate::domain::ids::{NationalId, OrgNumber};
use crate::domain::principal::Principal;
use crate::domain::subject::{Subject, SubjectKind};

/// The issuer of development tokens.
pub const DEV_ISSUER: &str = "samvirke-dev";
/// The audience tokens must name unless configured otherwise.
pub const DEFAULT_AUDIENCE: &str = "samvirke";

/// HelseID's claim for the organisation (legal entity) a person acts for. A sub-unit claim
/// (`orgnr_child`), when present, wins over it.
const HELSEID_ORG_PARENT: &str = "helseid://claims/client/claims/orgnr_parent";
/// Maskinporten names the consumer organisation as `0192:{organisation number}`.
const MASKINPORTEN_ORG_PREFIX: &str = "0192:";

/// What a token must say to be accepted.
#[derive(Clone, Debug)]
pub struct VerifierConfig {
    /// Accepted `iss` values: one per identity provider.
    pub issuers: Vec<String>,
    /// The `aud` value tokens must carry.
    pub audience: String,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
}

/// Where the trusted keys come from.
enum KeySource {
    /// Fixed for the process's lifetime (the development key).
    Fixed,
    /// A JWKS file, read again on an unknown key id (key rotation) at most once a minute.
    File(PathBuf),
}

const JWKS_RELOAD_COOLDOWN: Duration = Duration::from_secs(60);

struct Keys {
    set: JwkSet,
    loaded_at: MonoInstant,
}

/// Verifies bearer tokens and maps their claims to a `Principal`.
pub struct TokenVerifier {
    config: VerifierConfig,
    source: KeySource,
    keys: RwLock<Keys>,
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    pid: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    consumer: Option<Consumer>,
    #[serde(default, rename = "helseid://claims/client/claims/orgnr_parent")]
    orgnr_parent: Option<String>,
    #[serde(default, rename = "helseid://claims/client/claims/orgnr_child")]
    orgnr_child: Option<String>,
}

#[derive(Deserialize)]
struct Consumer {
    #[serde(rename = "ID")]
    id: String,
}

impl TokenVerifier {
    /// Trusts the keys of a JWKS file.
    pub fn from_jwks_file(path: &Path, config: VerifierConfig) -> Result<Self, Error> {
        let set = read_jwks(path)?;
        Ok(Self::new(set, KeySource::File(path.to_owned()), config))
    }

    /// Trusts the development key.
    pub fn from_dev_key(key: &DevKey, config: VerifierConfig) -> Self {
        Self::new(key.jwks(), KeySource::Fixed, config)
    }

    fn new(set: JwkSet, source: KeySource, config: VerifierConfig) -> Self {
        TokenVerifier {
            config,
            source,
            keys: RwLock::new(Keys {
                set,
                loaded_at: MonoInstant::now(),
            }),
        }
    }

    /// Verifies a bearer token (signature, `iss`, `aud`, `exp`, `nbf`) and says who it names.
    pub fn verify(&self, token: &str) -> Result<Principal, Error> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| Error::Unauthenticated("malformed token"))?;
        let kid = header
            .kid
            .ok_or(Error::Unauthenticated("token names no key (kid)"))?;
        let jwk = self
            .key(&kid)
            .ok_or(Error::Unauthenticated("token signed by an unknown key"))?;
        let algorithm =
            algorithm_of(&jwk).ok_or(Error::Unauthenticated("token signed by an unusable key"))?;
        if header.alg != algorithm {
            return Err(Error::Unauthenticated(
                "token algorithm does not match its key",
            ));
        }
        let key = DecodingKey::from_jwk(&jwk)
            .map_err(|_| Error::Unauthenticated("token signed by an unusable key"))?;
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&self.config.issuers);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = self.config.leeway.as_secs();
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            Error::Unauthenticated(match e.kind() {
                ErrorKind::ExpiredSignature => "token has expired",
                ErrorKind::ImmatureSignature => "token is not valid yet",
                ErrorKind::InvalidAudience => "token is for another audience",
                ErrorKind::InvalidIssuer => "token is from an untrusted issuer",
                ErrorKind::InvalidSignature => "token signature is invalid",
                ErrorKind::MissingRequiredClaim(_) => "token lacks exp, iss or aud",
                _ => "token is invalid",
            })
        })?;
        principal(data.claims)
    }

    fn key(&self, kid: &str) -> Option<Jwk> {
        let cooled_down = {
            let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
            if let Some(jwk) = keys.set.find(kid) {
                return Some(jwk.clone());
            }
            keys.loaded_at.elapsed() >= JWKS_RELOAD_COOLDOWN
        };
        // An unknown key may be a rotated one: read the file again, but not on every bad token.
        let KeySource::File(path) = &self.source else {
            return None;
        };
        if !cooled_down {
            return None;
        }
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        if keys.loaded_at.elapsed() >= JWKS_RELOAD_COOLDOWN {
            keys.loaded_at = MonoInstant::now();
            match read_jwks(path) {
                Ok(set) => keys.set = set,
                Err(e) => tracing::warn!(error = %e, "reloading the jwks file failed"),
            }
        }
        keys.set.find(kid).cloned()
    }
}

fn read_jwks(path: &Path) -> Result<JwkSet, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::internal(format!("reading jwks file {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::internal(format!("parsing jwks file {}: {e}", path.display())))
}

/// The signature algorithm a key is for: its `alg` when given, else the usual one for its type.
/// Symmetric keys are never trusted: a JWKS publishes public keys.
fn algorithm_of(jwk: &Jwk) -> Option<Algorithm> {
    let algorithm = match jwk.common.key_algorithm {
        Some(alg) => Algorithm::from_str(&alg.to_string()).ok()?,
        None => match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Algorithm::RS256,
            AlgorithmParameters::EllipticCurve(p) => match p.curve {
                EllipticCurve::P256 => Algorithm::ES256,
                EllipticCurve::P384 => Algorithm::ES384,
                _ => return None,
            },
            AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
            _ => return None,
        },
    };
    let symmetric = matches!(
        algorithm,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    );
    (!symmetric).then_some(algorithm)
}

/// Maps the claims of the three identity providers to a principal. A Maskinporten token names
/// its consumer organisation; a HelseID token names the organisation the person acts for; an
/// ID-porten token names the citizen by national identity number.
fn principal(claims: Claims) -> Result<Principal, Error> {
    if let Some(consumer) = claims.consumer {
        let org = consumer
            .id
            .strip_prefix(MASKINPORTEN_ORG_PREFIX)
            .and_then(|n| OrgNumber::parse("", n).ok())
            .ok_or(Error::Unauthenticated(
                "token names an invalid consumer organisation",
            ))?;
        let client = claims
            .client_id
            .as_deref()
            .and_then(|c| Subject::external(SubjectKind::System, c))
            .ok_or(Error::Unauthenticated("token names no valid client_id"))?;
        return Ok(Principal {
            subject: client,
            organisation: Some(org),
            national_id: None,
        });
    }
    if let Some(org) = claims.orgnr_child.or(claims.orgnr_parent) {
        let org = OrgNumber::parse("", &org)
            .map_err(|_| Error::Unauthenticated("token names an invalid organisation"))?;
        let subject = claims
            .sub
            .as_deref()
            .and_then(|s| Subject::external(SubjectKind::Personnel, s))
            .ok_or(Error::Unauthenticated("token names no valid sub"))?;
        return Ok(Principal {
            subject,
            organisation: Some(org),
            national_id: None,
        });
    }
    if let Some(pid) = claims.pid {
        let id = NationalId::parse("", &pid)
            .map_err(|_| Error::Unauthenticated("token names an invalid pid"))?;
        return Ok(Principal {
            subject: Subject::citizen(&id),
            organisation: None,
            national_id: Some(id),
        });
    }
    Err(Error::Unauthenticated(
        "token identifies no citizen, personnel or system",
    ))
}

/// Whom a development token is for.
#[derive(Clone, Debug)]
pub enum DevIdentity {
    /// A citizen, as ID-porten would name them.
    Citizen {
        /// National identity number.
        pid: String,
    },
    /// Health personnel, as HelseID would name them.
    Personnel {
        /// HelseID subject.
        sub: String,
        /// The organisation they act for.
        org: String,
    },
    /// An agency system, as Maskinporten would name it.
    System {
        /// Client id.
        client: String,
        /// The consumer organisation.
        org: String,
    },
}

/// The local Ed25519 key of the embedded default. Its seed is kept in a file readable by the
/// owner only; `Debug` never shows it.
pub struct DevKey {
    seed: [u8; 32],
    kid: String,
}

impl std::fmt::Debug for DevKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DevKey(kid = {})", self.kid)
    }
}

/// PKCS#8 v1 prefix of an Ed25519 private key; the 32-byte seed follows.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

impl DevKey {
    /// Reads the key at `path`, or creates it (and its folder) when missing.
    pub fn load_or_create(path: &Path) -> Result<Self, Error> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = URL_SAFE_NO_PAD
                    .decode(text.trim())
                    .map_err(|_| Error::internal("the development key file is corrupt"))?;
                let seed: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| Error::internal("the development key file is corrupt"))?;
                Ok(Self::from_seed(seed))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed).map_err(|e| Error::internal(e.to_string()))?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(Error::internal)?;
                }
                match write_private(path, &URL_SAFE_NO_PAD.encode(seed)) {
                    Ok(()) => Ok(Self::from_seed(seed)),
                    // Another process created it first: use theirs.
                    Err(_) if path.exists() => Self::load_or_create(path),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(Error::internal(e)),
        }
    }

    fn from_seed(seed: [u8; 32]) -> Self {
        let public = ed25519_dalek::SigningKey::from_bytes(&seed)
            .verifying_key()
            .to_bytes();
        let kid = format!("dev-{}", &URL_SAFE_NO_PAD.encode(public)[..12]);
        DevKey { seed, kid }
    }

    /// The public half, as a JWKS: what a production deployment would publish.
    pub fn jwks(&self) -> JwkSet {
        let public = ed25519_dalek::SigningKey::from_bytes(&self.seed)
            .verifying_key()
            .to_bytes();
        JwkSet {
            keys: vec![Jwk {
                common: CommonParameters {
                    public_key_use: Some(PublicKeyUse::Signature),
                    key_algorithm: Some(KeyAlgorithm::EdDSA),
                    key_id: Some(self.kid.clone()),
                    ..Default::default()
                },
                algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                    key_type: OctetKeyPairType::OctetKeyPair,
                    curve: EllipticCurve::Ed25519,
                    x: URL_SAFE_NO_PAD.encode(public),
                }),
            }],
        }
    }

    /// Signs a token for `who`, valid from now for `ttl`, with any extra claims merged in.
    pub fn mint(
        &self,
        who: &DevIdentity,
        issuer: &str,
        audience: &str,
        ttl: Duration,
        extra: serde_json::Map<String, serde_json::Value>,
    ) -> Result<String, Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(Error::internal)?
            .as_secs();
        let mut map = serde_json::Map::new();
        map.insert("iss".into(), issuer.into());
        map.insert("aud".into(), audience.into());
        map.insert("iat".into(), now.into());
        map.insert("nbf".into(), now.into());
        map.insert("exp".into(), (now + ttl.as_secs()).into());
        match who {
            DevIdentity::Citizen { pid } => {
                map.insert("pid".into(), pid.as_str().into());
                map.insert("acr".into(), "idporten-loa-high".into());
            }
            DevIdentity::Personnel { sub, org } => {
                map.insert("sub".into(), sub.as_str().into());
                map.insert(HELSEID_ORG_PARENT.into(), org.as_str().into());
            }
            DevIdentity::System { client, org } => {
                map.insert("client_id".into(), client.as_str().into());
                map.insert(
                    "consumer".into(),
                    serde_json::json!({
                        "authority": "iso6523-actorid-upis",
                        "ID": format!("{MASKINPORTEN_ORG_PREFIX}{org}"),
                    }),
                );
            }
        }
        map.extend(extra);
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        let mut der = ED25519_PKCS8_PREFIX.to_vec();
        der.extend_from_slice(&self.seed);
        jsonwebtoken::encode(&header, &map, &EncodingKey::from_ed_der(&der))
            .map_err(Error::internal)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(Error::internal)?;
    file.write_all(contents.as_bytes()).map_err(Error::internal)
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> Result<(), Error> {
    std::fs::write(path, contents).map_err(Error::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> VerifierConfig {
        VerifierConfig {
            issuers: vec![DEV_ISSUER.into()],
            audience: DEFAULT_AUDIENCE.into(),
            leeway: Duration::from_secs(5),
        }
    }

    fn key() -> DevKey {
        DevKey::from_seed([7; 32])
    }

    fn mint(key: &DevKey, who: &DevIdentity, extra: serde_json::Value) -> String {
        let extra = extra.as_object().cloned().unwrap_or_default();
        key.mint(
            who,
            DEV_ISSUER,
            DEFAULT_AUDIENCE,
            Duration::from_secs(60),
            extra,
        )
        .unwrap()
    }

    #[test]
    fn maps_each_identity_provider() {
        let key = key();
        let verifier = TokenVerifier::from_dev_key(&key, config());
        let citizen = DevIdentity::Citizen {
            pid: "01818010083".into(),
        };
        let p = verifier
            .verify(&mint(&key, &citizen, serde_json::json!({})))
            .unwrap();
        assert!(p.national_id.is_some() && p.organisation.is_none());
        let personnel = DevIdentity::Personnel {
            sub: "gp-1".into(),
            org: "910000004".into(),
        };
        let p = verifier
            .verify(&mint(&key, &personnel, serde_json::json!({})))
            .unwrap();
        assert_eq!(p.subject.as_stored(), "personnel:gp-1");
        assert_eq!(p.organisation.unwrap().as_str(), "910000004");
        let system = DevIdentity::System {
            client: "nav-system".into(),
            org: "920000002".into(),
        };
        let p = verifier
            .verify(&mint(&key, &system, serde_json::json!({})))
            .unwrap();
        assert_eq!(p.subject.as_stored(), "system:nav-system");
    }

    #[test]
    fn rejects_bad_tokens() {
        let key = key();
        let verifier = TokenVerifier::from_dev_key(&key, config());
        let who = DevIdentity::Personnel {
            sub: "gp-1".into(),
            org: "910000004".into(),
        };
        let cases = [
            serde_json::json!({"aud": "someone-else"}),
            serde_json::json!({"iss": "someone-else"}),
            serde_json::json!({"exp": 1_000_000}),
            serde_json::json!({"nbf": 4_000_000_000u64}),
        ];
        for extra in cases {
            let token = mint(&key, &who, extra.clone());
            assert!(
                matches!(verifier.verify(&token), Err(Error::Unauthenticated(_))),
                "{extra}"
            );
        }
        let other = DevKey::from_seed([8; 32]);
        let foreign = TokenVerifier::from_dev_key(&other, config());
        assert!(
            foreign
                .verify(&mint(&key, &who, serde_json::json!({})))
                .is_err()
        );
        let token = mint(&key, &who, serde_json::json!({}));
        let tampered = format!("{}x", &token[..token.len() - 1]);
        assert!(verifier.verify(&tampered).is_err());
        assert!(verifier.verify("not a token").is_err());
    }
}
