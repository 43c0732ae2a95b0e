//! Bearer tokens. Each trusted identity provider is configured with the one kind of caller it
//! vouches for and the keys it publishes: ID-porten for citizens, HelseID for health personnel,
//! Maskinporten for agency systems. A key is trusted only for the issuer that published it, and
//! a token's kind of caller comes from that configuration, never from the claims it happens to
//! carry. The embedded default keeps a local Ed25519 key that stands in for all three providers,
//! each under its own development issuer, and mints development tokens with the same claims, so
//! both paths verify alike.

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

use super::dpop::{DpopConfig, ProofChecker};
use super::token_cache::{self, TokenCache, Verified};
use crate::domain::Error;
use crate::domain::ids::{NationalId, OrgNumber};
use crate::domain::principal::Principal;
use crate::domain::subject::{Subject, SubjectKind};

/// The development issuer standing in for ID-porten.
pub const DEV_ISSUER_CITIZENS: &str = "samvirke-dev-idporten";
/// The development issuer standing in for HelseID.
pub const DEV_ISSUER_PERSONNEL: &str = "samvirke-dev-helseid";
/// The development issuer standing in for Maskinporten.
pub const DEV_ISSUER_SYSTEMS: &str = "samvirke-dev-maskinporten";
/// The audience tokens must name unless configured otherwise.
pub const DEFAULT_AUDIENCE: &str = "samvirke";
/// The longest lifetime (`exp - iat`) a token may have unless configured otherwise: one hour, as
/// the Norwegian identity providers issue access tokens.
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(3600);
/// The assurance level (`acr`) citizens must have logged in with unless configured otherwise:
/// ID-porten's high level, which health data requires.
pub const DEFAULT_CITIZEN_ACR: &str = "idporten-loa-high";

/// The development issuer of each kind of caller.
pub fn dev_issuer(kind: SubjectKind) -> &'static str {
    match kind {
        SubjectKind::Citizen => DEV_ISSUER_CITIZENS,
        SubjectKind::Personnel => DEV_ISSUER_PERSONNEL,
        SubjectKind::System => DEV_ISSUER_SYSTEMS,
    }
}

/// HelseID's claim for the organisation (legal entity) a person acts for. A sub-unit claim
/// (`orgnr_child`), when present, wins over it.
const HELSEID_ORG_PARENT: &str = "helseid://claims/client/claims/orgnr_parent";
/// HelseID's claim for the person's national identity number.
const HELSEID_PID: &str = "helseid://claims/identity/pid";
/// Maskinporten and Altinn name organisations as `0192:{organisation number}` (ISO 6523).
const MASKINPORTEN_ORG_PREFIX: &str = "0192:";
/// The `authorization_details` type of an Altinn system user token (RFC 9396).
const ALTINN_SYSTEM_USER: &str = "urn:altinn:systemuser";
/// The JOSE `typ` values accepted, compared without regard to case (RFC 7515 § 4.1.9): access
/// tokens (RFC 9068) and the plain `JWT` Maskinporten issues.
const ACCEPTED_TYPES: [&str; 3] = ["at+jwt", "application/at+jwt", "jwt"];
/// Tokens longer than this are refused before any parsing: real ones are a few KiB.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// What a token must say to be accepted, whoever issued it.
#[derive(Clone, Debug)]
pub struct VerifierConfig {
    /// The `aud` value tokens must carry.
    pub audience: String,
    /// Clock skew tolerated on `exp`, `nbf`, `iat` and the lifetime.
    pub leeway: Duration,
    /// The longest `exp - iat` accepted, before the leeway.
    pub max_lifetime: Duration,
    /// The `acr` values a citizen's token may carry; any other is refused.
    pub citizen_acr: Vec<String>,
    /// The least time between two readings of a provider's keys on an unknown key id.
    pub jwks_cooldown: Duration,
    /// How DPoP proofs are checked.
    pub dpop: DpopConfig,
}

impl VerifierConfig {
    /// The defaults, for `audience` and `leeway`.
    pub fn new(audience: &str, leeway: Duration) -> Self {
        VerifierConfig {
            audience: audience.to_owned(),
            leeway,
            max_lifetime: DEFAULT_MAX_LIFETIME,
            citizen_acr: vec![DEFAULT_CITIZEN_ACR.to_owned()],
            jwks_cooldown: JWKS_RELOAD_COOLDOWN,
            dpop: DpopConfig::default(),
        }
    }
}

/// One trusted identity provider: its issuer, the kind of caller it vouches for, and where the
/// public keys it publishes (a JWKS) are read.
#[derive(Clone, Debug)]
pub struct ProviderConfig {
    /// The kind of caller its tokens name.
    pub kind: SubjectKind,
    /// Its `iss` value, compared exactly.
    pub issuer: String,
    /// Where its keys are read.
    pub jwks: JwksLocation,
    /// Its tokens must be DPoP-bound (RFC 9449): bearer tokens of it are refused.
    pub requires_dpop: bool,
}

/// Where a provider's JWKS is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwksLocation {
    /// A file kept by hand.
    File(PathBuf),
    /// The `jwks_uri` of the issuer's OpenID Connect discovery document,
    /// `{issuer}/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 § 4).
    Discovery,
}

