//! Conversions between the wire types and the domain: resource names, enums, timestamps.

use prost_types::Timestamp;

use crate::domain::date::Date;
use crate::domain::goal::GoalStatus;
use crate::domain::ids::{OrgNumber, ResourceId};
use crate::domain::measure::MeasureStatus;
use crate::domain::member::{MemberRole, RepresentativeBasis};
use crate::domain::organisation::{OrgKind, OrgRole};
use crate::domain::page::{Page, Scope};
use crate::domain::plan::{PlanKind, PlanStatus, Section};
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

/// A section's text in the wire message, to set.
pub fn section_mut(sections: &mut proto::PatientSections, section: Section) -> &mut String {
    match section {
        Section::ImportantToMe => &mut sections.important_to_me,
        Section::ResourcesAndStrengths => &mut sections.resources_and_strengths,
        Section::WhatWorksNow => &mut sections.what_works_now,
        Section::WhatINeed => &mut sections.what_i_need,
        Section::FirstPriority => &mut sections.first_priority,
        Section::ThoughtsOnIllness => &mut sections.thoughts_on_illness,
        Section::AdmissionAgreement => &mut sections.admission_agreement,
    }
}

/// Parses `plans/{plan}`.
pub fn plan_name(field: &str, name: &str) -> Result<ResourceId, FieldViolation> {
    name.strip_prefix("plans/")
        .and_then(ResourceId::parse)
        .ok_or_else(|| FieldViolation::new(field, "must be a plan name, plans/{plan}"))
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
    let page = v.check_all(Page::parse(
        page_size,
        page_token,
        Scope::of(rpc, parent, filters),
    ));
    match (plan, page) {
        (Some(plan), Some(page)) => Ok((plan, page)),
        _ => Err(v.into_error()),
    }
}

/// Parses `plans/{plan}/members/{member}`.
pub fn member_name(field: &str, name: &str) -> Result<(ResourceId, ResourceId), FieldViolation> {
    let bad = || {
        FieldViolation::new(
            field,
            "must be a member name, plans/{plan}/members/{member}",
        )
    };
    let rest = name.strip_prefix("plans/").ok_or_else(bad)?;
    let (plan, member) = rest.split_once("/members/").ok_or_else(bad)?;
    match (ResourceId::parse(plan), ResourceId::parse(member)) {
        (Some(plan), Some(member)) => Ok((plan, member)),
        _ => Err(bad()),
    }
}

/// Parses `plans/{plan}/{collection}/{item}`.
fn plan_item_name(
    field: &str,
    name: &str,
    collection: &str,
    what: &str,
) -> Result<(ResourceId, ResourceId), FieldViolation> {
    let bad = || {
        FieldViolation::new(
            field,
            format!("must be a {what} name, plans/{{plan}}/{collection}/{{{what}}}"),
        )
    };
    let rest = name.strip_prefix("plans/").ok_or_else(bad)?;
    let (plan, item) = rest
        .split_once(&format!("/{collection}/"))
        .ok_or_else(bad)?;
    match (ResourceId::parse(plan), ResourceId::parse(item)) {
        (Some(plan), Some(item)) => Ok((plan, item)),
        _ => Err(bad()),
    }
}

/// Parses `plans/{plan}/goals/{goal}`.
pub fn goal_name(field: &str, name: &str) -> Result<(ResourceId, ResourceId), FieldViolation> {
    plan_item_name(field, name, "goals", "goal")
}

/// Parses `plans/{plan}/measures/{measure}`.
pub fn measure_name(field: &str, name: &str) -> Result<(ResourceId, ResourceId), FieldViolation> {
    plan_item_name(field, name, "measures", "measure")
}

/// Parses `plans/{plan}/meetings/{meeting}`.
pub fn meeting_name(field: &str, name: &str) -> Result<(ResourceId, ResourceId), FieldViolation> {
    plan_item_name(field, name, "meetings", "meeting")
}

/// Parses a reference from one of `plan`'s items to another item of the same plan.
pub fn same_plan(
    field: &str,
    plan: ResourceId,
    parsed: Result<(ResourceId, ResourceId), FieldViolation>,
) -> Result<ResourceId, FieldViolation> {
    let (of, item) = parsed?;
    if of == plan {
        Ok(item)
    } else {
        Err(FieldViolation::new(field, "must belong to the same plan"))
    }
}

