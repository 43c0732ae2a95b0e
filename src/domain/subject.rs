//! Who a principal or a member is, in one canonical text form shared by tokens, members and role
//! grants.

use std::fmt;

use super::FieldViolation;
use super::ids::NationalId;

/// How a subject was identified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubjectKind {
    /// A person logged in with ID-porten, identified by national identity number.
    Citizen,
    /// Health personnel logged in with HelseID, identified by their HelseID subject.
    Personnel,
    /// An agency system authenticated with Maskinporten, identified by its client id.
    System,
}

/// A subject: `citizen:{national id}`, `personnel:{sub}` or `system:{client_id}`. `Debug` and
/// `Display` redact a citizen's number; `as_stored` is the full form, for the database only.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Subject {
    kind: SubjectKind,
    text: String,
}

const CITIZEN: &str = "citizen:";
const PERSONNEL: &str = "personnel:";
const SYSTEM: &str = "system:";

/// Whether `id` holds a run of eleven digits, the shape of a national identity number: such a
/// subject would put the number in the logs and traces that name subjects.
fn holds_identity_number(id: &str) -> bool {
    id.as_bytes().split(|b| !b.is_ascii_digit()).any(|run| run.len() >= 11)
}

impl Subject {
    /// A citizen, by national identity number.
    pub fn citizen(id: &NationalId) -> Self {
        Subject { kind: SubjectKind::Citizen, text: format!("{CITIZEN}{}", id.expose()) }
    }

    /// Health personnel by HelseID subject, or a system by client id. `None` when the id is not
    /// a plausible identifier: 1 to 200 letters, digits or `-._~+/=@:|` (no commas or quotes,
    /// which would break a policy line).
    pub fn external(kind: SubjectKind, id: &str) -> Option<Self> {
        let prefix = match kind {
            SubjectKind::Citizen => return None,
            SubjectKind::Personnel => PERSONNEL,
            SubjectKind::System => SYSTEM,
        };
        let plausible = !id.is_empty()
            && id.len() <= 200
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/=@:|".contains(&b))
            && !holds_identity_number(id);
        plausible.then(|| Subject { kind, text: format!("{prefix}{id}") })
    }

    /// Parses the canonical text form; `field` names it in the violation.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        let bad = || {
            FieldViolation::new(
                field,
                "must be citizen:{national id}, personnel:{sub} or system:{client_id}",
            )
        };
        if let Some(id) = value.strip_prefix(CITIZEN) {
            let id = NationalId::parse(field, id)?;
            Ok(Subject::citizen(&id))
        } else if let Some(id) = value.strip_prefix(PERSONNEL) {
            Subject::external(SubjectKind::Personnel, id).ok_or_else(bad)
        } else if let Some(id) = value.strip_prefix(SYSTEM) {
            Subject::external(SubjectKind::System, id).ok_or_else(bad)
        } else {
            Err(bad())
        }
    }

    /// Rebuilds a subject read back from the database, where only valid subjects are written.
    pub fn from_stored(text: String) -> Self {
        let kind = if text.starts_with(CITIZEN) {
            SubjectKind::Citizen
        } else if text.starts_with(PERSONNEL) {
            SubjectKind::Personnel
        } else {
            SubjectKind::System
        };
        Subject { kind, text }
    }

    /// How the subject was identified.
    pub fn kind(&self) -> SubjectKind {
        self.kind
    }

    /// The full canonical form, identity number included: for storage and for callers the
    /// policy lets see identities.
    pub fn as_stored(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            SubjectKind::Citizen => f.write_str("citizen:<redacted>"),
            _ => f.write_str(&self.text),
        }
    }
}

impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Subject({self})")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind_and_redacts_citizens() {
        let id = crate::domain::national_id::synthetic_for_tests(0);
        let c = Subject::parse("s", &format!("citizen:{}", id.expose())).unwrap();
        assert_eq!(c.kind(), SubjectKind::Citizen);
        assert_eq!(c.to_string(), "citizen:<redacted>");
        assert_eq!(c.as_stored(), format!("citizen:{}", id.expose()));
        let p = Subject::parse("s", "personnel:abc-123").unwrap();
        assert_eq!(p.to_string(), "personnel:abc-123");
        assert_eq!(Subject::parse("s", "system:nav").unwrap().kind(), SubjectKind::System);
        for bad in [
            "",
            "citizen:123",
            "personnel:",
            "personnel:a b",
            "personnel:a,admin",
            "root",
            "system:\u{e6}",
        ] {
            assert!(Subject::parse("s", bad).is_err(), "{bad}");
        }
    }
}
