//! Membership of a plan's responsibility group.

use super::date::Date;
use super::error::Violations;
use super::ids::{NationalId, OrgNumber, ResourceId};
use super::plan::display_text;
use super::subject::{Subject, SubjectKind};
use super::text::{Optional, Required, line};
use super::time::Instant;
use super::{Error, FieldViolation, stored_enum};

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

impl MemberRole {
    /// Whether a subject of `kind` may serve in this role through AddMember: a citizen only as
    /// next of kin or representative, personnel and systems only in a service's role. Nobody
    /// serves as the patient (the patient owns the plan), and coordinators are appointed.
    pub fn fits(self, kind: SubjectKind) -> bool {
        use MemberRole::*;
        match self {
            Patient | Coordinator => false,
            NextOfKin | Representative => kind == SubjectKind::Citizen,
            Gp | Specialist | Nurse | Nav | School | Kindergarten | ChildWelfare | Other => {
                kind != SubjectKind::Citizen
            }
        }
    }
}

stored_enum! {
    /// Why a representative may act for the patient.
    RepresentativeBasis {
        /// A power of attorney (fullmakt) the patient gave: only the patient creates it
        /// (pasient- og brukerrettighetsloven § 3-1 with § 4-3's rules on who consents).
        PowerOfAttorney = "power_of_attorney",
        /// A guardian (verge) the county governor appointed (vergemålsloven § 20): recorded by
        /// the coordinating unit with a reference to the decision.
        Guardian = "guardian",
        /// A parent with parental responsibility for a patient under 18 (pasient- og
        /// brukerrettighetsloven § 4-4): recorded by the coordinating unit. The parent acts for
        /// the patient until they turn 16, when they decide on their health care themselves
        /// (§ 4-3), and keeps reading the plan until they turn 18.
        Parent = "parent",
    }
}

/// The age at which a parent no longer acts for the patient: the patient consents to health
/// care themselves from 16 (pasient- og brukerrettighetsloven § 4-3).
pub const PARENT_POWERS_UNTIL_AGE: i32 = 16;
/// The age at which a parent's membership ends: parental responsibility ends at 18.
pub const PARENT_MEMBERSHIP_UNTIL_AGE: i32 = 18;

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
    /// Its name in the registry; empty when none, or the registry does not hold it.
    pub organisation_name: String,
    /// When the membership starts.
    pub start_time: Instant,
    /// When it ends, if set.
    pub end_time: Option<Instant>,
    /// A representative's basis; `None` for everyone else.
    pub basis: Option<RepresentativeBasis>,
    /// A reference to the decision behind the basis (the county governor's case number).
    pub basis_reference: String,
    /// When a representative's powers to act for the patient end, if before the membership
    /// does (a parent's, when the patient turns 16).
    pub powers_end_time: Option<Instant>,
    /// Who added the member.
    pub added_by: Subject,
    /// When they were added.
    pub create_time: Instant,
    /// Increases with every change; the etag.
    pub revision: i64,
    /// A block the patient placed keeps them out (`domain::block`); set only for readers the
    /// policy lets see it (`block_notice`), false for others.
    pub blocked: bool,
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
    /// A representative's basis; required for representatives, refused for others.
    pub basis: Option<RepresentativeBasis>,
    /// A reference to the decision behind the basis; required for a guardian.
    pub basis_reference: String,
    /// When a representative's powers end before the membership does.
    pub powers_end_time: Option<Instant>,
}

/// The longest basis reference accepted, in characters.
pub const MAX_BASIS_REFERENCE: usize = 200;

impl NewMember {
    /// A membership of a service's staff or system, created by the plan's own machinery (a
    /// referral's requester, an appointed coordinator) rather than a request.
    pub fn serving(subject: Subject, display_name: &str, role: MemberRole, org: OrgNumber) -> Self {
        NewMember {
            subject,
            display_name: display_name.to_owned(),
            role,
            organisation: Some(org),
            start_time: None,
            end_time: None,
            basis: None,
            basis_reference: String::new(),
            powers_end_time: None,
        }
    }

