//! Roles held within an organisation.

use super::ids::{OrgNumber, ResourceId};
use super::stored_enum;
use super::subject::Subject;
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
