//! Conversions between the wire types and the domain: resource names, enums, timestamps.

use prost_types::Timestamp;

use crate::domain::complaint::{ComplaintKind, ComplaintState, Outcome, RepresentativeRelation};
use crate::domain::coordinator::CoordinatorKind;
use crate::domain::date::Date;
use crate::domain::goal::GoalStatus;
use crate::domain::ids::ResourceId;
use crate::domain::measure::MeasureStatus;
use crate::domain::member::{MemberRole, RepresentativeBasis};
use crate::domain::names::plan_name;
use crate::domain::organisation::{OrgKind, OrgRole};
use crate::domain::page::{Page, Scope};
use crate::domain::plan::{PlanKind, PlanStatus, Section};
use crate::domain::scope::PlanPart;
use crate::domain::time::Instant;
use crate::domain::{Error, FieldViolation, Violations};
use crate::proto;

/// A section's text in the wire message.
pub fn section_of(sections: &proto::PatientSections, section: Section) -> &str {
    match section {
        Section::ImportantToMe => &sections.important_to_me,
        Section::ResourcesAndStrengths => &sections.resources_and_strengths,
        Section::WhatWorksNow => &sections.what_works_now,
        Section::WhatINeed => &sections.what_i_need,
        Section::FirstPriority => &sections.first_priority,
        Section::ThoughtsOnIllness => &sections.thoughts_on_illness,
        Section::AdmissionAgreement => &sections.admission_agreement,
    }
}

/// The plan a list request names in `parent`, and the page it asks for under the query
/// `rpc`/`filters` (see `Scope`), with every violation of either at once.
pub fn plan_page(
    rpc: &str,
    parent: &str,
    page_size: i32,
    page_token: &str,
    filters: &str,
) -> Result<(ResourceId, Page), Error> {
    let mut v = Violations::default();
    let plan = v.check(plan_name("parent", parent));
    let page = v.check_all(Page::parse(page_size, page_token, Scope::of(rpc, parent, filters)));
    v.ok(plan.zip(page))
}

/// A timestamp on the wire.
pub fn timestamp(instant: Instant) -> Timestamp {
    let (seconds, nanos) = instant.to_parts();
    Timestamp { seconds, nanos }
}

/// The first second a request's timestamp may name: 1900-01-01T00:00:00Z.
const EARLIEST_SECONDS: i64 = -2_208_988_800;

/// An optional timestamp from the wire, checked for range (1900 to 9999). Timestamps are kept to
/// the microsecond.
pub fn instant(field: &str, ts: Option<&Timestamp>) -> Result<Option<Instant>, FieldViolation> {
    ts.map(|ts| {
        Instant::from_parts(ts.seconds, ts.nanos)
            .filter(|_| ts.seconds >= EARLIEST_SECONDS)
            .ok_or_else(|| {
                FieldViolation::new(field, "is not a valid timestamp between 1900 and 9999")
            })
    })
    .transpose()
}

/// Converts between a wire enum and its domain enum: `$from` reads a wire value (`None` for
/// UNSPECIFIED and for numbers the enum does not have, which the domain refuses with the field
/// named), `$to` writes a domain value.
macro_rules! wire_enum {
    ($from:ident, $to:ident: $wire:ident <=> $domain:ident { $($w:ident = $d:ident),+ $(,)? }) => {
        #[doc = concat!("A `", stringify!($wire), "` from the wire; `None` for unspecified or unknown values.")]
        // Some enums only go out (organisation kinds, complaint states); the round-trip test
        // reads them back.
        #[allow(dead_code)]
        pub fn $from(value: i32) -> Option<$domain> {
            match proto::$wire::try_from(value).ok()? {
                $(proto::$wire::$w => Some($domain::$d),)+
                #[allow(unreachable_patterns)]
                _ => None,
            }
        }

        #[doc = concat!("A `", stringify!($domain), "` on the wire.")]
        pub fn $to(value: $domain) -> proto::$wire {
            match value {
                $($domain::$d => proto::$wire::$w,)+
            }
        }
    };
}

