//! Overload is refused, not queued without end. Four limits, each configurable
//! (`ServeArgs`, the README's "Limits"):
//!
//! - calls in flight in all: past `max_concurrent_calls`, a call is refused at once with
//!   UNAVAILABLE and a `google.rpc.RetryInfo` delay (`Admission`);
//! - calls in flight on one HTTP/2 connection: `SETTINGS_MAX_CONCURRENT_STREAMS`, which the
//!   client's HTTP/2 layer honours by waiting;
//! - calls per caller: a token bucket per authenticated subject; past it, RESOURCE_EXHAUSTED
//!   with the delay after which the next call is let in (`CallerRate`);
//! - calls in flight per caller: past `max_calls_per_caller`, RESOURCE_EXHAUSTED, so that one
//!   caller holding calls open (a body never finished) cannot take every slot of the server
//!   (`CallerSlots`, held from `Admission` until the call ends);
//! - time: a call still running after `deadline` is answered DEADLINE_EXCEEDED, and its work is
//!   dropped, which rolls its transaction back (`Admission`).
//!
//! Idle connections are probed with HTTP/2 PINGs, and closed when the peer does not answer.

use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::Semaphore;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The limits on what the server takes on.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Calls served at once, over all connections.
    pub max_concurrent_calls: usize,
    /// Calls one HTTP/2 connection may have open at once.
    pub max_streams_per_connection: u32,
    /// Calls one caller may make per second, sustained; `None` for no limit.
    pub caller_rate: Option<NonZeroU32>,
    /// Calls one caller may make at once above the sustained rate.
    pub caller_burst: NonZeroU32,
    /// Calls one caller may have in flight at once.
    pub max_calls_per_caller: usize,
    /// The longest a call may run.
    pub deadline: Duration,
    /// How often an HTTP/2 connection is probed with a PING.
    pub keepalive_interval: Duration,
    /// How long a PING may go unanswered before the connection is closed.
    pub keepalive_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_concurrent_calls: 512,
            max_streams_per_connection: 128,
            caller_rate: NonZeroU32::new(100),
            caller_burst: NonZeroU32::new(200).unwrap_or(NonZeroU32::MIN),
            max_calls_per_caller: 32,
            deadline: Duration::from_secs(30),
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
        }
    }
}

/// How long a client refused for load should wait before it tries again.
const BUSY_RETRY: Duration = Duration::from_millis(200);

/// The tower layer that admits calls within the in-flight limit and ends them at the deadline.
#[derive(Clone)]
pub struct AdmissionLayer {
    permits: Arc<Semaphore>,
    deadline: Duration,
}

impl AdmissionLayer {
    /// Admits up to `limits.max_concurrent_calls` at once, each for `limits.deadline`.
    pub fn new(limits: &Limits) -> Self {
        AdmissionLayer {
            permits: Arc::new(Semaphore::new(limits.max_concurrent_calls.max(1))),
            deadline: limits.deadline,
        }
    }
}

impl<S> tower::Layer<S> for AdmissionLayer {
    type Service = Admission<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Admission { inner, permits: self.permits.clone(), deadline: self.deadline }
    }
}

/// The service `AdmissionLayer` wraps around the router.
#[derive(Clone)]
pub struct Admission<S> {
    inner: S,
    permits: Arc<Semaphore>,
    deadline: Duration,
}

type HttpResponse = http::Response<tonic::body::Body>;

impl<S, B> tower::Service<http::Request<B>> for Admission<S>
where
    S: tower::Service<http::Request<B>, Response = HttpResponse> + Send,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, S::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            tracing::warn!("refused a call: the server is at its limit of calls in flight");
            let status = Status::with_error_details(
                Code::Unavailable,
                "the server is at its limit of calls in flight: retry",
                ErrorDetails::with_retry_info(Some(BUSY_RETRY)),
            );
            return Box::pin(async move { Ok(status.into_http()) });
        };
        let deadline = self.deadline;
        // Authentication fills it with the caller's slot; it is held until the call ends.
        let slot = CallerSlotHolder::default();
        request.extensions_mut().insert(slot.clone());
        // Authentication checks a DPoP proof against the call's URL.
        let path = CallPath(request.uri().path().to_owned());
        request.extensions_mut().insert(path);
        let call = self.inner.call(request);
        Box::pin(async move {
            let answer = tokio::time::timeout(deadline, call).await;
            drop(slot);
            drop(permit);
            match answer {
                Ok(answer) => answer,
                Err(_) => {
                    tracing::warn!(
                        deadline_ms = deadline.as_millis(),
                        "a call ran past the deadline"
                    );
                    let status = Status::deadline_exceeded(format!(
                        "the call took longer than the server's deadline of {} ms and was not \
                         completed",
                        deadline.as_millis()
                    ));
                    Ok(status.into_http())
                }
            }
        })
    }
}

