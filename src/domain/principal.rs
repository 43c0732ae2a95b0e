//! Who is calling.

use super::Error;
use super::ids::{NationalId, OrgNumber};
use super::subject::{Subject, SubjectKind};

/// An authenticated caller: who they are and the organisation they act for in this call.
#[derive(Clone, Debug)]
pub struct Principal {
    /// Who the caller is.
    pub subject: Subject,
    /// The organisation personnel or a system act for; `None` for a citizen.
    pub organisation: Option<OrgNumber>,
    /// A citizen's national identity number, which makes them the owner of their plans.
    pub national_id: Option<NationalId>,
    /// The personal identity number of health personnel, as HelseID vouches for it (`pid`).
    /// It grants nothing: it only lets samvirke refuse a relation that personnel would create
    /// for themselves as a citizen (a representative, a next of kin), and keep out personnel
    /// whom the patient blocked as that citizen.
    pub person: Option<NationalId>,
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

    /// Whether `subject` is the caller themselves: their own subject, or, for personnel whose
    /// token names their identity number, the citizen they are in private life. Nobody creates a
    /// relation for themselves, so every relation-creating call asks this of its subject.
    pub fn is(&self, subject: &Subject) -> bool {
        if *subject == self.subject {
            return true;
        }
        subject.kind() == SubjectKind::Citizen
            && [&self.national_id, &self.person]
                .into_iter()
                .flatten()
                .any(|id| *subject == Subject::citizen(id))
    }

    /// `PERMISSION_DENIED` when `subject` is the caller themselves (`is`): the check every
    /// relation-creating RPC makes of the relation's subject. `act` says what was refused
    /// ("grants a role").
    pub fn refuse_own(&self, subject: &Subject, act: &str) -> Result<(), Error> {
        if self.is(subject) {
            Err(Error::PermissionDenied(format!(
                "nobody {act} for themselves: someone else entitled must"
            )))
        } else {
            Ok(())
        }
    }
}
