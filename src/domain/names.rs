//! Resource names (AIP-122): `plans/{plan}`, its items `plans/{plan}/{collection}/{item}`,
//! `organisations/{organisation}` and its role grants, `referrals/{referral}`,
//! `complaints/{complaint}`. Parsed once at the edge, each violation naming its field.

use super::FieldViolation;
use super::ids::{OrgNumber, ResourceId};

/// Parses `plans/{plan}`.
pub fn plan_name(field: &str, name: &str) -> Result<ResourceId, FieldViolation> {
    name.strip_prefix("plans/")
        .and_then(ResourceId::parse)
        .ok_or_else(|| FieldViolation::new(field, "must be a plan name, plans/{plan}"))
}

/// Parses `plans/{plan}/members/{member}`.
pub fn member_name(field: &str, name: &str) -> Result<(ResourceId, ResourceId), FieldViolation> {
    let bad = || FieldViolation::new(field, "must be a member name, plans/{plan}/members/{member}");
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
            format!("must be a name of the form plans/{{plan}}/{collection}/{{{what}}}"),
        )
    };
    let rest = name.strip_prefix("plans/").ok_or_else(bad)?;
    let (plan, item) = rest.split_once(&format!("/{collection}/")).ok_or_else(bad)?;
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

/// Parses `plans/{plan}/blocks/{block}`.
pub fn block_name(field: &str, name: &str) -> Result<(ResourceId, ResourceId), FieldViolation> {
    plan_item_name(field, name, "blocks", "block")
}

/// Parses `plans/{plan}/accessScopes/{access_scope}`.
pub fn access_scope_name(
    field: &str,
    name: &str,
) -> Result<(ResourceId, ResourceId), FieldViolation> {
    plan_item_name(field, name, "accessScopes", "access_scope")
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
        FieldViolation::new(field, "must be an organisation name, organisations/{organisation}")
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

/// Parses `complaints/{complaint}`.
pub fn complaint_name(field: &str, name: &str) -> Result<ResourceId, FieldViolation> {
    name.strip_prefix("complaints/").and_then(ResourceId::parse).ok_or_else(|| {
        FieldViolation::new(field, "must be a complaint name, complaints/{complaint}")
    })
}

/// Parses `childCoordinatorApplications/{application}`.
pub fn application_name(field: &str, name: &str) -> Result<ResourceId, FieldViolation> {
    name.strip_prefix("childCoordinatorApplications/").and_then(ResourceId::parse).ok_or_else(
        || {
            FieldViolation::new(
                field,
                "must be an application name, childCoordinatorApplications/{application}",
            )
        },
    )
}

/// Parses `referrals/{referral}`.
pub fn referral_name(field: &str, name: &str) -> Result<ResourceId, FieldViolation> {
    name.strip_prefix("referrals/")
        .and_then(ResourceId::parse)
        .ok_or_else(|| FieldViolation::new(field, "must be a referral name, referrals/{referral}"))
}

/// The id in a plan transfer's resource name, `planTransfers/{transfer}`.
pub fn transfer_name(field: &str, name: &str) -> Result<ResourceId, FieldViolation> {
    name.strip_prefix("planTransfers/").and_then(ResourceId::parse).ok_or_else(|| {
        FieldViolation::new(field, "must be a plan transfer name, planTransfers/{transfer}")
    })
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
        assert_eq!(member_name("n", &format!("plans/{id}/members/{m}")).unwrap(), (id, m));
        assert!(member_name("n", &format!("plans/{id}/members/")).is_err());
        assert!(organisation_name("n", "organisations/910000004").is_ok());
        assert!(organisation_name("n", "organisations/910000005").is_err());
        assert!(grant_name("n", &format!("organisations/910000004/roleGrants/{m}")).is_ok());
    }
}
