//! Identifies the caller once, before any handler runs: the bearer token becomes a `Principal`
//! in the request's extensions. Verification needs no I/O, so a (synchronous) interceptor fits.

use std::sync::Arc;

use tonic::service::Interceptor;
use tonic::{Request, Status};

use crate::auth::TokenVerifier;
use crate::auth::token::Scheme;
use crate::domain::Error;
use crate::overload::{CallPath, CallerRate, CallerSlotHolder, CallerSlots};

/// When the credential a call was authenticated with stops being valid, in seconds since the
/// Unix epoch: a stream ends then (`api/plan_changes.rs`).
#[derive(Clone, Copy, Debug)]
pub struct CredentialValidUntil(pub i64);

/// The authentication interceptor of the samvirke services.
#[derive(Clone)]
pub struct Authenticate(pub Arc<TokenVerifier>, pub Arc<CallerRate>, pub Arc<CallerSlots>);

impl Interceptor for Authenticate {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let header = request
            .metadata()
            .get("authorization")
            .ok_or(Error::Unauthenticated("missing bearer token"))?;
        let header =
            header.to_str().map_err(|_| Error::Unauthenticated("malformed authorization"))?;
        let (scheme, token) = header.split_once(' ').unwrap_or((header, ""));
        let scheme = match scheme {
            s if s.eq_ignore_ascii_case("bearer") => Scheme::Bearer,
            s if s.eq_ignore_ascii_case("dpop") => Scheme::Dpop,
            _ => {
                return Err(
                    Error::Unauthenticated("authorization is not a Bearer or DPoP token").into()
                );
            }
        };
        let proof = request.metadata().get("dpop").and_then(|p| p.to_str().ok());
        let path = request.extensions().get::<CallPath>().map_or("", |p| p.0.as_str());
        let token = token.trim();
        let presented = self.0.verify_presented(scheme, token)?;
        self.1.admit(presented.principal.subject.as_stored())?;
        self.0.check_proof(&presented, token, proof, path)?;
        let (principal, valid_until) = (presented.principal, presented.valid_until);
        // The call's place among the caller's calls in flight, held by the admission layer
        // until the call ends (absent only where a call is served without that layer).
        if let Some(holder) = request.extensions().get::<CallerSlotHolder>().cloned() {
            holder.hold(self.2.take(principal.subject.as_stored())?);
        }
        request.extensions_mut().insert(principal);
        request.extensions_mut().insert(CredentialValidUntil(valid_until));
        Ok(request)
    }
}