wire_enum!(plan_kind, plan_kind_out: PlanKind <=> PlanKind {
    General = General, Palliative = Palliative,
});
wire_enum!(plan_status_in, plan_status: PlanStatus <=> PlanStatus {
    Requested = Requested, Active = Active, Declined = Declined, Closed = Closed,
});
wire_enum!(member_role, member_role_out: MemberRole <=> MemberRole {
    Representative = Representative, Patient = Patient, NextOfKin = NextOfKin,
    Coordinator = Coordinator, Gp = Gp, Specialist = Specialist, Nurse = Nurse, Nav = Nav,
    School = School, Kindergarten = Kindergarten, ChildWelfare = ChildWelfare, Other = Other,
});
wire_enum!(representative_basis, basis_out: RepresentativeBasis <=> RepresentativeBasis {
    PowerOfAttorney = PowerOfAttorney, Guardian = Guardian, Parent = Parent,
});
wire_enum!(plan_part, plan_part_out: PlanPart <=> PlanPart {
    PatientSections = PatientSections, Contacts = Contacts, GoalsAndMeasures = GoalsAndMeasures,
    OwnGoalsAndMeasures = OwnGoalsAndMeasures, Meetings = Meetings, Group = Group,
});
wire_enum!(coordinator_kind, coordinator_kind_out: CoordinatorKind <=> CoordinatorKind {
    General = General, Child = Child,
});
wire_enum!(org_role, org_role_out: OrganisationRole <=> OrgRole {
    Admin = Admin, UnitStaff = UnitStaff, ComplaintHandler = ComplaintHandler,
    ComplaintAuthority = ComplaintAuthority, Referrer = Referrer, WardStaff = WardStaff,
});
wire_enum!(org_kind, org_kind_out: OrganisationKind <=> OrgKind {
    Municipality = Municipality, HealthTrust = HealthTrust, NavOffice = NavOffice,
    School = School, Kindergarten = Kindergarten, ChildWelfare = ChildWelfare,
    CountyGovernor = CountyGovernor, Other = Other,
});
wire_enum!(goal_status, goal_status_out: GoalStatus <=> GoalStatus {
    Proposed = Proposed, Agreed = Agreed, Achieved = Achieved, Dropped = Dropped,
});
wire_enum!(measure_status, measure_status_out: MeasureStatus <=> MeasureStatus {
    Planned = Planned, Ongoing = Ongoing, Done = Done, Cancelled = Cancelled,
});
wire_enum!(complaint_kind, complaint_kind_out: ComplaintKind <=> ComplaintKind {
    NoPlanOffered = NoPlanOffered, NoCoordinator = NoCoordinator,
    NoChildCoordinator = NoChildCoordinator, PlanNotFollowed = PlanNotFollowed,
    CoordinatorNotFollowingUp = CoordinatorNotFollowingUp, Other = Other,
});
wire_enum!(complaint_state, complaint_state_out: ComplaintState <=> ComplaintState {
    Submitted = Submitted, UnderReview = UnderReview, Upheld = Upheld, NotUpheld = NotUpheld,
    Forwarded = Forwarded, Returned = Returned, Decided = Decided, Withdrawn = Withdrawn,
});
wire_enum!(outcome, outcome_out: ComplaintDecision <=> Outcome {
    Upheld = Upheld, NotUpheld = NotUpheld, Returned = Returned,
});
wire_enum!(relation, relation_out: RepresentativeRelation <=> RepresentativeRelation {
    Parent = Parent, Guardian = Guardian, NextOfKin = NextOfKin,
    PowerOfAttorney = PowerOfAttorney, Other = Other,
});

/// A representative's basis on the wire; UNSPECIFIED for a member who represents no one.
pub fn representative_basis_out(basis: Option<RepresentativeBasis>) -> proto::RepresentativeBasis {
    basis.map_or(proto::RepresentativeBasis::Unspecified, basis_out)
}

/// An etag from the wire: the revision it names; empty means none was given.
pub fn etag(field: &str, value: &str) -> Result<Option<i64>, FieldViolation> {
    if value.is_empty() {
        return Ok(None);
    }
    value
        .parse::<i64>()
        .ok()
        .filter(|rev| *rev > 0)
        .map(Some)
        .ok_or_else(|| FieldViolation::new(field, "is not an etag this service returned"))
}

/// An etag a mutation must carry (AIP-154).
pub fn required_etag(field: &str, value: &str) -> Result<i64, FieldViolation> {
    etag(field, value)?.ok_or_else(|| {
        FieldViolation::new(
            field,
            "must be set to the etag last read, so no one else's change is overwritten",
        )
    })
}

/// A date on the wire.
pub fn date(d: Date) -> proto::Date {
    let (year, month, day) = d.parts();
    proto::Date { year, month: month as i32, day: day as i32 }
}

/// A date from the wire.
pub fn date_in(field: &str, d: proto::Date) -> Result<Date, FieldViolation> {
    Date::parse(field, d.year, d.month, d.day)
}

