//! Update masks (AIP-134): which fields an update changes. Each updatable path maps to the field
//! group that decides who may write it; anything else is rejected with the path named.

use super::FieldViolation;

/// Resolves `paths` against `updatable` (path → field group). `fixed` lists fields that exist
/// but cannot be updated, for a clearer message. Returns the groups named, in mask order and
/// without repeats, or every bad path at once.
pub fn resolve<G: Copy + PartialEq>(
    paths: &[String],
    updatable: &[(&str, G)],
    fixed: &[&str],
) -> Result<Vec<(String, G)>, Vec<FieldViolation>> {
    let mut violations = Vec::new();
    let mut resolved: Vec<(String, G)> = Vec::new();
    // More paths than the resource has fields cannot all be right: refuse before reading any.
    let known = updatable.len() + fixed.len();
    if paths.len() > known {
        return Err(vec![FieldViolation::new(
            "update_mask",
            format!("names {} paths; the resource has {known} fields", paths.len()),
        )]);
    }
    if paths.is_empty() {
        violations
            .push(FieldViolation::new("update_mask", "must name at least one field to update"));
    }
    for (i, path) in paths.iter().enumerate() {
        if let Some((_, group)) = updatable.iter().find(|(p, _)| p == path) {
            if !resolved.iter().any(|(p, _)| p == path) {
                resolved.push((path.clone(), *group));
            }
        } else if fixed.contains(&path.as_str()) {
            violations.push(FieldViolation::new(
                "update_mask",
                format!("{path} is output only or fixed at creation"),
            ));
        } else {
            // The path is the client's own text, which may hold anything (an identity number
            // too): it is named by its place in the mask, never repeated.
            violations.push(FieldViolation::new(
                "update_mask",
                format!("paths[{i}] is not a field of this resource"),
            ));
        }
    }
    if violations.is_empty() { Ok(resolved) } else { Err(violations) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_known_paths_and_names_bad_ones() {
        let updatable = [("text", 1), ("status", 2)];
        let fixed = ["name", "etag"];
        let ok = resolve(&["status".into(), "text".into(), "status".into()], &updatable, &fixed);
        assert_eq!(ok.unwrap(), vec![("status".into(), 2), ("text".into(), 1)]);
        let bad = resolve(&["etag".into(), "colour".into()], &updatable, &fixed).unwrap_err();
        assert_eq!(bad.len(), 2);
        assert!(bad[0].description.contains("etag is output only"));
        // An unknown path is named by its place, never repeated: it is the client's own text.
        assert_eq!(bad[1].description, "paths[1] is not a field of this resource");
        assert_eq!(resolve::<i32>(&[], &updatable, &fixed).unwrap_err().len(), 1);
    }
}