/// Where a provider's keys come from.
enum KeySource {
    /// Fixed for the process's lifetime (the development key).
    Fixed,
    /// A JWKS file, read again on an unknown key id (key rotation) at most once a cool-down.
    File(PathBuf),
    /// A JWKS URL (from discovery), fetched again on an unknown key id at most once a
    /// cool-down; while the provider does not answer, the keys fetched last are used.
    Url(String),
}

/// The default of `VerifierConfig::jwks_cooldown`.
pub const JWKS_RELOAD_COOLDOWN: Duration = Duration::from_secs(60);

/// How long a fetch of a discovery document or a JWKS may take.
const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// The most bytes a discovery document or a JWKS may have.
const JWKS_MAX_BYTES: u64 = 256 * 1024;

struct Keys {
    set: JwkSet,
    loaded_at: MonoInstant,
    /// Counts the times the set was read again: a token verified under an earlier reading is
    /// verified afresh, since a key may have changed under the same `kid`.
    generation: u64,
}

/// A trusted provider and the keys it published.
struct Provider {
    kind: SubjectKind,
    issuer: String,
    source: KeySource,
    /// The least time between two readings of the keys.
    cooldown: Duration,
    /// Its tokens must be DPoP-bound.
    requires_dpop: bool,
    keys: RwLock<Keys>,
}

/// Verifies bearer tokens and maps their claims to a `Principal`.
pub struct TokenVerifier {
    config: VerifierConfig,
    providers: Vec<Provider>,
    verified: TokenCache,
    proofs: ProofChecker,
}

/// A verified access token: who it names, until when it is valid (its `exp` and the clock
/// skew, in seconds since the Unix epoch: a long call, a stream, must not outlive it), and the
/// key it is bound to, whose proof is still to be checked (`TokenVerifier::check_proof`).
#[derive(Clone, Debug)]
pub struct Presented {
    /// Who it names.
    pub principal: Principal,
    /// When it stops being valid.
    pub valid_until: i64,
    bound_to: Option<String>,
}

/// How a call presents its access token: the `authorization` header's scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `Bearer` (RFC 6750): whoever holds the token may use it.
    Bearer,
    /// `DPoP` (RFC 9449 § 7.1): the token is bound to a key, and a `dpop` proof comes with it.
    Dpop,
}

/// The confirmation claim (`cnf`, RFC 7800) of a bound token.
#[derive(Deserialize)]
struct Confirmation {
    #[serde(default)]
    jkt: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    exp: i64,
    iat: i64,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    pid: Option<String>,
    #[serde(default)]
    acr: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    consumer: Option<OrgClaim>,
    #[serde(default)]
    authorization_details: Option<Vec<AuthorizationDetail>>,
    #[serde(default, rename = "helseid://claims/client/claims/orgnr_parent")]
    orgnr_parent: Option<String>,
    #[serde(default, rename = "helseid://claims/client/claims/orgnr_child")]
    orgnr_child: Option<String>,
    #[serde(default, rename = "helseid://claims/identity/pid")]
    person: Option<String>,
    #[serde(default)]
    cnf: Option<Confirmation>,
}

/// An organisation as Maskinporten and Altinn name it: `{"authority": ..., "ID": "0192:..."}`.
#[derive(Deserialize)]
struct OrgClaim {
    #[serde(rename = "ID")]
    id: String,
}

/// One entry of `authorization_details` (RFC 9396); only Altinn's system user is read.
#[derive(Deserialize)]
struct AuthorizationDetail {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    systemuser_org: Option<OrgClaim>,
}

/// The one claim read before the signature is checked, to choose whose keys check it.
#[derive(Deserialize)]
struct Issuer {
    iss: String,
}

impl TokenVerifier {
    /// Trusts the providers configured, reading each one's JWKS now: from its file, or from
    /// the `jwks_uri` its discovery document names. A provider whose keys cannot be read stops
    /// the start, saying which and why.
    pub fn from_providers(
        providers: &[ProviderConfig],
        config: VerifierConfig,
    ) -> Result<Self, Error> {
        let providers = providers
            .iter()
            .map(|p| {
                let (source, set) = match &p.jwks {
                    JwksLocation::File(path) => (KeySource::File(path.clone()), read_jwks(path)?),
                    JwksLocation::Discovery => {
                        let uri = discover_jwks_uri(&p.issuer)?;
                        let set = fetch_jwks(&uri)?;
                        (KeySource::Url(uri), set)
                    }
                };
                Ok(Provider {
                    kind: p.kind,
                    issuer: p.issuer.clone(),
                    source,
                    cooldown: config.jwks_cooldown,
                    requires_dpop: p.requires_dpop,
                    keys: RwLock::new(Keys { set, loaded_at: MonoInstant::now(), generation: 0 }),
                })
            })
            .collect::<Result<_, Error>>()?;
        let proofs = ProofChecker::new(config.dpop.clone());
        Ok(TokenVerifier { config, providers, verified: TokenCache::default(), proofs })
    }

    /// Trusts the development key for the three development issuers, one per kind of caller.
    pub fn from_dev_key(key: &DevKey, config: VerifierConfig) -> Self {
        let providers = [SubjectKind::Citizen, SubjectKind::Personnel, SubjectKind::System]
            .into_iter()
            .map(|kind| Provider {
                kind,
                issuer: dev_issuer(kind).to_owned(),
                source: KeySource::Fixed,
                cooldown: config.jwks_cooldown,
                requires_dpop: false,
                keys: RwLock::new(Keys {
                    set: key.jwks(),
                    loaded_at: MonoInstant::now(),
                    generation: 0,
                }),
            })
            .collect();
        let proofs = ProofChecker::new(config.dpop.clone());
        TokenVerifier { config, providers, verified: TokenCache::default(), proofs }
    }

