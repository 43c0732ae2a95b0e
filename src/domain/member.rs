//! Membership of a plan's responsibility group.

use super::error::Violations;
use super::ids::{OrgNumber, ResourceId};
use super::plan::display_text;
use super::subject::{Subject, SubjectKind};
use super::time::Instant;
use super::{FieldViolation, stored_enum};

stored_enum! {
    /// The role a member has in the responsibility group.
    MemberRole {
        Patient = "patient",
        NextOfKin = "next_of_kin",
        Coordinator = "coordinator",
        Gp = "gp",
        Specialist = "specialist",
        Nurse = "nurse",
        Nav = "nav",
        School = "school",
        Kindergarten = "kindergarten",
        ChildWelfare = "child_welfare",
        Other = "other",
        Representative = "representative",
    }
}

/// A member of a plan's responsibility group (ansvarsgruppe): a person or system serving on the
/// plan, in a role, for an organisation, from a start to an end. Serving is what grants a
/// provider access to the plan.
#[derive(Clone, Debug)]
pub struct Member {
    /// The membership's id.
    pub id: ResourceId,
    /// The plan served on.
    pub plan: ResourceId,
    /// Who serves.
    pub subject: Subject,
    /// Their name as shown.
    pub display_name: String,
    /// Their role.
    pub role: MemberRole,
    /// The organisation they act for; `None` for citizens.
    pub organisation: Option<OrgNumber>,
    /// When the membership starts.
    pub start_time: Instant,
    /// When it ends, if set.
    pub end_time: Option<Instant>,
    /// Increases with every change; the etag.
    pub revision: i64,
}

/// What it takes to add a member, validated.
#[derive(Clone, Debug)]
pub struct NewMember {
    /// Who serves.
    pub subject: Subject,
    /// Their name as shown.
    pub display_name: String,
    /// Their role.
    pub role: MemberRole,
    /// The organisation they act for; `None` for citizens.
    pub organisation: Option<OrgNumber>,
    /// When the membership starts; `None` for now.
    pub start_time: Option<Instant>,
    /// When it ends, if known.
    pub end_time: Option<Instant>,
}

impl NewMember {
    /// Validates every field, reporting all violations at once. Personnel and systems act for an
    /// organisation and must name it; citizens act for themselves and must not.
    pub fn parse(
        subject: &str,
        display_name: &str,
        role: Option<MemberRole>,
        organisation: &str,
        start_time: Option<Instant>,
        end_time: Option<Instant>,
    ) -> Result<Self, Vec<FieldViolation>> {
        let mut v = Violations::default();
        let subject = v.check(Subject::parse("subject", subject));
        let display_name = v.check(display_text("display_name", display_name));
        let role = v.check(role.ok_or_else(|| FieldViolation::new("role", "must be set")));
        let organisation = match (&subject, organisation.is_empty()) {
            (Some(s), true) if s.kind() != SubjectKind::Citizen => {
                v.push(FieldViolation::new(
                    "organisation",
                    "must be set for personnel and systems",
                ));
                None
            }
            (Some(s), false) if s.kind() == SubjectKind::Citizen => {
                v.push(FieldViolation::new(
                    "organisation",
                    "must be empty for a citizen",
                ));
                None
            }
            (_, true) => Some(None),
            (_, false) => v
                .check(OrgNumber::parse("organisation", organisation))
                .map(Some),
        };
        if role == Some(MemberRole::Representative)
            && subject
                .as_ref()
                .is_some_and(|s| s.kind() != SubjectKind::Citizen)
        {
            v.push(FieldViolation::new(
                "role",
                "a representative must be a citizen (next of kin or guardian)",
            ));
        }
        if let (Some(start), Some(end)) = (start_time, end_time)
            && end <= start
        {
            v.push(FieldViolation::new("end_time", "must be after start_time"));
        }
        match (subject, display_name, role, organisation) {
            (Some(subject), Some(display_name), Some(role), Some(organisation)) if v.is_empty() => {
                Ok(NewMember {
                    subject,
                    display_name,
                    role,
                    organisation,
                    start_time,
                    end_time,
                })
            }
            _ => Err(v.into_violations()),
        }
    }
}
