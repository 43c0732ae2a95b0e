//! `samvirke.v1.PlanChangeService`: the change feed, as pages (ListPlanChanges) and as a stream
//! (WatchPlanChanges).
//!
//! A stream holds the caller's slot for calls in flight it was admitted with, one of its
//! caller's few stream slots and one of the server's slots for streams for as long as it runs,
//! so streams respect the overload limits as unary calls do. It wakes when this node commits a
//! write, and polls for writes of other nodes. It sends through a small buffer: a client that
//! leaves it full for longer than the slow-consumer timeout is dropped with RESOURCE_EXHAUSTED,
//! never buffered for without end.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::authn::CredentialValidUntil;
use super::convert::timestamp;
use super::{Rpc, reply, take};
use crate::domain::Violations;
use crate::domain::change::{Changed, ChangedResource, PlanChange, Position};
use crate::domain::names::{plan_item, plan_name, plan_resource};
use crate::domain::{Error, FieldViolation};
use crate::ops::Context;
use crate::ops::changes::FollowChanges;
use crate::overload::{CallerSlotHolder, CallerSlots};
use crate::proto::plan_change_service_server::PlanChangeService;
use crate::proto::{
    self, ListPlanChangesRequest, ListPlanChangesResponse, WatchPlanChangesRequest,
};

/// How a stream of the change feed runs.
#[derive(Clone, Copy, Debug)]
pub struct StreamSettings {
    /// Streams open at once, over all callers.
    pub max_streams: usize,
    /// Streams one caller may have open at once, so that a few callers cannot take every
    /// stream the server allows.
    pub max_streams_per_caller: usize,
    /// How often a stream looks for changes other nodes made, when this node made none.
    pub poll_interval: Duration,
    /// How long a stream waits for a client that has left its buffer full before dropping it.
    pub slow_consumer_timeout: Duration,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            max_streams: 256,
            max_streams_per_caller: 4,
            poll_interval: Duration::from_secs(1),
            slow_consumer_timeout: Duration::from_secs(10),
        }
    }
}

/// How long the change feed keeps changes, and how its streams run.
#[derive(Clone, Copy, Debug)]
pub struct ChangeFeed {
    /// How long a change is kept; a cursor older than that is `FAILED_PRECONDITION`.
    pub retention: Duration,
    /// How often changes older than the retention are pruned.
    pub prune_interval: Duration,
    /// How streams run.
    pub streams: StreamSettings,
}

impl Default for ChangeFeed {
    fn default() -> Self {
        ChangeFeed {
            retention: Duration::from_secs(30 * 86_400),
            prune_interval: Duration::from_secs(3_600),
            streams: StreamSettings::default(),
        }
    }
}

/// Prunes the change feed of changes older than `feed.retention`, every `feed.prune_interval`,
/// until the task is aborted; a failure is logged and tried again at the next interval.
pub async fn prune_changes(store: crate::store::Store, feed: ChangeFeed) {
    loop {
        let before = crate::domain::time::Instant::now().0
            - i64::try_from(feed.retention.as_micros()).unwrap_or(i64::MAX);
        let pruned = store
            .write_with(async |s| s.prune_changes(crate::domain::time::Instant(before)).await)
            .await;
        match pruned {
            Ok(0) => {}
            Ok(rows) => tracing::info!(rows, "pruned the change feed"),
            Err(e) => tracing::warn!(error = %e, "pruning the change feed failed"),
        }
        tokio::time::sleep(feed.prune_interval).await;
    }
}

/// The plan change service.
pub struct PlanChangeApi {
    context: Context,
    slots: Arc<CallerSlots>,
    streams: Arc<Semaphore>,
    caller_streams: CallerSlots,
    settings: StreamSettings,
    stopping: tokio::sync::watch::Receiver<bool>,
}

impl PlanChangeApi {
    /// The service over `context`, whose streams take their callers' slots from `slots` and
    /// end, UNAVAILABLE, once `stopping` turns true (the server is shutting down: a graceful
    /// shutdown waits for every call, and a stream would never end by itself).
    pub fn new(
        context: Context,
        slots: Arc<CallerSlots>,
        settings: StreamSettings,
        stopping: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        let streams = Arc::new(Semaphore::new(settings.max_streams.max(1)));
        let caller_streams = CallerSlots::at_most(settings.max_streams_per_caller);
        PlanChangeApi { context, slots, streams, caller_streams, settings, stopping }
    }
}

/// Changes a stream sends per read of the feed.
const STREAM_PAGE: u32 = 100;