    /// Verifies a bearer token — its `typ`, signature by a key of the provider named in `iss`,
    /// `aud`, `exp`, `nbf`, `iat` and lifetime — and says who it names, as that provider's kind
    /// of caller.
    ///
    /// A token verified before is taken from the cache of verified tokens (`token_cache`) until
    /// its `exp`, while the key that signed it is still trusted.
    pub fn verify(&self, token: &str) -> Result<Principal, Error> {
        self.verify_presented(Scheme::Bearer, token).map(|presented| presented.principal)
    }

    /// Verifies the access token of a call as `scheme` presents it (`verify`). A bound token
    /// (`cnf.jkt`) presented as `Bearer` is refused (RFC 9449 § 7.1), and so is an unbound one
    /// from an issuer configured to require DPoP. A DPoP token's proof is checked next, with
    /// `check_proof`, once the caller's rate limit has let them in, so that proofs of refused
    /// calls are not remembered.
    pub fn verify_presented(&self, scheme: Scheme, token: &str) -> Result<Presented, Error> {
        let verified = self.verify_cached(token)?;
        let requires_dpop = self.providers.get(verified.provider).is_some_and(|p| p.requires_dpop);
        let leeway = i64::try_from(self.config.leeway.as_secs()).unwrap_or(i64::MAX);
        let valid_until = verified.expires.saturating_add(leeway);
        let bound_to = match (scheme, verified.bound_to) {
            (Scheme::Bearer, Some(_)) => {
                return Err(Error::Unauthenticated(
                    "this token is bound to a key (cnf.jkt): present it as DPoP, with a proof",
                ));
            }
            (Scheme::Bearer, None) if requires_dpop => {
                return Err(Error::Unauthenticated("this issuer's tokens must be DPoP-bound"));
            }
            (Scheme::Dpop, None) => {
                return Err(Error::Unauthenticated(
                    "a DPoP token must be bound to a key (cnf.jkt)",
                ));
            }
            (_, bound_to) => bound_to,
        };
        Ok(Presented { principal: verified.principal, valid_until, bound_to })
    }

    /// Checks the DPoP `proof` of a call of `path` with the bound `token` that
    /// `verify_presented` let through; nothing for a bearer token.
    pub fn check_proof(
        &self,
        presented: &Presented,
        token: &str,
        proof: Option<&str>,
        path: &str,
    ) -> Result<(), Error> {
        let Some(jkt) = &presented.bound_to else { return Ok(()) };
        let proof = proof.ok_or(Error::Unauthenticated("a DPoP token needs a dpop proof"))?;
        self.proofs.check(proof, token, path, jkt)
    }

    /// The token verified, from the cache of verified tokens when it is there and the key
    /// that signed it still trusted.
    fn verify_cached(&self, token: &str) -> Result<Verified, Error> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Error::Unauthenticated("token is too large"));
        }
        let digest = token_cache::digest(token);
        let now = unix_now()?;
        if let Some(hit) = self.verified.get(&digest, now) {
            if self.providers.get(hit.provider).is_some_and(|p| p.trusts(&hit.kid, hit.generation))
            {
                return Ok(hit);
            }
            self.verified.remove(&digest);
        }
        let verified = self.verify_signature(token)?;
        self.verified.insert(digest, verified.clone(), now);
        Ok(verified)
    }

    /// Verifies a token in full, without the cache.
    fn verify_signature(&self, token: &str) -> Result<Verified, Error> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| Error::Unauthenticated("malformed token"))?;
        let typ_accepted = header
            .typ
            .as_deref()
            .is_some_and(|t| ACCEPTED_TYPES.iter().any(|a| t.eq_ignore_ascii_case(a)));
        if !typ_accepted {
            return Err(Error::Unauthenticated("token type (typ) must be at+jwt or JWT"));
        }
        let kid = header.kid.ok_or(Error::Unauthenticated("token names no key (kid)"))?;
        let issuer = peek_issuer(token)?;
        let (index, provider) = self
            .providers
            .iter()
            .enumerate()
            .find(|(_, p)| p.issuer == issuer)
            .ok_or(Error::Unauthenticated("token is from an untrusted issuer"))?;
        let (jwk, generation) =
            provider.key(&kid).ok_or(Error::Unauthenticated("token signed by an unknown key"))?;
        let algorithm =
            algorithm_of(&jwk).ok_or(Error::Unauthenticated("token signed by an unusable key"))?;
        if header.alg != algorithm {
            return Err(Error::Unauthenticated("token algorithm does not match its key"));
        }
        let key = DecodingKey::from_jwk(&jwk)
            .map_err(|_| Error::Unauthenticated("token signed by an unusable key"))?;
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&provider.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
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
                ErrorKind::MissingRequiredClaim(_) => "token lacks exp, iat, iss or aud",
                _ => "token is invalid",
            })
        })?;
        let claims = data.claims;
        let leeway = i64::try_from(self.config.leeway.as_secs()).unwrap_or(i64::MAX);
        let max_lifetime = i64::try_from(self.config.max_lifetime.as_secs()).unwrap_or(i64::MAX);
        if claims.exp.saturating_sub(claims.iat) > max_lifetime.saturating_add(leeway) {
            return Err(Error::Unauthenticated("token lives longer than the maximum lifetime"));
        }
        if claims.iat > unix_now()?.saturating_add(leeway) {
            return Err(Error::Unauthenticated("token is issued in the future"));
        }
        let expires = claims.exp;
        let bound_to = claims.cnf.as_ref().and_then(|c| c.jkt.clone());
        let principal = principal(provider.kind, claims, &self.config)?;
        Ok(Verified { principal, expires, provider: index, kid, generation, bound_to })
    }
}

