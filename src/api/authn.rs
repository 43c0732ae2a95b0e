//! Identifies the caller once, before any handler runs: the bearer token becomes a `Principal`
//! in the request's extensions. Verification needs no I/O, so a (synchronous) interceptor fits.

use std::sync::Arc;

use tonic::service::Interceptor;
use tonic::{Request, Status};

use crate::auth::TokenVerifier;
use crate::domain::Error;
use crate::overload::{CallerRate, CallerSlotHolder, CallerSlots};

/// The authentication interceptor of the samvirke services.
#[derive(Clone)]
pub struct Authenticate(pub Arc<TokenVerifier>, pub Arc<CallerRate>, pub Arc<CallerSlots>);

impl Interceptor for Authenticate {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let header = request
            .metadata()
            .get("authorization")
            .ok_or(Error::Unauthenticated("missing bearer token"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .ok_or(Error::Unauthenticated("authorization is not a bearer token"))?;
        let principal = self.0.verify(token.trim())?;
        self.1.admit(principal.subject.as_stored())?;
        // The call's place among the caller's calls in flight, held by the admission layer
        // until the call ends (absent only where a call is served without that layer).
        if let Some(holder) = request.extensions().get::<CallerSlotHolder>().cloned() {
            holder.hold(self.2.take(principal.subject.as_stored())?);
        }
        request.extensions_mut().insert(principal);
        Ok(request)
    }
}
