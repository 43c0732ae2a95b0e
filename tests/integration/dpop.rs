//! DPoP-bound access tokens (RFC 9449), as HelseID issues them for Norsk helsenett's APIs: a
//! token bound to a key (`cnf.jkt`) is accepted with `authorization: DPoP` and a fresh proof of
//! that key for this very call, and refused as a bearer token, with a replayed proof, a proof
//! for another call, or a proof by another key. Unbound bearer tokens stay accepted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use samvirke::domain::organisation::OrgRole;
use samvirke::proto;
use samvirke::proto::plan_service_client::PlanServiceClient;
use sha2::{Digest, Sha256};
use tonic::Code;

use super::common::*;

const PUBLIC_URL: &str = "https://samvirke.test";
const LIST_PLANS: &str = "/samvirke.v1.PlanService/ListPlans";

/// A client's key pair for DPoP: its public JWK and a way to sign proofs.
struct ClientKey {
    seed: [u8; 32],
    jwk: Jwk,
}

impl ClientKey {
    fn new(seed: u8) -> Self {
        let seed = [seed; 32];
        let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().to_bytes();
        let jwk = serde_json::json!({ "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(public) });
        ClientKey { seed, jwk: serde_json::from_value(jwk).unwrap() }
    }

    fn thumbprint(&self) -> String {
        self.jwk.thumbprint(ThumbprintHash::SHA256).unwrap()
    }

    /// A proof of this key for a call of `path` with `token`, made now, with a new `jti`.
    fn proof(&self, token: &str, path: &str) -> String {
        self.proof_at(token, path, 0)
    }

    /// A proof made `age` seconds ago (negative: in the future).
    fn proof_at(&self, token: &str, path: &str, age: i64) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(self.jwk.clone());
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let now = now as i64 - age;
        let claims = serde_json::json!({
            "jti": uuid::Uuid::now_v7().to_string(),
            "htm": "POST",
            "htu": format!("{PUBLIC_URL}{path}"),
            "iat": now,
            "ath": URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes())),
        });
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        der.extend_from_slice(&self.seed);
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(&der)).unwrap()
    }
}

/// ListPlans with `authorization` and, when given, a `dpop` proof.
async fn list_plans(server: &TestServer, authorization: String, proof: Option<String>) -> Code {
    let mut client =
        PlanServiceClient::with_interceptor(server.channel(), move |mut r: tonic::Request<()>| {
            r.metadata_mut().insert("authorization", authorization.parse().unwrap());
            if let Some(proof) = &proof {
                r.metadata_mut().insert("dpop", proof.parse().unwrap());
            }
            Ok(r)
        });
    code(&client.list_plans(proto::ListPlansRequest::default()).await)
}

on_both_backends! {
    async fn a_dpop_bound_token_is_accepted_with_a_fresh_proof_and_never_replayed(server: TestServer) {
        let server = server
            .node_with(|config| config.verifier.dpop.public_url = Some(PUBLIC_URL.into()))
            .await;
        server.bootstrap_grant(MUNICIPALITY, &staff().subject(), OrgRole::UnitStaff).await;
        let key = ClientKey::new(11);
        let token = server.token_with(&staff(), serde_json::json!({ "cnf": { "jkt": key.thumbprint() } }));
        let dpop = format!("DPoP {token}");

        let proof = key.proof(&token, LIST_PLANS);
        assert_eq!(list_plans(&server, dpop.clone(), Some(proof.clone())).await, Code::Ok);
        // The same proof again is a replay.
        assert_eq!(list_plans(&server, dpop.clone(), Some(proof)).await, Code::Unauthenticated);
        // A fresh one is accepted.
        assert_eq!(list_plans(&server, dpop.clone(), Some(key.proof(&token, LIST_PLANS))).await, Code::Ok);
        // Refused: no proof; a proof for another call; a proof by another key; a proof for
        // another token; the bound token as a bearer token.
        assert_eq!(list_plans(&server, dpop.clone(), None).await, Code::Unauthenticated);
        let elsewhere = key.proof(&token, "/samvirke.v1.PlanService/GetPlan");
        assert_eq!(list_plans(&server, dpop.clone(), Some(elsewhere)).await, Code::Unauthenticated);
        let stranger = ClientKey::new(12).proof(&token, LIST_PLANS);
        assert_eq!(list_plans(&server, dpop.clone(), Some(stranger)).await, Code::Unauthenticated);
        let other_token = key.proof("another token", LIST_PLANS);
        assert_eq!(list_plans(&server, dpop.clone(), Some(other_token)).await, Code::Unauthenticated);
        let as_bearer = format!("Bearer {token}");
        assert_eq!(list_plans(&server, as_bearer, Some(key.proof(&token, LIST_PLANS))).await, Code::Unauthenticated);
        // A proof is fresh for a minute, give or take a few seconds of skew, not the tokens'
        // clock skew on top (found by the attacker: -119 s and +59 s were accepted).
        assert_eq!(list_plans(&server, dpop.clone(), Some(key.proof_at(&token, LIST_PLANS, 50))).await, Code::Ok);
        for age in [90, -30] {
            let stale = Some(key.proof_at(&token, LIST_PLANS, age));
            assert_eq!(list_plans(&server, dpop.clone(), stale).await, Code::Unauthenticated, "{age}");
        }
        // An unbound token stays a bearer token, and is no DPoP token.
        let bearer = server.token(&staff());
        assert_eq!(list_plans(&server, format!("Bearer {bearer}"), None).await, Code::Ok);
        let unbound = Some(key.proof(&bearer, LIST_PLANS));
        assert_eq!(list_plans(&server, format!("DPoP {bearer}"), unbound).await, Code::Unauthenticated);
        server.stop().await;
    }
}