impl Provider {
    /// Whether the key `kid`, as read in `generation`, is still in the set, without reading the
    /// file again: the set must not have been read again since, and must still hold `kid`.
    fn trusts(&self, kid: &str, generation: u64) -> bool {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        keys.generation == generation && keys.set.find(kid).is_some()
    }

    /// The key `kid`, and the generation of the set it was found in.
    fn key(&self, kid: &str) -> Option<(Jwk, u64)> {
        let cooled_down = {
            let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
            if let Some(jwk) = keys.set.find(kid) {
                return Some((jwk.clone(), keys.generation));
            }
            keys.loaded_at.elapsed() >= self.cooldown
        };
        // An unknown key may be a rotated one: read the keys again, but not on every bad token.
        if matches!(self.source, KeySource::Fixed) || !cooled_down {
            return None;
        }
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        if keys.loaded_at.elapsed() >= self.cooldown {
            keys.loaded_at = MonoInstant::now();
            let read = match &self.source {
                KeySource::File(path) => read_jwks(path),
                KeySource::Url(uri) => off_the_async_threads(|| fetch_jwks(uri)),
                KeySource::Fixed => return None,
            };
            match read {
                Ok(set) => {
                    keys.set = set;
                    keys.generation += 1;
                }
                // The keys read last stay in use while the provider does not answer.
                Err(e) => {
                    tracing::warn!(issuer = %self.issuer, error = %e, "reading the jwks failed")
                }
            }
        }
        keys.set.find(kid).map(|jwk| (jwk.clone(), keys.generation))
    }
}

/// The `iss` of a token, read before its signature is checked only to choose whose keys check
/// it; the verification then requires exactly that issuer.
fn peek_issuer(token: &str) -> Result<String, Error> {
    let payload = token.split('.').nth(1).ok_or(Error::Unauthenticated("malformed token"))?;
    let bytes =
        URL_SAFE_NO_PAD.decode(payload).map_err(|_| Error::Unauthenticated("malformed token"))?;
    serde_json::from_slice::<Issuer>(&bytes)
        .map(|i| i.iss)
        .map_err(|_| Error::Unauthenticated("token names no issuer (iss)"))
}

fn unix_now() -> Result<i64, Error> {
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map_err(Error::internal)?.as_secs();
    i64::try_from(seconds).map_err(Error::internal)
}

