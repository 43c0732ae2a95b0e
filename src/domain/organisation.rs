//! Roles held within an organisation.

use super::FieldViolation;
use super::ids::{OrgNumber, ResourceId};
use super::stored_enum;
use super::subject::{Subject, SubjectKind};
use super::time::Instant;

stored_enum! {
    /// A role held within one organisation. The text is also the role's name in the casbin
    /// policy.
    OrgRole {
        /// Manages the organisation's role grants.
        Admin = "admin",
        /// Staff of the coordinating unit (koordinerende enhet), which receives requests, creates
        /// plans and appoints coordinators for its own organisation.
        UnitStaff = "unit_staff",
        /// Handles complaints against the organisation: reviews, reconsiders, forwards.
        ComplaintHandler = "complaint_handler",
        /// The county governor's staff who decide forwarded complaints; granted only in an
        /// organisation configured as a complaint authority.
        ComplaintAuthority = "complaint_authority",
        /// Sends referrals from a health trust to municipalities.
        Referrer = "referrer",
        /// Hospital ward staff: a role local rules in the policy can name, as the shipped one
        /// that bars them from being coordinator.
        WardStaff = "ward_staff",
    }
}

impl RoleGrant {
    /// Who may be granted a role: personnel and systems acting for an organisation, never a
    /// citizen.
    pub fn grantee(field: &str, value: &str) -> Result<Subject, FieldViolation> {
        let subject = Subject::parse(field, value)?;
        if subject.kind() == SubjectKind::Citizen {
            return Err(FieldViolation::new(
                field,
                "must be personnel:{sub} or system:{client_id}: roles are not granted to citizens",
            ));
        }
        Ok(subject)
    }
}

/// A role granted to a subject within one organisation.
#[derive(Clone, Debug)]
pub struct RoleGrant {
    /// The grant's id.
    pub id: ResourceId,
    /// The organisation the role is held in.
    pub organisation: OrgNumber,
    /// Who holds it.
    pub subject: Subject,
    /// The role.
    pub role: OrgRole,
    /// Who granted it.
    pub granted_by: Subject,
    /// When.
    pub create_time: Instant,
}

stored_enum! {
    /// What kind of organisation one is, as the registry says. Kinds decide where referrals may
    /// go, who decides forwarded complaints and where each role may be held.
    OrgKind {
        /// A municipality (kommune), whose coordinating unit leads the plan (helse- og
        /// omsorgstjenesteloven § 7-1).
        Municipality = "municipality",
        /// A health trust (helseforetak), the specialist health service (spesialisthelsetjeneste-
        /// loven § 2-5).
        HealthTrust = "health_trust",
        /// A NAV office.
        NavOffice = "nav_office",
        /// A school.
        School = "school",
        /// A kindergarten.
        Kindergarten = "kindergarten",
        /// Child welfare services (barnevernstjenesten).
        ChildWelfare = "child_welfare",
        /// A county governor (Statsforvalteren), which decides forwarded complaints
        /// (pasient- og brukerrettighetsloven § 7-6).
        CountyGovernor = "county_governor",
        /// Any other organisation: a GP practice, a private provider.
        Other = "other",
    }
}

impl OrgKind {
    /// The kind an Enhetsregisteret organisation form code tells by itself: `KOMM` a
    /// municipality, `HF` a health trust. Other forms (`ORGL`, `BEDR`, ...) need the kind given.
    pub fn of_form(code: &str) -> Option<OrgKind> {
        match code {
            "KOMM" => Some(OrgKind::Municipality),
            "HF" => Some(OrgKind::HealthTrust),
            _ => None,
        }
    }

    /// The kind as the API names it, for messages.
    pub fn wire_name(self) -> String {
        format!("ORGANISATION_KIND_{}", self.as_str().to_uppercase())
    }
}

impl OrgRole {
    /// The kinds of organisation the role may be held in: the coordinating unit's roles in a
    /// municipality or health trust, referrers and ward staff in a health trust, complaint
    /// authorities in a county governor; admins anywhere.
    pub fn held_in(self) -> &'static [OrgKind] {
        use OrgKind::*;
        match self {
            OrgRole::Admin => OrgKind::ALL,
            OrgRole::UnitStaff => &[Municipality, HealthTrust],
            OrgRole::ComplaintHandler => &[Municipality, HealthTrust, NavOffice],
            OrgRole::ComplaintAuthority => &[CountyGovernor],
            OrgRole::Referrer | OrgRole::WardStaff => &[HealthTrust],
        }
    }
}

/// An organisation of the registry (from Enhetsregisteret, the Central Coordinating Register
/// for Legal Entities).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organisation {
    /// Its organisation number.
    pub number: OrgNumber,
    /// Its name, as the register spells it.
    pub name: String,
    /// Its kind.
    pub kind: OrgKind,
    /// Its organisation form code in the register (`KOMM`, `HF`, `ORGL`, ...).
    pub form_code: String,
}
