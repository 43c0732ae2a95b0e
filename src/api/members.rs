//! `samvirke.v1.ResponsibilityGroupService`.

use tonic::{Request, Response, Status};

use super::convert::{
    etag, etag_of, instant, member_name, member_role, member_role_out, plan_item, plan_name,
    plan_page, representative_basis, representative_basis_out, shown_subject, timestamp,
};
use super::document::Change;
use super::{Context, principal};
use crate::auth::{Action, Object, Relation};
use crate::domain::date::Date;
use crate::domain::member::{Member, MemberRole, NewMember};
use crate::domain::plan::PlanStatus;
use crate::domain::subject::{Subject, SubjectKind};
use crate::domain::time::Instant;
use crate::domain::{Error, Violations};
use crate::proto;
use crate::proto::responsibility_group_service_server::ResponsibilityGroupService;

/// The responsibility group service.
pub struct ResponsibilityGroupApi(pub Context);

/// A member as the caller may see it: a citizen's identity number, as member or as the one who
/// added them, only for those who may read identities on the plan.
pub(super) fn encode_member(member: &Member, show_identity: bool) -> proto::Member {
    proto::Member {
        name: plan_item(member.plan, "members", member.id),
        subject: match member.subject.kind() {
            SubjectKind::Citizen if !show_identity => String::new(),
            _ => member.subject.as_stored().to_owned(),
        },
        display_name: member.display_name.clone(),
        role: member_role_out(member.role) as i32,
        organisation: member
            .organisation
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        start_time: Some(timestamp(member.start_time)),
        end_time: member.end_time.map(timestamp),
        etag: etag_of(member.revision),
        representative_basis: representative_basis_out(member.basis) as i32,
        basis_reference: member.basis_reference.clone(),
        powers_end_time: member.powers_end_time.map(timestamp),
        added_by: shown_subject(member.added_by.as_stored(), show_identity),
        organisation_display_name: member.organisation_name.clone(),
        create_time: Some(timestamp(member.create_time)),
    }
}

/// How a membership reads in the plan's history: its name, role and basis.
fn described(member: &Member) -> String {
    let name = plan_item(member.plan, "members", member.id);
    match member.basis {
        Some(basis) => format!("{name} ({}, {})", member.role.as_str(), basis.as_str()),
        None => format!("{name} ({})", member.role.as_str()),
    }
}