/// Changes a stream holds for a slow client before it waits; one more place is kept for the
/// status that drops them.
const STREAM_BUFFER: usize = 16;

/// The request's cursor, plan and page size, every bad field named.
fn follow(cursor: &str, plan: &str, page_size: i32) -> Result<FollowChanges, Error> {
    let mut v = Violations::default();
    let after = v.check(Position::parse("cursor", cursor));
    let plan = match plan {
        "" => Some(None),
        name => v.check(plan_name("plan", name).map(Some)),
    };
    let page_size = match page_size {
        0 => Some(100),
        1..=500 => Some(page_size.unsigned_abs()),
        _ => {
            v.push(FieldViolation::new("page_size", "must be from 1 to 500, or 0 for 100"));
            None
        }
    };
    let ((after, plan), page_size) = v.ok(after.zip(plan).zip(page_size))?;
    Ok(FollowChanges { after, plan, page_size, check_plan_now: true })
}

fn part(changed: Changed) -> proto::ChangedPart {
    use proto::ChangedPart as P;
    match changed {
        Changed::Plan => P::Plan,
        Changed::PatientSections => P::PatientSections,
        Changed::Contacts => P::Contacts,
        Changed::Goal(_) => P::Goal,
        Changed::Measure(_) => P::Measure,
        Changed::Meeting(_) | Changed::MeetingAttendance(_) => P::Meeting,
        Changed::Member => P::Member,
        Changed::Coordinator => P::Coordinator,
        Changed::Consent => P::Consent,
        Changed::Signature => P::Signature,
        Changed::Referral => P::Referral,
        Changed::Access => P::Access,
        Changed::Complaint(_) => P::Complaint,
    }
}

fn encode_resource(
    plan: Option<crate::domain::ids::ResourceId>,
    c: ChangedResource,
) -> proto::ChangedResource {
    let name = match (plan, c.changed) {
        (_, Changed::Complaint(id)) => format!("complaints/{id}"),
        (None, _) => String::new(),
        (Some(plan), changed) => plan_resource_name(plan, changed),
    };
    proto::ChangedResource {
        part: part(c.changed) as i32,
        name,
        etag: c.etag.map(|e| e.to_string()).unwrap_or_default(),
        deleted: c.deleted,
    }
}

/// The resource name of what a plan's revision changed: a goal, measure or meeting; empty for
/// the plan's own parts.
fn plan_resource_name(plan: crate::domain::ids::ResourceId, changed: Changed) -> String {
    match changed {
        Changed::Goal(Some(id)) => plan_item(plan, "goals", id),
        Changed::Measure(Some(id)) => plan_item(plan, "measures", id),
        Changed::Meeting(Some(id)) | Changed::MeetingAttendance(Some(id)) => {
            plan_item(plan, "meetings", id)
        }
        _ => String::new(),
    }
}

fn encode(change: PlanChange) -> proto::PlanChange {
    let plan = change.plan;
    proto::PlanChange {
        plan: plan.map(plan_resource).unwrap_or_default(),
        revision: change.revision,
        change_time: Some(timestamp(change.time)),
        changed: change.changed.into_iter().map(|c| encode_resource(plan, c)).collect(),
        plan_etag: change.plan_etag.map(|e| e.to_string()).unwrap_or_default(),
        cursor: change.position.encode(),
    }
}

/// What a stream of the change feed yields.
type ChangeStream =
    Pin<Box<dyn Stream<Item = Result<proto::WatchPlanChangesResponse, Status>> + Send>>;

#[tonic::async_trait]
impl PlanChangeService for PlanChangeApi {
    async fn list_plan_changes(
        &self,
        r: Request<ListPlanChangesRequest>,
    ) -> Rpc<ListPlanChangesResponse> {
        let (who, req) = take(r)?;
        let follow = follow(&req.cursor, &req.plan, req.page_size)?;
        let page = self.context.list_plan_changes(&who, follow).await?;
        reply(ListPlanChangesResponse {
            changes: page.changes.into_iter().map(encode).collect(),
            next_cursor: page.next.encode(),
        })
    }

    type WatchPlanChangesStream = ChangeStream;

