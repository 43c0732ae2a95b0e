//! Who is calling.

use super::ids::{NationalId, OrgNumber};
use super::subject::Subject;

/// An authenticated caller: who they are and the organisation they act for in this call.
#[derive(Clone, Debug)]
pub struct Principal {
    /// Who the caller is.
    pub subject: Subject,
    /// The organisation personnel or a system act for; `None` for a citizen.
    pub organisation: Option<OrgNumber>,
    /// A citizen's national identity number, which makes them the owner of their plans.
    pub national_id: Option<NationalId>,
}

impl Principal {
    /// The acting organisation as stored in a membership: empty for citizens.
    pub fn acting_organisation(&self) -> &str {
        self.organisation.as_ref().map_or("", OrgNumber::as_str)
    }

    /// Whether the caller acts for `organisation` in this call.
    pub fn acts_for(&self, organisation: &OrgNumber) -> bool {
        self.organisation.as_ref() == Some(organisation)
    }
}