#[tonic::async_trait]
impl ResponsibilityGroupService for ResponsibilityGroupApi {
    async fn add_member(
        &self,
        request: Request<proto::AddMemberRequest>,
    ) -> Result<Response<proto::AddMemberResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let mut v = Violations::default();
        let plan = v.check(plan_name("parent", &req.parent));
        let member = req
            .member
            .ok_or_else(|| Error::invalid("member", "must be set"))?;
        let start = v.check(instant("member.start_time", member.start_time.as_ref()));
        let end = v.check(instant("member.end_time", member.end_time.as_ref()));
        let new = v.check_under(
            "member",
            NewMember::parse(
                &member.subject,
                &member.display_name,
                member_role(member.role),
                &member.organisation,
                start.flatten(),
                end.flatten(),
                representative_basis(member.representative_basis),
                &member.basis_reference,
            ),
        );
        let (Some(plan), Some(mut new)) = (plan, new) else {
            return Err(v.into_error().into());
        };
        v.finish()?;
        let object = Object::of_membership(new.role, new.basis);
        let now = Instant::now();
        new.check_not_backdated(now)?;
        let mut session = self.0.store.write().await?;
        let result = async {
            let access = self
                .0
                .guard
                .plan(&mut session, &who, plan, object, Action::Add, now)
                .await?;
            who.refuse_own(&new.subject, "adds a member")?;
            if new.subject == Subject::citizen(&access.plan.patient) {
                return Err(Error::invalid(
                    "member.subject",
                    "is the plan's patient, who owns the plan and never serves as its member",
                ));
            }
            if access.plan.status == PlanStatus::Closed {
                return Err(Error::FailedPrecondition(
                    "the plan is PLAN_STATUS_CLOSED: its group takes no new members".into(),
                ));
            }
            new.limit_parent_to_minor(&access.plan.patient, Date::today_in_norway(now))?;
            let change = Change::begin(&mut session, &access, &who, false, now).await?;
            let member = session
                .insert_member(&access.plan, &new, &who.subject, now)
                .await?;
            change
                .finish(
                    &mut session,
                    &access,
                    &who,
                    &[format!("member added: {}", described(&member))],
                    now,
                )
                .await?;
            let show = self.0.guard.may_see_identities(&access, &who)?;
            Ok(encode_member(&member, show))
        }
        .await;
        let member = session.finish(result).await?;
        Ok(Response::new(proto::AddMemberResponse {
            member: Some(member),
        }))
    }

    async fn remove_member(
        &self,
        request: Request<proto::RemoveMemberRequest>,
    ) -> Result<Response<proto::RemoveMemberResponse>, Status> {
        let who = principal(&request)?;
        let req = request.get_ref();
        let mut v = Violations::default();
        let name = v.check(member_name("name", &req.name));
        let expected = v.check(etag("etag", &req.etag));
        let (Some((plan, member)), Some(expected)) = (name, expected) else {
            return Err(v.into_error().into());
        };
        let now = Instant::now();
        let mut session = self.0.store.write().await?;
        let result = async {
            let access = self
                .0
                .guard
                .plan(&mut session, &who, plan, Object::Plan, Action::Read, now)
                .await?;
            let current = session.member(plan, member).await?;
            if current.role == MemberRole::Coordinator {
                return Err(Error::FailedPrecondition(
                    "a coordinator leaves the group only through CoordinatorService: \
                     ReplaceCoordinator"
                        .into(),
                ));
            }
            // Anyone may end a relation of their own; nobody may create one.
            let own: &[Relation] = if who.is(&current.subject) {
                &[Relation::OwnRelation]
            } else {
                &[]
            };
            let object = Object::of_membership(current.role, current.basis);
            self.0
                .guard
                .require_with(
                    &mut session,
                    &access,
                    &who,
                    own,
                    object,
                    Action::Remove,
                    now,
                )
                .await?;
            let change = Change::begin(&mut session, &access, &who, false, now).await?;
            let member = session.end_member(plan, member, expected, now).await?;
            change
                .finish(
                    &mut session,
                    &access,
                    &who,
                    &[format!("member removed: {}", described(&member))],
                    now,
                )
                .await?;
            let show = self.0.guard.may_see_identities(&access, &who)?;
            Ok(encode_member(&member, show))
        }
        .await;
        let member = session.finish(result).await?;
        Ok(Response::new(proto::RemoveMemberResponse {
            member: Some(member),
        }))
    }

    async fn list_members(
        &self,
        request: Request<proto::ListMembersRequest>,
    ) -> Result<Response<proto::ListMembersResponse>, Status> {
        let who = principal(&request)?;
        let req = request.get_ref();
        let (plan, page) = plan_page(
            "ListMembers",
            &req.parent,
            req.page_size,
            &req.page_token,
            &format!("show_ended={}", req.show_ended),
        )?;
        let now = Instant::now();
        let mut session = self.0.store.read().await?;
        let access = self
            .0
            .guard
            .plan(&mut session, &who, plan, Object::Member, Action::Read, now)
            .await?;
        let mut members = session
            .list_members(plan, req.show_ended, page, now)
            .await?;
        let next_page_token = page.next_token(&mut members, |m| m.id);
        let show = self.0.guard.may_see_identities(&access, &who)?;
        Ok(Response::new(proto::ListMembersResponse {
            members: members.iter().map(|m| encode_member(m, show)).collect(),
            next_page_token,
        }))
    }

    async fn list_my_plans(
        &self,
        request: Request<proto::ListMyPlansRequest>,
    ) -> Result<Response<proto::ListMyPlansResponse>, Status> {
        let who = principal(&request)?;
        Ok(Response::new(
            self.0.list_my_plans(&who, request.get_ref()).await?,
        ))
    }

    async fn create_meeting(
        &self,
        request: Request<proto::CreateMeetingRequest>,
    ) -> Result<Response<proto::CreateMeetingResponse>, Status> {
        let who = principal(&request)?;
        let meeting = self.0.create_meeting(&who, request.into_inner()).await?;
        Ok(Response::new(proto::CreateMeetingResponse {
            meeting: Some(meeting),
        }))
    }

    async fn get_meeting(
        &self,
        request: Request<proto::GetMeetingRequest>,
    ) -> Result<Response<proto::GetMeetingResponse>, Status> {
        let who = principal(&request)?;
        let meeting = self.0.get_meeting(&who, &request.get_ref().name).await?;
        Ok(Response::new(proto::GetMeetingResponse {
            meeting: Some(meeting),
        }))
    }

    async fn list_meetings(
        &self,
        request: Request<proto::ListMeetingsRequest>,
    ) -> Result<Response<proto::ListMeetingsResponse>, Status> {
        let who = principal(&request)?;
        Ok(Response::new(
            self.0.list_meetings(&who, request.get_ref()).await?,
        ))
    }

    async fn update_meeting(
        &self,
        request: Request<proto::UpdateMeetingRequest>,
    ) -> Result<Response<proto::UpdateMeetingResponse>, Status> {
        let who = principal(&request)?;
        let meeting = self.0.update_meeting(&who, request.into_inner()).await?;
        Ok(Response::new(proto::UpdateMeetingResponse {
            meeting: Some(meeting),
        }))
    }
}