/// Calls per caller: a token bucket (GCRA, governor's) per authenticated subject.
pub struct CallerRate {
    limiter: Option<DefaultKeyedRateLimiter<String>>,
}

impl CallerRate {
    /// A bucket of `limits.caller_burst` per caller, refilled at `limits.caller_rate` a second;
    /// no limit when the rate is `None`.
    pub fn new(limits: &Limits) -> Self {
        let limiter = limits.caller_rate.map(|rate| {
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(limits.caller_burst))
        });
        CallerRate { limiter }
    }

    /// Lets a call of `caller` in, or says RESOURCE_EXHAUSTED with the delay after which the
    /// next one will be.
    pub fn admit(&self, caller: &str) -> Result<(), Status> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        match limiter.check_key(&caller.to_owned()) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Err(Status::with_error_details(
                    Code::ResourceExhausted,
                    "too many calls from this caller: retry after the delay given",
                    ErrorDetails::with_retry_info(Some(wait.max(Duration::from_millis(1)))),
                ))
            }
        }
    }

    /// Forgets callers whose buckets are full again, so the state stays as large as the
    /// callers of the last moments.
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// Calls in flight per caller.
pub struct CallerSlots {
    max: usize,
    in_flight: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
}

/// One call's place among its caller's calls in flight; given back when dropped.
pub struct CallerSlot {
    caller: String,
    in_flight: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
}

impl Drop for CallerSlot {
    fn drop(&mut self) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = in_flight.get_mut(&self.caller) {
            *n -= 1;
            if *n == 0 {
                in_flight.remove(&self.caller);
            }
        }
    }
}

/// The gRPC path of the call (`/samvirke.v1.PlanService/GetPlan`), put in the request by
/// `Admission` for authentication, whose DPoP check needs it.
#[derive(Clone, Debug)]
pub struct CallPath(pub String);

/// Where a call's `CallerSlot` is kept: put in the request by `Admission`, filled by
/// authentication once the caller is known, and emptied when `Admission`'s call ends.
#[derive(Clone, Default)]
pub struct CallerSlotHolder(Arc<std::sync::Mutex<Option<CallerSlot>>>);

impl CallerSlotHolder {
    /// Keeps `slot` until the call ends.
    pub fn hold(&self, slot: CallerSlot) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(slot);
    }

    /// Takes the slot out, for a response that outlives the call's handler (a stream) and
    /// holds it itself; the call then holds none.
    pub fn take(&self) -> Option<CallerSlot> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

impl CallerSlots {
    /// At most `limits.max_calls_per_caller` calls in flight per caller.
    pub fn new(limits: &Limits) -> Self {
        CallerSlots::at_most(limits.max_calls_per_caller)
    }

    /// At most `max` (at least one) at once per caller.
    pub fn at_most(max: usize) -> Self {
        CallerSlots { max: max.max(1), in_flight: Arc::default() }
    }

    /// A place for a call of `caller`, or RESOURCE_EXHAUSTED when they have the most calls in
    /// flight they may.
    pub fn take(&self, caller: &str) -> Result<CallerSlot, Status> {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        let n = in_flight.entry(caller.to_owned()).or_default();
        if *n >= self.max {
            return Err(Status::with_error_details(
                Code::ResourceExhausted,
                "this caller has the most calls in flight it may: retry when one has ended",
                ErrorDetails::with_retry_info(Some(BUSY_RETRY)),
            ));
        }
        *n += 1;
        Ok(CallerSlot { caller: caller.to_owned(), in_flight: self.in_flight.clone() })
    }
}