    /// Validates every field, reporting all violations at once. Personnel and systems act for an
    /// organisation and must name it; citizens act for themselves and must not. The role must
    /// fit the subject (`MemberRole::fits`); a representative needs a basis, and a guardian a
    /// reference to the county governor's decision.
    #[allow(clippy::too_many_arguments)]
    pub fn parse(
        subject: &str,
        display_name: &str,
        role: Option<MemberRole>,
        organisation: &str,
        start_time: Option<Instant>,
        end_time: Option<Instant>,
        basis: Option<RepresentativeBasis>,
        basis_reference: &str,
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
                v.push(FieldViolation::new("organisation", "must be empty for a citizen"));
                None
            }
            (_, true) => Some(None),
            (_, false) => v.check(OrgNumber::parse("organisation", organisation)).map(Some),
        };
        if let (Some(role), Some(subject)) = (role, &subject)
            && !role.fits(subject.kind())
        {
            v.push(FieldViolation::new(
                "role",
                match role {
                    MemberRole::Patient => {
                        "the patient owns the plan and never serves as its member"
                    }
                    MemberRole::Coordinator => {
                        "coordinators are appointed with CoordinatorService.AppointCoordinator"
                    }
                    MemberRole::NextOfKin | MemberRole::Representative => {
                        "next of kin and representatives are citizens (citizen:{national id})"
                    }
                    _ => "a citizen serves only as next of kin or representative",
                },
            ));
        }
        let basis_reference = v
            .check(line(
                "basis_reference",
                basis_reference,
                MAX_BASIS_REFERENCE,
                if basis == Some(RepresentativeBasis::Guardian) { Required } else { Optional },
            ))
            .unwrap_or_default();
        match (role, basis) {
            (Some(MemberRole::Representative), None) => v.push(FieldViolation::new(
                "representative_basis",
                "must be set for a representative: power of attorney, guardian or parent",
            )),
            (Some(r), Some(_)) if r != MemberRole::Representative => {
                v.push(FieldViolation::new("representative_basis", "is only for representatives"))
            }
            _ => {}
        }
        if let (Some(start), Some(end)) = (start_time, end_time)
            && end <= start
        {
            v.push(FieldViolation::new("end_time", "must be after start_time"));
        }
        let (((subject, display_name), role), organisation) =
            v.into_result(subject.zip(display_name).zip(role).zip(organisation))?;
        Ok(NewMember {
            subject,
            display_name,
            role,
            organisation,
            start_time,
            end_time,
            basis,
            basis_reference,
            powers_end_time: None,
        })
    }
}

/// How far in the past a membership may say it starts: clock skew between client and server.
const START_LEEWAY_MICROS: i64 = 5 * 60 * 1_000_000;

impl NewMember {
    /// Refuses a membership that would start, or end, in the past: the group's history records
    /// when people served, and nobody rewrites it by backdating.
    pub fn check_not_backdated(&self, now: Instant) -> Result<(), Error> {
        let mut v = Violations::default();
        let earliest = Instant(now.0 - START_LEEWAY_MICROS);
        if self.start_time.is_some_and(|t| t < earliest) {
            v.push(FieldViolation::new("member.start_time", "must not be in the past"));
        }
        if self.end_time.is_some_and(|t| t <= now) {
            v.push(FieldViolation::new("member.end_time", "must be in the future"));
        }
        v.finish()
    }

    /// Fits a parent's membership to the patient's age on `today`: their powers end when the
    /// patient turns 16 and their membership when the patient turns 18, or earlier if asked.
    /// `FAILED_PRECONDITION` when the patient is 18 already.
    pub fn limit_parent_to_minor(
        &mut self,
        patient: &NationalId,
        today: Date,
    ) -> Result<(), Error> {
        if self.basis != Some(RepresentativeBasis::Parent) {
            return Ok(());
        }
        if patient.age_on(today) >= PARENT_MEMBERSHIP_UNTIL_AGE {
            return Err(Error::FailedPrecondition(format!(
                "the patient is {PARENT_MEMBERSHIP_UNTIL_AGE} or older: a parent represents only \
                 a minor (pasient- og brukerrettighetsloven § 4-4)"
            )));
        }
        let born = patient.birth_date();
        let adult = born.plus_years(PARENT_MEMBERSHIP_UNTIL_AGE).start_in_norway();
        self.end_time = Some(self.end_time.map_or(adult, |end| end.min(adult)));
        self.powers_end_time = Some(born.plus_years(PARENT_POWERS_UNTIL_AGE).start_in_norway());
        Ok(())
    }
}