/// `plans/{plan}/{collection}/{item}`.
pub fn plan_item(plan: ResourceId, collection: &str, item: ResourceId) -> String {
    format!("plans/{plan}/{collection}/{item}")
}

/// Parses `organisations/{organisation}`.
pub fn organisation_name(field: &str, name: &str) -> Result<OrgNumber, FieldViolation> {
    let number = name.strip_prefix("organisations/").ok_or_else(|| {
        FieldViolation::new(
            field,
            "must be an organisation name, organisations/{organisation}",
        )
    })?;
    OrgNumber::parse(field, number)
}

/// Parses `organisations/{organisation}/roleGrants/{grant}`.
pub fn grant_name(field: &str, name: &str) -> Result<(OrgNumber, ResourceId), FieldViolation> {
    let bad = || {
        FieldViolation::new(
            field,
            "must be a role grant name, organisations/{organisation}/roleGrants/{grant}",
        )
    };
    let rest = name.strip_prefix("organisations/").ok_or_else(bad)?;
    let (org, grant) = rest.split_once("/roleGrants/").ok_or_else(bad)?;
    let org = OrgNumber::parse(field, org)?;
    Ok((org, ResourceId::parse(grant).ok_or_else(bad)?))
}

/// `plans/{plan}`.
pub fn plan_resource(id: ResourceId) -> String {
    format!("plans/{id}")
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

/// An enum value from the wire; `None` for unspecified or unknown values, which the domain
/// rejects with the field named.
pub fn plan_kind(value: i32) -> Option<PlanKind> {
    match proto::PlanKind::try_from(value).ok()? {
        proto::PlanKind::Unspecified => None,
        proto::PlanKind::General => Some(PlanKind::General),
        proto::PlanKind::Palliative => Some(PlanKind::Palliative),
    }
}

/// A plan status on the wire.
pub fn plan_status(status: PlanStatus) -> proto::PlanStatus {
    match status {
        PlanStatus::Requested => proto::PlanStatus::Requested,
        PlanStatus::Active => proto::PlanStatus::Active,
        PlanStatus::Declined => proto::PlanStatus::Declined,
        PlanStatus::Closed => proto::PlanStatus::Closed,
    }
}

/// A plan kind on the wire.
pub fn plan_kind_out(kind: PlanKind) -> proto::PlanKind {
    match kind {
        PlanKind::General => proto::PlanKind::General,
        PlanKind::Palliative => proto::PlanKind::Palliative,
    }
}

const MEMBER_ROLES: [(proto::MemberRole, MemberRole); 12] = [
    (
        proto::MemberRole::Representative,
        MemberRole::Representative,
    ),
    (proto::MemberRole::Patient, MemberRole::Patient),
    (proto::MemberRole::NextOfKin, MemberRole::NextOfKin),
    (proto::MemberRole::Coordinator, MemberRole::Coordinator),
    (proto::MemberRole::Gp, MemberRole::Gp),
    (proto::MemberRole::Specialist, MemberRole::Specialist),
    (proto::MemberRole::Nurse, MemberRole::Nurse),
    (proto::MemberRole::Nav, MemberRole::Nav),
    (proto::MemberRole::School, MemberRole::School),
    (proto::MemberRole::Kindergarten, MemberRole::Kindergarten),
    (proto::MemberRole::ChildWelfare, MemberRole::ChildWelfare),
    (proto::MemberRole::Other, MemberRole::Other),
];

/// A member role from the wire; `None` for unspecified or unknown values.
pub fn member_role(value: i32) -> Option<MemberRole> {
    let wire = proto::MemberRole::try_from(value).ok()?;
    MEMBER_ROLES
        .iter()
        .find(|(w, _)| *w == wire)
        .map(|(_, r)| *r)
}

/// A member role on the wire.
pub fn member_role_out(role: MemberRole) -> proto::MemberRole {
    MEMBER_ROLES
        .iter()
        .find(|(_, r)| *r == role)
        .map_or(proto::MemberRole::Unspecified, |(w, _)| *w)
}

/// A representative's basis from the wire; `None` for unspecified or unknown values.
pub fn representative_basis(value: i32) -> Option<RepresentativeBasis> {
    match proto::RepresentativeBasis::try_from(value).ok()? {
        proto::RepresentativeBasis::Unspecified => None,
        proto::RepresentativeBasis::PowerOfAttorney => Some(RepresentativeBasis::PowerOfAttorney),
        proto::RepresentativeBasis::Guardian => Some(RepresentativeBasis::Guardian),
        proto::RepresentativeBasis::Parent => Some(RepresentativeBasis::Parent),
    }
}

/// A representative's basis on the wire.
pub fn representative_basis_out(basis: Option<RepresentativeBasis>) -> proto::RepresentativeBasis {
    match basis {
        None => proto::RepresentativeBasis::Unspecified,
        Some(RepresentativeBasis::PowerOfAttorney) => proto::RepresentativeBasis::PowerOfAttorney,
        Some(RepresentativeBasis::Guardian) => proto::RepresentativeBasis::Guardian,
        Some(RepresentativeBasis::Parent) => proto::RepresentativeBasis::Parent,
    }
}

/// An organisation role from the wire; `None` for unspecified or unknown values.
pub fn org_role(value: i32) -> Option<OrgRole> {
    match proto::OrganisationRole::try_from(value).ok()? {
        proto::OrganisationRole::Unspecified => None,
        proto::OrganisationRole::Admin => Some(OrgRole::Admin),
        proto::OrganisationRole::UnitStaff => Some(OrgRole::UnitStaff),
        proto::OrganisationRole::ComplaintHandler => Some(OrgRole::ComplaintHandler),
        proto::OrganisationRole::ComplaintAuthority => Some(OrgRole::ComplaintAuthority),
        proto::OrganisationRole::Referrer => Some(OrgRole::Referrer),
        proto::OrganisationRole::WardStaff => Some(OrgRole::WardStaff),
    }
}

/// An organisation role on the wire.
pub fn org_role_out(role: OrgRole) -> proto::OrganisationRole {
    match role {
        OrgRole::Admin => proto::OrganisationRole::Admin,
        OrgRole::UnitStaff => proto::OrganisationRole::UnitStaff,
        OrgRole::ComplaintHandler => proto::OrganisationRole::ComplaintHandler,
        OrgRole::ComplaintAuthority => proto::OrganisationRole::ComplaintAuthority,
        OrgRole::Referrer => proto::OrganisationRole::Referrer,
        OrgRole::WardStaff => proto::OrganisationRole::WardStaff,
    }
}

/// An organisation kind on the wire.
pub fn org_kind_out(kind: OrgKind) -> proto::OrganisationKind {
    match kind {
        OrgKind::Municipality => proto::OrganisationKind::Municipality,
        OrgKind::HealthTrust => proto::OrganisationKind::HealthTrust,
        OrgKind::NavOffice => proto::OrganisationKind::NavOffice,
        OrgKind::School => proto::OrganisationKind::School,
        OrgKind::Kindergarten => proto::OrganisationKind::Kindergarten,
        OrgKind::ChildWelfare => proto::OrganisationKind::ChildWelfare,
        OrgKind::CountyGovernor => proto::OrganisationKind::CountyGovernor,
        OrgKind::Other => proto::OrganisationKind::Other,
    }
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
    proto::Date {
        year,
        month: month as i32,
        day: day as i32,
    }
}

/// A date from the wire.
pub fn date_in(field: &str, d: proto::Date) -> Result<Date, FieldViolation> {
    Date::parse(field, d.year, d.month, d.day)
}

/// An optional date from the wire.
pub fn optional_date(field: &str, d: Option<proto::Date>) -> Result<Option<Date>, FieldViolation> {
    d.map(|d| date_in(field, d)).transpose()
}

/// A goal status from the wire; `None` for unspecified or unknown values.
pub fn goal_status(value: i32) -> Option<GoalStatus> {
    match proto::GoalStatus::try_from(value).ok()? {
        proto::GoalStatus::Unspecified => None,
        proto::GoalStatus::Proposed => Some(GoalStatus::Proposed),
        proto::GoalStatus::Agreed => Some(GoalStatus::Agreed),
        proto::GoalStatus::Achieved => Some(GoalStatus::Achieved),
        proto::GoalStatus::Dropped => Some(GoalStatus::Dropped),
    }
}

/// A goal status on the wire.
pub fn goal_status_out(status: GoalStatus) -> proto::GoalStatus {
    match status {
        GoalStatus::Proposed => proto::GoalStatus::Proposed,
        GoalStatus::Agreed => proto::GoalStatus::Agreed,
        GoalStatus::Achieved => proto::GoalStatus::Achieved,
        GoalStatus::Dropped => proto::GoalStatus::Dropped,
    }
}

/// A measure status from the wire; `None` for unspecified or unknown values.
pub fn measure_status(value: i32) -> Option<MeasureStatus> {
    match proto::MeasureStatus::try_from(value).ok()? {
        proto::MeasureStatus::Unspecified => None,
        proto::MeasureStatus::Planned => Some(MeasureStatus::Planned),
        proto::MeasureStatus::Ongoing => Some(MeasureStatus::Ongoing),
        proto::MeasureStatus::Done => Some(MeasureStatus::Done),
        proto::MeasureStatus::Cancelled => Some(MeasureStatus::Cancelled),
    }
}

/// A measure status on the wire.
pub fn measure_status_out(status: MeasureStatus) -> proto::MeasureStatus {
    match status {
        MeasureStatus::Planned => proto::MeasureStatus::Planned,
        MeasureStatus::Ongoing => proto::MeasureStatus::Ongoing,
        MeasureStatus::Done => proto::MeasureStatus::Done,
        MeasureStatus::Cancelled => proto::MeasureStatus::Cancelled,
    }
}

/// A plan status from the wire; `None` for unspecified or unknown values.
pub fn plan_status_in(value: i32) -> Option<PlanStatus> {
    match proto::PlanStatus::try_from(value).ok()? {
        proto::PlanStatus::Unspecified => None,
        proto::PlanStatus::Requested => Some(PlanStatus::Requested),
        proto::PlanStatus::Active => Some(PlanStatus::Active),
        proto::PlanStatus::Declined => Some(PlanStatus::Declined),
        proto::PlanStatus::Closed => Some(PlanStatus::Closed),
    }
}

/// A stored subject as a caller may see it: a citizen's identity number only for those who may
/// see identities on the plan.
pub fn shown_subject(stored: &str, show_identity: bool) -> String {
    if !show_identity && stored.starts_with("citizen:") {
        "citizen".to_owned()
    } else {
        stored.to_owned()
    }
}

/// The etag of a revision.
pub fn etag_of(revision: i64) -> String {
    revision.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let id = ResourceId::generate();
        assert_eq!(plan_name("n", &format!("plans/{id}")).unwrap(), id);
        assert!(plan_name("n", "plans/").is_err());
        assert!(plan_name("n", &format!("plan/{id}")).is_err());
        assert!(plan_name("n", &format!("plans/{id}/x")).is_err());
        let m = ResourceId::generate();
        assert_eq!(
            member_name("n", &format!("plans/{id}/members/{m}")).unwrap(),
            (id, m)
        );
        assert!(member_name("n", &format!("plans/{id}/members/")).is_err());
        assert!(organisation_name("n", "organisations/910000004").is_ok());
        assert!(organisation_name("n", "organisations/910000005").is_err());
        assert!(grant_name("n", &format!("organisations/910000004/roleGrants/{m}")).is_ok());
    }

    #[test]
    fn enums_reject_unspecified_and_unknown() {
        assert_eq!(plan_kind(0), None);
        assert_eq!(plan_kind(99), None);
        assert_eq!(member_role(0), None);
        assert_eq!(member_role(-3), None);
        for (wire, role) in MEMBER_ROLES {
            assert_eq!(member_role(wire as i32), Some(role));
            assert_eq!(member_role_out(role), wire);
        }
        assert_eq!(org_role(7), None);
    }
}