    async fn watch_plan_changes(
        &self,
        r: Request<WatchPlanChangesRequest>,
    ) -> Rpc<Self::WatchPlanChangesStream> {
        let valid_until = r.extensions().get::<CredentialValidUntil>().map(|v| v.0);
        let call_slot = r.extensions().get::<CallerSlotHolder>().cloned();
        let (who, req) = take(r)?;
        let mut follow = follow(&req.cursor, &req.plan, 0)?;
        follow.page_size = STREAM_PAGE;
        // The stream keeps the slot the call was admitted with, rather than holding a second
        // one while it opens.
        let slot = match call_slot.and_then(|holder| holder.take()) {
            Some(slot) => slot,
            None => self.slots.take(who.subject.as_stored())?,
        };
        let own = self.caller_streams.take(who.subject.as_stored()).map_err(|_| {
            Status::resource_exhausted(
                "this caller has the most change streams open it may: close one, or follow \
                 every plan in one stream",
            )
        })?;
        let permit = self.streams.clone().try_acquire_owned().map_err(|_| {
            Error::Unavailable("the server follows the most streams it may: retry later".into())
        })?;
        // The first page is read before the stream begins, so a bad cursor or a plan the
        // caller may not read answers the call itself.
        let first = self.context.list_plan_changes(&who, follow).await?;
        let (sender, receiver) = mpsc::channel(STREAM_BUFFER + 1);
        let context = self.context.clone();
        let settings = self.settings;
        let operation = crate::store::current_operation();
        let mut stopping = self.stopping.clone();
        // The stream may not outlive the credential it was opened with.
        let unix_now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let lifetime = valid_until.map_or(0, |until| until.saturating_sub(unix_now));
        let expiry = tokio::time::sleep(Duration::from_secs(lifetime.max(0).unsigned_abs()));
        let run = async move {
            tokio::pin!(expiry);
            let mut commits = context.store.commits();
            let mut page = first;
            let stopped = || {
                Status::unavailable(
                    "the server is shutting down: resume from the cursor of the last change",
                )
            };
            let expired = || {
                Status::unauthenticated(
                    "the token this stream was opened with has expired: open it again, from \
                     the cursor of the last change, with a new one",
                )
            };
            loop {
                let full = page.changes.len() >= STREAM_PAGE as usize;
                follow.after = Some(page.next);
                follow.check_plan_now = false;
                for change in page.changes {
                    if !send(&sender, encode(change), settings.slow_consumer_timeout).await {
                        return;
                    }
                }
                if *stopping.borrow() {
                    let _ = sender.try_send(Err(stopped()));
                    return;
                }
                if expiry.is_elapsed() {
                    let _ = sender.try_send(Err(expired()));
                    return;
                }
                if !full {
                    tokio::select! {
                        _ = commits.changed() => {}
                        () = tokio::time::sleep(settings.poll_interval) => {}
                        () = sender.closed() => return,
                        _ = stopping.changed() => {
                            let _ = sender.try_send(Err(stopped()));
                            return;
                        }
                        () = &mut expiry => {
                            let _ = sender.try_send(Err(expired()));
                            return;
                        }
                    }
                }
                page = match context.list_plan_changes(&who, follow).await {
                    Ok(page) => page,
                    Err(e) => {
                        let _ = sender.try_send(Err(e.into()));
                        return;
                    }
                };
            }
        };
        let span = tracing::Span::current();
        tokio::spawn(crate::store::logged_as(operation, run.instrument(span)));
        // The caller's slot and the stream's permit are held for as long as the response is,
        // not the task: a client that stops reading keeps holding them until its HTTP/2 stream
        // is gone, so stalled streams count against the limits.
        let held = (slot, own, permit);
        let stream = ReceiverStream::new(receiver).map(move |change| {
            let _ = &held;
            change
        });
        let stream: ChangeStream = Box::pin(stream);
        Ok(Response::new(stream))
    }
}

/// Sends `change` once the buffer has room for it and for one more, the place kept for the
/// status that drops a slow client; false when the client is gone or was dropped.
async fn send(
    sender: &mpsc::Sender<Result<proto::WatchPlanChangesResponse, Status>>,
    change: proto::PlanChange,
    timeout: Duration,
) -> bool {
    match tokio::time::timeout(timeout, sender.reserve_many(2)).await {
        Ok(Ok(mut permits)) => {
            if let Some(permit) = permits.next() {
                permit.send(Ok(proto::WatchPlanChangesResponse { change: Some(change) }));
            }
            true
        }
        Ok(Err(_)) => false,
        Err(_) => {
            let dropped = Status::resource_exhausted(
                "the client did not keep up with the change feed: resume from the cursor of \
                 the last change processed",
            );
            let _ = sender.try_send(Err(dropped));
            false
        }
    }
}
