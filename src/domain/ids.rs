//! Identifiers with check digits or a fixed shape, validated once at the edge so the rest of the
//! code can trust them.

use std::fmt;

use super::FieldViolation;
pub use super::national_id::NationalId;

/// A Norwegian organisation number (organisasjonsnummer): nine digits, the first 8 or 9, the
/// last a mod-11 check digit under the weights 3 2 7 6 5 4 3 2 (Brønnøysundregistrene,
/// "Organisasjonsnummer"). Identifies every organisation (tenant).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrgNumber(String);

impl OrgNumber {
    /// Parses and checks an organisation number; `field` names it in the violation.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        let digits = digits::<9>(value).filter(|d| d[0] == 8 || d[0] == 9).ok_or_else(|| {
            FieldViolation::new(field, "must be a 9-digit organisation number starting with 8 or 9")
        })?;
        match mod11(&digits[..8], &[3, 2, 7, 6, 5, 4, 3, 2]) {
            Some(check) if check == digits[8] => Ok(OrgNumber(value.to_owned())),
            _ => {
                Err(FieldViolation::new(field, "is not a valid organisation number (check digit)"))
            }
        }
    }

    /// The number as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for OrgNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrgNumber({})", self.0)
    }
}

/// The id of a stored resource: a UUIDv7, so ids sort by creation time and keyset pages stay
/// stable while others insert.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ResourceId(uuid::Uuid);

impl ResourceId {
    /// A new id, ordered after every id made before it on this node.
    pub fn generate() -> Self {
        ResourceId(uuid::Uuid::now_v7())
    }

    /// Parses the canonical hyphenated lowercase form.
    pub fn parse(value: &str) -> Option<Self> {
        if value.len() != 36 || value.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        uuid::Uuid::try_parse(value).ok().map(ResourceId)
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

pub(super) fn digits<const N: usize>(value: &str) -> Option<[u32; N]> {
    let bytes = value.as_bytes();
    if bytes.len() != N || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut out = [0; N];
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = u32::from(b - b'0');
    }
    Some(out)
}

/// The mod-11 check digit of `digits` under `weights`, or `None` when no digit fits (remainder 1).
pub(super) fn mod11(digits: &[u32], weights: &[u32]) -> Option<u32> {
    let sum: u32 = digits.iter().zip(weights).map(|(d, w)| d * w).sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        check => Some(check),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organisation_numbers() {
        // The Norwegian Directorate of Health and a municipality.
        assert!(OrgNumber::parse("f", "983544622").is_ok());
        assert!(OrgNumber::parse("f", "974760673").is_ok());
        assert!(OrgNumber::parse("f", "974760674").is_err());
        assert!(OrgNumber::parse("f", "97476067").is_err());
        assert!(OrgNumber::parse("f", "97476067a").is_err());
        assert!(OrgNumber::parse("f", " 974760673").is_err());
        // Valid check digit, but organisation numbers start with 8 or 9.
        assert!(OrgNumber::parse("f", "100000008").is_err());
    }

    #[test]
    fn resource_ids_round_trip_only_in_canonical_form() {
        let id = ResourceId::generate();
        assert_eq!(ResourceId::parse(&id.to_string()), Some(id));
        assert_eq!(ResourceId::parse(&id.to_string().to_uppercase()), None);
        assert_eq!(ResourceId::parse("not-an-id"), None);
    }
}