/// Runs `work`, which blocks (a fetch over the network), without stalling the other calls of
/// an async worker thread: on a multi-threaded runtime the thread hands its other tasks over
/// first (`block_in_place`).
fn off_the_async_threads<T>(work: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// GETs `url` and reads its body as JSON of `T`, within `JWKS_FETCH_TIMEOUT` and
/// `JWKS_MAX_BYTES`.
fn fetch_json<T: serde::de::DeserializeOwned>(url: &str, what: &str) -> Result<T, Error> {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().timeout_global(Some(JWKS_FETCH_TIMEOUT)).build().into();
    let fail = |e: &dyn std::fmt::Display| Error::internal(format!("fetching {what} {url}: {e}"));
    let mut response = agent.get(url).call().map_err(|e| fail(&e))?;
    let body = response
        .body_mut()
        .with_config()
        .limit(JWKS_MAX_BYTES)
        .read_to_string()
        .map_err(|e| fail(&e))?;
    serde_json::from_str(&body).map_err(|e| fail(&e))
}

/// The `jwks_uri` of `issuer`'s OpenID Connect discovery document, which must name the same
/// issuer (OpenID Connect Discovery 1.0 § 4.3).
fn discover_jwks_uri(issuer: &str) -> Result<String, Error> {
    #[derive(serde::Deserialize)]
    struct Discovery {
        issuer: String,
        jwks_uri: String,
    }
    let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
    let found: Discovery = fetch_json(&url, "the discovery document")?;
    if found.issuer != issuer {
        return Err(Error::internal(format!(
            "the discovery document {url} names issuer {}, not {issuer}",
            found.issuer
        )));
    }
    Ok(found.jwks_uri)
}

fn fetch_jwks(uri: &str) -> Result<JwkSet, Error> {
    fetch_json(uri, "the jwks")
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
    let symmetric = matches!(algorithm, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512);
    (!symmetric).then_some(algorithm)
}

/// An organisation named `0192:{number}`.
fn org_claim(claim: &OrgClaim) -> Option<OrgNumber> {
    claim.id.strip_prefix(MASKINPORTEN_ORG_PREFIX).and_then(|n| OrgNumber::parse("", n).ok())
}

/// Maps the claims of a token to the principal of the provider's kind of caller:
/// - ID-porten: the citizen by `pid`, logged in at an accepted `acr`;
/// - HelseID: the person by `sub`, acting for `orgnr_child` or else `orgnr_parent`, with their
///   `pid` kept only to refuse relations they would create for themselves;
/// - Maskinporten: the system by `client_id`, acting for `systemuser_org` when the token is an
///   Altinn system user's (`authorization_details` of type `urn:altinn:systemuser`), else for
///   its `consumer` (the customer, in a supplier-delegated token).
fn principal(
    kind: SubjectKind,
    claims: Claims,
    config: &VerifierConfig,
) -> Result<Principal, Error> {
    match kind {
        SubjectKind::Citizen => {
            let acr_accepted = claims
                .acr
                .as_deref()
                .is_some_and(|acr| config.citizen_acr.iter().any(|a| a == acr));
            if !acr_accepted {
                return Err(Error::Unauthenticated(
                    "the citizen did not log in at the required assurance level (acr)",
                ));
            }
            let id = claims
                .pid
                .as_deref()
                .and_then(|pid| NationalId::parse("", pid).ok())
                .ok_or(Error::Unauthenticated("token names no valid pid"))?;
            Ok(Principal {
                subject: Subject::citizen(&id),
                organisation: None,
                national_id: Some(id),
                person: None,
            })
        }
        SubjectKind::Personnel => {
            let org = claims
                .orgnr_child
                .or(claims.orgnr_parent)
                .and_then(|org| OrgNumber::parse("", &org).ok())
                .ok_or(Error::Unauthenticated(
                    "token names no valid organisation (orgnr_child or orgnr_parent)",
                ))?;
            let subject = claims
                .sub
                .as_deref()
                .and_then(|s| Subject::external(SubjectKind::Personnel, s))
                .ok_or(Error::Unauthenticated("token names no valid sub"))?;
            let person = match claims.person.as_deref() {
                Some(pid) => Some(
                    NationalId::parse("", pid)
                        .map_err(|_| Error::Unauthenticated("token names an invalid pid"))?,
                ),
                None => None,
            };
            Ok(Principal { subject, organisation: Some(org), national_id: None, person })
        }
        SubjectKind::System => {
            let mut system_users = claims
                .authorization_details
                .iter()
                .flatten()
                .filter(|d| d.kind == ALTINN_SYSTEM_USER);
            let system_user = system_users.next();
            if system_users.next().is_some() {
                return Err(Error::Unauthenticated(
                    "token names more than one system user: which organisation it acts for is \
                     ambiguous",
                ));
            }
            let org =
                match system_user {
                    Some(detail) => detail.systemuser_org.as_ref().and_then(org_claim).ok_or(
                        Error::Unauthenticated("system user token names no valid systemuser_org"),
                    )?,
                    None => claims.consumer.as_ref().and_then(org_claim).ok_or(
                        Error::Unauthenticated("token names no valid consumer organisation"),
                    )?,
                };
            let client = claims
                .client_id
                .as_deref()
                .and_then(|c| Subject::external(SubjectKind::System, c))
                .ok_or(Error::Unauthenticated("token names no valid client_id"))?;
            Ok(Principal {
                subject: client,
                organisation: Some(org),
                national_id: None,
                person: None,
            })
        }
    }
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
        /// Their own national identity number (HelseID's `pid`), if the token carries it.
        person: Option<String>,
    },
    /// An agency system, as Maskinporten would name it.
    System {
        /// Client id.
        client: String,
        /// The consumer organisation.
        org: String,
    },
}

