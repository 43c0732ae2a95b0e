//! `samvirke.v1.AccessScopeService`.

use tonic::Request;

use super::convert::{instant, plan_part, plan_part_out, timestamp};
use super::{Rpc, reply, take};
use crate::domain::ids::OrgNumber;
use crate::domain::names::{access_scope_name, member_name, plan_item, plan_name, same_plan};
use crate::domain::scope::{AccessScope, NewAccessScope, PlanPart, ScopeTarget};
use crate::domain::time::Instant;
use crate::domain::{Error, FieldViolation, Violations};
use crate::ops::Context;
use crate::proto::access_scope::Target;
use crate::proto::access_scope_service_server::AccessScopeService;
use crate::proto::{self, *};

/// The access scope service: the patient decides what each member sees, and for how long.
pub struct AccessScopeApi(pub Context);

fn encode(scope: &AccessScope, now: Instant) -> proto::AccessScope {
    let target = match &scope.target {
        ScopeTarget::Member(member) => Target::Member(plan_item(scope.plan, "members", *member)),
        ScopeTarget::Organisation(o) => Target::Organisation(o.as_str().to_owned()),
    };
    proto::AccessScope {
        name: plan_item(scope.plan, "accessScopes", scope.id),
        target: Some(target),
        parts: scope.parts.parts().into_iter().map(|p| plan_part_out(p) as i32).collect(),
        expire_time: scope.expire_time.map(timestamp),
        create_time: Some(timestamp(scope.create_time)),
        expired: scope.expired(now),
    }
}

/// The parts a request names, each a part and none twice; at most as many as there are.
fn parts(v: &mut Violations, given: &[i32]) -> Option<crate::domain::scope::Parts> {
    let field = "access_scope.parts";
    if given.len() > PlanPart::ALL.len() {
        let most = format!("names at most {} parts, each once", PlanPart::ALL.len());
        v.push(FieldViolation::new(field, most));
        return None;
    }
    let given: Vec<Option<PlanPart>> = given.iter().map(|p| plan_part(*p)).collect();
    v.check_all(NewAccessScope::parts(field, &given))
}

#[tonic::async_trait]
impl AccessScopeService for AccessScopeApi {
    async fn create_access_scope(
        &self,
        r: Request<CreateAccessScopeRequest>,
    ) -> Rpc<CreateAccessScopeResponse> {
        let (who, req) = take(r)?;
        let mut v = Violations::default();
        let plan = v.check(plan_name("parent", &req.parent));
        let input = req.access_scope.unwrap_or_default();
        let target = match (&input.target, plan) {
            (None, _) => {
                let what = "name a member or an organisation";
                v.push(FieldViolation::new("access_scope.member", what));
                None
            }
            (Some(Target::Member(name)), Some(plan)) => {
                let field = "access_scope.member";
                v.check(same_plan(field, plan, member_name(field, name))).map(ScopeTarget::Member)
            }
            (Some(Target::Member(_)), None) => None,
            (Some(Target::Organisation(number)), _) => v
                .check(OrgNumber::parse("access_scope.organisation", number))
                .map(ScopeTarget::Organisation),
        };
        let parts = parts(&mut v, &input.parts);
        let expire_time = v.check(instant("access_scope.expire_time", input.expire_time.as_ref()));
        let (((plan, target), parts), expire_time) =
            v.ok(plan.zip(target).zip(parts).zip(expire_time))?;
        let new = NewAccessScope { target, parts, expire_time };
        let created = self.0.create_access_scope(&who, plan, new).await?;
        let scope = encode(&created.value, Instant::now());
        reply(CreateAccessScopeResponse { access_scope: Some(scope) })
    }

    async fn list_access_scopes(
        &self,
        r: Request<ListAccessScopesRequest>,
    ) -> Rpc<ListAccessScopesResponse> {
        let (who, req) = take(r)?;
        let plan = plan_name("parent", &req.parent).map_err(Error::from)?;
        let listed = self.0.list_access_scopes(&who, plan).await?;
        let now = Instant::now();
        let access_scopes = listed.value.iter().map(|s| encode(s, now)).collect();
        reply(ListAccessScopesResponse { access_scopes })
    }

    async fn delete_access_scope(
        &self,
        r: Request<DeleteAccessScopeRequest>,
    ) -> Rpc<DeleteAccessScopeResponse> {
        let (who, req) = take(r)?;
        let (plan, scope) = access_scope_name("name", &req.name).map_err(Error::from)?;
        self.0.delete_access_scope(&who, plan, scope).await?;
        reply(DeleteAccessScopeResponse {})
    }
}
