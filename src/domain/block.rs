//! Blocks (sperring): the patient, or their representative, keeps a named person or a whole
//! organisation out of their plan. A block overrides every relation and role the blocked hold:
//! on their next call the plan is, to them, as if it did not exist. The coordinating unit is
//! told, so coordination can go on around them.

use super::goal::reason;
use super::ids::{OrgNumber, ResourceId};
use super::plan::display_text;
use super::subject::Subject;
use super::text::Optional;
use super::time::Instant;
use super::{FieldViolation, Violations};

/// Whom a block keeps out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockTarget {
    /// One person or system, whatever organisation they act for.
    Subject(Subject),
    /// Everyone acting for an organisation.
    Organisation(OrgNumber),
}

/// A block, as it is kept.
#[derive(Clone, Debug)]
pub struct Block {
    /// The block's id.
    pub id: ResourceId,
    /// The plan.
    pub plan: ResourceId,
    /// Whom it keeps out.
    pub target: BlockTarget,
    /// How the patient names them.
    pub display_name: String,
    /// Why, if the patient said; may be empty.
    pub reason: String,
    /// Who placed it (a stored subject).
    pub created_by: String,
    /// When.
    pub create_time: Instant,
    /// When it was lifted; `None` while it stands.
    pub lift_time: Option<Instant>,
}

impl Block {
    /// Whether the block keeps out a caller who is `subject` acting for `organisation`.
    pub fn keeps_out(&self, subject: &str, organisation: Option<&OrgNumber>) -> bool {
        match &self.target {
            BlockTarget::Subject(s) => s.as_stored() == subject,
            BlockTarget::Organisation(o) => organisation == Some(o),
        }
    }
}

/// A block as a request asks for it, every field checked.
#[derive(Clone, Debug)]
pub struct NewBlock {
    /// Whom to keep out.
    pub target: BlockTarget,
    /// How the patient names them.
    pub display_name: String,
    /// Why; may be empty.
    pub reason: String,
}

impl NewBlock {
    /// Reads a request's fields: exactly one of `subject` and `organisation`, a display name,
    /// an optional reason.
    pub fn parse(
        subject: &str,
        organisation: &str,
        display_name: &str,
        why: &str,
    ) -> Result<NewBlock, Vec<FieldViolation>> {
        let mut v = Violations::default();
        let target = match (subject, organisation) {
            ("", "") => {
                v.push(FieldViolation::new("block.subject", "name a subject or an organisation"));
                None
            }
            (subject, "") => {
                v.check(Subject::parse("block.subject", subject)).map(BlockTarget::Subject)
            }
            ("", organisation) => v
                .check(OrgNumber::parse("block.organisation", organisation))
                .map(BlockTarget::Organisation),
            _ => {
                v.push(FieldViolation::new(
                    "block.organisation",
                    "name either a subject or an organisation, not both",
                ));
                None
            }
        };
        let display_name = v.check(display_text("block.display_name", display_name));
        let reason = v.check(reason("block.reason", why, Optional));
        let fields = target.zip(display_name).zip(reason);
        v.into_result(fields).map(|((target, display_name), reason)| NewBlock {
            target,
            display_name,
            reason,
        })
    }
}
