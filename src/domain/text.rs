//! Free text from requests: trimmed, bounded, without control characters other than line
//! breaks and tabs. Every limit is documented on the proto field it applies to.

use super::FieldViolation;

/// Validates free text of at most `max` characters; `required` forbids a blank one. Returns it
/// trimmed.
pub fn bounded(
    field: &str,
    value: &str,
    max: usize,
    required: bool,
) -> Result<String, FieldViolation> {
    let trimmed = value.trim();
    if required && trimmed.is_empty() {
        return Err(FieldViolation::new(field, "must not be empty"));
    }
    if trimmed.chars().count() > max {
        return Err(FieldViolation::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(FieldViolation::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}