/// An optional date from the wire.
pub fn optional_date(field: &str, d: Option<proto::Date>) -> Result<Option<Date>, FieldViolation> {
    d.map(|d| date_in(field, d)).transpose()
}

pub use crate::domain::subject::shown_subject;

/// The etag of a revision.
pub fn etag_of(revision: i64) -> String {
    revision.to_string()
}

/// Reads a resource name from a request field: `parse(field, value)`.
pub type NameParser<N> = fn(&str, &str) -> Result<N, FieldViolation>;

/// A resource's name (read by `parse`) and the etag the caller read (AIP-154), from the request
/// fields `{prefix}name` and `{prefix}etag`, with every violation of either recorded in `v`.
pub fn name_at<N>(
    v: &mut Violations,
    parse: NameParser<N>,
    prefix: &str,
    (name, etag): (&str, &str),
) -> Option<(N, i64)> {
    let name = v.check(parse(&format!("{prefix}name"), name));
    let etag = v.check(required_etag(&format!("{prefix}etag"), etag));
    name.zip(etag)
}

/// An item's name (`plans/{plan}/{collection}/{item}`, read by `parse`) and the etag the caller
/// read, from a request's `name` and `etag`, with every violation of either.
pub fn item_at(
    parse: NameParser<(ResourceId, ResourceId)>,
    name_and_etag: (&str, &str),
    v: &mut Violations,
) -> Option<crate::ops::ItemRef> {
    let ((plan, item), etag) = name_at(v, parse, "", name_and_etag)?;
    Some(crate::ops::ItemRef { plan, item, etag })
}

/// What every update request (AIP-134) names: the resource, as `{resource}.name` and
/// `{resource}.etag`, and the fields to change, the update mask's paths resolved against
/// `updatable` (`fixed` lists the fields that exist but cannot change), in mask order.
pub struct Masked<N, F> {
    /// The resource's name, parsed, and the revision the caller read; `None` if either is bad.
    pub at: Option<(N, i64)>,
    /// The paths named, each with its field group; none if the mask is bad.
    pub fields: Vec<(String, F)>,
}

impl<N, F> Masked<N, F> {
    /// The paths the mask named, in its order.
    pub fn paths(&self) -> Vec<String> {
        self.fields.iter().map(|(path, _)| path.clone()).collect()
    }
}

/// Reads an update request's `Masked` parts, recording every violation in `v`, so the fields
/// the mask names can be validated too before the request is refused.
pub fn masked<N, F: Copy + PartialEq>(
    v: &mut Violations,
    (resource, parse): (&str, NameParser<N>),
    name_and_etag: (&str, &str),
    mask: Option<prost_types::FieldMask>,
    (updatable, fixed): (&[(&str, F)], &[&str]),
) -> Masked<N, F> {
    let at = name_at(v, parse, &format!("{resource}."), name_and_etag);
    let paths = mask.map(|m| m.paths).unwrap_or_default();
    let fields = v.check_all(crate::domain::mask::resolve(&paths, updatable, fixed));
    Masked { at, fields: fields.unwrap_or_default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_reject_unspecified_and_unknown() {
        assert_eq!(plan_kind(0), None);
        assert_eq!(plan_kind(99), None);
        assert_eq!(member_role(0), None);
        assert_eq!(member_role(-3), None);
        assert_eq!(org_role(7), None);
        assert_eq!(outcome(0), None);
    }

    /// Every domain value goes to the wire and back as itself.
    #[test]
    fn enums_round_trip() {
        macro_rules! round_trip {
            ($($from:ident, $to:ident: $domain:ident;)+) => {$(
                for &value in $domain::ALL {
                    assert_eq!($from($to(value) as i32), Some(value));
                }
            )+};
        }
        round_trip! {
            plan_kind, plan_kind_out: PlanKind;
            plan_status_in, plan_status: PlanStatus;
            member_role, member_role_out: MemberRole;
            representative_basis, basis_out: RepresentativeBasis;
            org_role, org_role_out: OrgRole;
            org_kind, org_kind_out: OrgKind;
            goal_status, goal_status_out: GoalStatus;
            measure_status, measure_status_out: MeasureStatus;
            complaint_kind, complaint_kind_out: ComplaintKind;
            complaint_state, complaint_state_out: ComplaintState;
            outcome, outcome_out: Outcome;
            relation, relation_out: RepresentativeRelation;
            plan_part, plan_part_out: PlanPart;
            coordinator_kind, coordinator_kind_out: CoordinatorKind;
        }
    }
}