impl DevIdentity {
    /// The kind of caller, which decides the development issuer.
    pub fn kind(&self) -> SubjectKind {
        match self {
            DevIdentity::Citizen { .. } => SubjectKind::Citizen,
            DevIdentity::Personnel { .. } => SubjectKind::Personnel,
            DevIdentity::System { .. } => SubjectKind::System,
        }
    }
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
        let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().to_bytes();
        let kid = format!("dev-{}", &URL_SAFE_NO_PAD.encode(public)[..12]);
        DevKey { seed, kid }
    }

    /// The public half, as a JWKS: what a production deployment would publish.
    pub fn jwks(&self) -> JwkSet {
        let public = ed25519_dalek::SigningKey::from_bytes(&self.seed).verifying_key().to_bytes();
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

    /// Signs a token for `who`, from the development issuer of their kind, valid from now for
    /// `ttl`, with any extra claims merged in.
    pub fn mint(
        &self,
        who: &DevIdentity,
        audience: &str,
        ttl: Duration,
        extra: serde_json::Map<String, serde_json::Value>,
    ) -> Result<String, Error> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_err(Error::internal)?.as_secs();
        let mut map = serde_json::Map::new();
        map.insert("iss".into(), dev_issuer(who.kind()).into());
        map.insert("aud".into(), audience.into());
        map.insert("iat".into(), now.into());
        map.insert("nbf".into(), now.into());
        map.insert("exp".into(), (now + ttl.as_secs()).into());
        match who {
            DevIdentity::Citizen { pid } => {
                map.insert("pid".into(), pid.as_str().into());
                map.insert("acr".into(), "idporten-loa-high".into());
            }
            DevIdentity::Personnel { sub, org, person } => {
                map.insert("sub".into(), sub.as_str().into());
                map.insert(HELSEID_ORG_PARENT.into(), org.as_str().into());
                if let Some(pid) = person {
                    map.insert(HELSEID_PID.into(), pid.as_str().into());
                }
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
        header.typ = Some("at+jwt".into());
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

    /// A synthetic identity number, as a token's `pid` carries it.
    fn pid(n: usize) -> String {
        crate::domain::national_id::synthetic_for_tests(n).expose().to_owned()
    }

    fn config() -> VerifierConfig {
        VerifierConfig::new(DEFAULT_AUDIENCE, Duration::from_secs(5))
    }

    fn key() -> DevKey {
        DevKey::from_seed([7; 32])
    }

    fn mint(key: &DevKey, who: &DevIdentity, extra: serde_json::Value) -> String {
        let extra = extra.as_object().cloned().unwrap_or_default();
        key.mint(who, DEFAULT_AUDIENCE, Duration::from_secs(60), extra).unwrap()
    }

    fn personnel() -> DevIdentity {
        DevIdentity::Personnel { sub: "gp-1".into(), org: "910000004".into(), person: None }
    }

    fn system() -> DevIdentity {
        DevIdentity::System { client: "nav-system".into(), org: "920000002".into() }
    }

    /// Signs `claims` as they are, with `typ` in the header.
    fn sign_raw(key: &DevKey, typ: Option<&str>, claims: serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        header.typ = typ.map(str::to_owned);
        let mut der = ED25519_PKCS8_PREFIX.to_vec();
        der.extend_from_slice(&key.seed);
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(&der)).unwrap()
    }

    /// A verified token is served from the cache only while the key that signed it is the one
    /// the provider publishes under its `kid`: replacing the key under the same `kid`, or
    /// removing it, stops the token at the next call.
    #[test]
    fn a_cached_token_stops_when_its_key_is_replaced_or_removed() {
        let dir = std::env::temp_dir().join(format!("samvirke-jwks-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("jwks.json");
        let write = |set: &JwkSet| std::fs::write(&file, serde_json::to_string(set).unwrap());
        let first = DevKey::from_seed([1; 32]);
        let replacement = DevKey { seed: [2; 32], kid: first.kid.clone() };
        let other = DevKey::from_seed([3; 32]);
        write(&first.jwks()).unwrap();
        let provider = ProviderConfig {
            kind: SubjectKind::Personnel,
            issuer: dev_issuer(SubjectKind::Personnel).into(),
            jwks: JwksLocation::File(file.clone()),
            requires_dpop: false,
        };
        let verifier = TokenVerifier::from_providers(&[provider], config()).unwrap();
        let token = mint(&first, &personnel(), serde_json::json!({}));
        verifier.verify(&token).unwrap();
        verifier.verify(&token).unwrap();
        // Force the next unknown kid to read the file again, as after the cool-down.
        let reread = |set: &JwkSet| {
            write(set).unwrap();
            let mut keys = verifier.providers[0].keys.write().unwrap();
            keys.loaded_at = MonoInstant::now() - JWKS_RELOAD_COOLDOWN * 2;
            drop(keys);
            // An unknown kid makes the verifier read the file again.
            let _ = verifier.verify(&mint(
                &DevKey::from_seed([9; 32]),
                &personnel(),
                serde_json::json!({}),
            ));
        };
        let mut both = replacement.jwks();
        both.keys.extend(other.jwks().keys);
        reread(&both);
        assert!(verifier.verify(&token).is_err(), "a token of a replaced key was still accepted");
        verifier.verify(&mint(&replacement, &personnel(), serde_json::json!({}))).unwrap();
        // And a key taken out of the set.
        let token = mint(&other, &personnel(), serde_json::json!({}));
        verifier.verify(&token).unwrap();
        reread(&replacement.jwks());
        assert!(verifier.verify(&token).is_err(), "a token of a removed key was still accepted");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A provider publishing its keys at the `jwks_uri` of its discovery document, over HTTP on
    /// a local port: `keys` is what it publishes, `down` makes it answer 503, `fetched` counts
    /// the JWKS fetched.
    struct Publisher {
        issuer: String,
        keys: std::sync::Arc<std::sync::Mutex<JwkSet>>,
        down: std::sync::Arc<std::sync::atomic::AtomicBool>,
        fetched: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    fn publish(first: &DevKey) -> Publisher {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let published = Publisher {
            issuer: issuer.clone(),
            keys: std::sync::Arc::new(std::sync::Mutex::new(first.jwks())),
            down: Default::default(),
            fetched: Default::default(),
        };
        let (keys, down, fetched) =
            (published.keys.clone(), published.down.clone(), published.fetched.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request = Vec::new();
                let mut byte = [0; 1];
                while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                    request.push(byte[0]);
                }
                let request = String::from_utf8_lossy(&request);
                let path = request.split_whitespace().nth(1).unwrap_or_default().to_owned();
                let (status, body) = if down.load(Ordering::SeqCst) {
                    ("503 Service Unavailable", String::new())
                } else if path.ends_with("/.well-known/openid-configuration") {
                    let jwks_uri = format!("{issuer}/jwks");
                    (
                        "200 OK",
                        serde_json::json!({ "issuer": issuer, "jwks_uri": jwks_uri }).to_string(),
                    )
                } else if path == "/jwks" {
                    fetched.fetch_add(1, Ordering::SeqCst);
                    ("200 OK", serde_json::to_string(&*keys.lock().unwrap()).unwrap())
                } else {
                    ("404 Not Found", String::new())
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        published
    }

    /// Keys from the issuer's discovery document: read at start, read again on an unknown key
    /// id at most once a cool-down, and kept in use while the provider does not answer; a
    /// discovery document naming another issuer stops the start.
    #[test]
    fn keys_come_from_the_issuers_discovery_document_and_rotate() {
        use std::sync::atomic::Ordering;
        let (first, second, unknown) =
            (DevKey::from_seed([4; 32]), DevKey::from_seed([5; 32]), DevKey::from_seed([6; 32]));
        let publisher = publish(&first);
        let cooldown = Duration::from_millis(300);
        let config = VerifierConfig { jwks_cooldown: cooldown, ..config() };
        let provider = ProviderConfig {
            kind: SubjectKind::Personnel,
            issuer: publisher.issuer.clone(),
            jwks: JwksLocation::Discovery,
            requires_dpop: false,
        };
        let verifier =
            TokenVerifier::from_providers(std::slice::from_ref(&provider), config.clone()).unwrap();
        let iss = serde_json::json!({ "iss": publisher.issuer });
        let token = |key: &DevKey| mint(key, &personnel(), iss.clone());
        verifier.verify(&token(&first)).unwrap();
        assert_eq!(publisher.fetched.load(Ordering::SeqCst), 1);

        // The provider rotates to a new key: a token of it is accepted once the cool-down
        // has passed, after one fetch; the old key is gone.
        *publisher.keys.lock().unwrap() = second.jwks();
        std::thread::sleep(cooldown + Duration::from_millis(50));
        verifier.verify(&token(&second)).unwrap();
        assert_eq!(publisher.fetched.load(Ordering::SeqCst), 2);
        assert!(verifier.verify(&token(&first)).is_err(), "the rotated-out key still counts");
        // Unknown key ids within the cool-down fetch nothing.
        for _ in 0..20 {
            assert!(verifier.verify(&token(&unknown)).is_err());
        }
        assert_eq!(publisher.fetched.load(Ordering::SeqCst), 2, "a fetch per bad token");

        // The provider is down: an unknown key's fetch fails, and the keys read last serve.
        publisher.down.store(true, Ordering::SeqCst);
        std::thread::sleep(cooldown + Duration::from_millis(50));
        assert!(verifier.verify(&token(&unknown)).is_err());
        verifier.verify(&token(&second)).expect("the cached keys serve while it is down");
        publisher.down.store(false, Ordering::SeqCst);

        // A discovery document must name the issuer it was fetched for.
        let elsewhere =
            ProviderConfig { issuer: format!("{}/other", publisher.issuer), ..provider };
        let refused = TokenVerifier::from_providers(&[elsewhere], config).err().unwrap();
        assert!(format!("{refused:?}").contains("names issuer"), "{refused:?}");
    }

    /// An issuer configured to require DPoP has its bearer tokens refused; another's are not.
    #[test]
    fn an_issuer_may_require_dpop() {
        let dir = std::env::temp_dir().join(format!("samvirke-dpop-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("jwks.json");
        let key = DevKey::from_seed([8; 32]);
        std::fs::write(&file, serde_json::to_string(&key.jwks()).unwrap()).unwrap();
        let provider = |requires_dpop| ProviderConfig {
            kind: SubjectKind::Personnel,
            issuer: dev_issuer(SubjectKind::Personnel).into(),
            jwks: JwksLocation::File(file.clone()),
            requires_dpop,
        };
        let token = mint(&key, &personnel(), serde_json::json!({}));
        let strict = TokenVerifier::from_providers(&[provider(true)], config()).unwrap();
        let refused = strict.verify(&token).unwrap_err();
        assert!(format!("{refused:?}").contains("DPoP-bound"), "{refused:?}");
        let lenient = TokenVerifier::from_providers(&[provider(false)], config()).unwrap();
        lenient.verify(&token).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn maps_each_identity_provider() {
        let key = key();
        let verifier = TokenVerifier::from_dev_key(&key, config());
        let citizen = DevIdentity::Citizen { pid: pid(0) };
        let p = verifier.verify(&mint(&key, &citizen, serde_json::json!({}))).unwrap();
        assert!(p.national_id.is_some() && p.organisation.is_none());
        let p = verifier.verify(&mint(&key, &personnel(), serde_json::json!({}))).unwrap();
        assert_eq!(p.subject.as_stored(), "personnel:gp-1");
        assert_eq!(p.organisation.unwrap().as_str(), "910000004");
        assert!(p.person.is_none());
        let with_pid = DevIdentity::Personnel {
            sub: "gp-1".into(),
            org: "910000004".into(),
            person: Some(pid(1)),
        };
        let p = verifier.verify(&mint(&key, &with_pid, serde_json::json!({}))).unwrap();
        assert!(p.is(&Subject::parse("s", &format!("citizen:{}", pid(1))).unwrap()));
        assert!(p.national_id.is_none(), "a person's pid never makes them an owner");
        let p = verifier.verify(&mint(&key, &system(), serde_json::json!({}))).unwrap();
        assert_eq!(p.subject.as_stored(), "system:nav-system");
        assert_eq!(p.organisation.unwrap().as_str(), "920000002");
    }

    #[test]
    fn a_system_user_acts_for_its_customer() {
        let key = key();
        let verifier = TokenVerifier::from_dev_key(&key, config());
        let details = serde_json::json!({"authorization_details": [{
            "type": "urn:altinn:systemuser",
            "systemuser_id": ["a"],
            "systemuser_org": {"authority": "iso6523-actorid-upis", "ID": "0192:940000009"},
            "system_id": "vendor_system"
        }]});
        let p = verifier.verify(&mint(&key, &system(), details)).unwrap();
        assert_eq!(p.organisation.unwrap().as_str(), "940000009");
        let no_org =
            serde_json::json!({"authorization_details": [{"type": "urn:altinn:systemuser"}]});
        assert!(verifier.verify(&mint(&key, &system(), no_org)).is_err());
        let two = serde_json::json!({"authorization_details": [
            {"type": "urn:altinn:systemuser", "systemuser_org": {"ID": "0192:940000009"}},
            {"type": "urn:altinn:systemuser", "systemuser_org": {"ID": "0192:930000000"}}
        ]});
        assert!(verifier.verify(&mint(&key, &system(), two)).is_err());
    }

    #[test]
    fn kinds_come_from_the_issuer_not_the_claims() {
        let key = key();
        let verifier = TokenVerifier::from_dev_key(&key, config());
        // A HelseID token that also carries a citizen's pid is personnel, not that citizen.
        let token = mint(&key, &personnel(), serde_json::json!({"pid": pid(0)}));
        let p = verifier.verify(&token).unwrap();
        assert!(p.national_id.is_none());
        // A Maskinporten token whose claims look like HelseID's is refused as a system without
        // a client id.
        let token = mint(&key, &personnel(), serde_json::json!({"iss": DEV_ISSUER_SYSTEMS}));
        assert!(verifier.verify(&token).is_err());
        // An ID-porten token naming an organisation is still a citizen with none.
        let citizen = DevIdentity::Citizen { pid: pid(0) };
        let token = mint(&key, &citizen, serde_json::json!({"consumer": {"ID": "0192:910000004"}}));
        assert!(verifier.verify(&token).unwrap().organisation.is_none());
    }

    #[test]
    fn rejects_bad_tokens() {
        let key = key();
        let verifier = TokenVerifier::from_dev_key(&key, config());
        let who = personnel();
        let cases = [
            serde_json::json!({"aud": "someone-else"}),
            serde_json::json!({"iss": "someone-else"}),
            serde_json::json!({"exp": 1_000_000}),
            serde_json::json!({"nbf": 4_000_000_000u64}),
            serde_json::json!({"iat": null}),
            serde_json::json!({"iat": 4_000_000_000u64, "exp": 4_000_000_060u64}),
        ];
        for extra in cases {
            let token = mint(&key, &who, extra.clone());
            assert!(matches!(verifier.verify(&token), Err(Error::Unauthenticated(_))), "{extra}");
        }
        let other = DevKey::from_seed([8; 32]);
        let foreign = TokenVerifier::from_dev_key(&other, config());
        assert!(foreign.verify(&mint(&key, &who, serde_json::json!({}))).is_err());
        let token = mint(&key, &who, serde_json::json!({}));
        let tampered = format!("{}x", &token[..token.len() - 1]);
        assert!(verifier.verify(&tampered).is_err());
        assert!(verifier.verify("not a token").is_err());
        assert!(verifier.verify(&"a".repeat(MAX_TOKEN_BYTES + 1)).is_err());
    }

    #[test]
    fn the_token_type_must_be_an_access_token_or_jwt() {
        let key = key();
        let verifier = TokenVerifier::from_dev_key(&key, config());
        let now = unix_now().unwrap();
        let claims = serde_json::json!({
            "iss": DEV_ISSUER_PERSONNEL, "aud": DEFAULT_AUDIENCE, "iat": now, "exp": now + 60,
            "sub": "gp-1", "helseid://claims/client/claims/orgnr_parent": "910000004"
        });
        for typ in ["at+jwt", "AT+JWT", "application/at+jwt", "JWT"] {
            let token = sign_raw(&key, Some(typ), claims.clone());
            assert!(verifier.verify(&token).is_ok(), "{typ}");
        }
        for typ in [Some("foo"), Some("dpop+jwt"), Some("logout+jwt"), None] {
            let token = sign_raw(&key, typ, claims.clone());
            assert!(verifier.verify(&token).is_err(), "{typ:?}");
        }
    }

    #[test]
    fn lifetimes_and_assurance_levels_are_bounded() {
        let key = key();
        let verifier = TokenVerifier::from_dev_key(&key, config());
        let who = personnel();
        let now = unix_now().unwrap();
        let long = serde_json::json!({"iat": now, "exp": now + 3600 + 6});
        assert!(verifier.verify(&mint(&key, &who, long)).is_err());
        let hour = serde_json::json!({"iat": now, "exp": now + 3600});
        assert!(verifier.verify(&mint(&key, &who, hour)).is_ok());
        let citizen = DevIdentity::Citizen { pid: pid(0) };
        for acr in [serde_json::json!("idporten-loa-substantial"), serde_json::Value::Null] {
            let token = mint(&key, &citizen, serde_json::json!({"acr": acr}));
            assert!(verifier.verify(&token).is_err(), "{acr}");
        }
    }
}
