//! `samvirke.v1.ResponsibilityGroupService`.

use tonic::Request;

use super::convert::{
    etag, etag_of, instant, member_role, member_role_out, plan_page, representative_basis,
    representative_basis_out, shown_subject, timestamp,
};
use super::encode::encode_plan;
use super::meetings::{cancellation, encode, new_meeting};
use super::{Rpc, reply, take};
use crate::domain::member::{Member, NewMember};
use crate::domain::names::{meeting_name, member_name, plan_item, plan_name};
use crate::domain::page::{Page, Scope};
use crate::domain::subject::SubjectKind;
use crate::domain::{Error, Violations};
use crate::ops::Context;
use crate::ops::meeting::UpdateMeeting;
use crate::proto::responsibility_group_service_server::ResponsibilityGroupService;
use crate::proto::{self, *};

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
        organisation: member.organisation.as_ref().map(ToString::to_string).unwrap_or_default(),
        start_time: Some(timestamp(member.start_time)),
        end_time: member.end_time.map(timestamp),
        etag: etag_of(member.revision),
        representative_basis: representative_basis_out(member.basis) as i32,
        blocked: member.blocked,
        basis_reference: member.basis_reference.clone(),
        powers_end_time: member.powers_end_time.map(timestamp),
        added_by: shown_subject(member.added_by.as_stored(), show_identity),
        organisation_display_name: member.organisation_name.clone(),
        create_time: Some(timestamp(member.create_time)),
    }
}

#[tonic::async_trait]
impl ResponsibilityGroupService for ResponsibilityGroupApi {
    async fn add_member(&self, r: Request<AddMemberRequest>) -> Rpc<AddMemberResponse> {
        let (who, req) = take(r)?;
        let mut v = Violations::default();
        let plan = v.check(plan_name("parent", &req.parent));
        let member = req.member.ok_or_else(|| Error::invalid("member", "must be set"))?;
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
        let (plan, new) = v.ok(plan.zip(new))?;
        let member = self.0.add_member(&who, plan, new).await?;
        reply(proto::AddMemberResponse {
            member: Some(encode_member(&member.value, member.identities)),
        })
    }

    async fn remove_member(&self, r: Request<RemoveMemberRequest>) -> Rpc<RemoveMemberResponse> {
        let (who, req) = take(r)?;
        let mut v = Violations::default();
        let name = v.check(member_name("name", &req.name));
        let etag = v.check(etag("etag", &req.etag));
        let ((plan, member), etag) = v.ok(name.zip(etag))?;
        let member = self.0.remove_member(&who, plan, member, etag).await?;
        reply(proto::RemoveMemberResponse {
            member: Some(encode_member(&member.value, member.identities)),
        })
    }

    async fn list_members(&self, r: Request<ListMembersRequest>) -> Rpc<ListMembersResponse> {
        let (who, req) = take(r)?;
        let filters = format!("show_ended={}", req.show_ended);
        let (plan, page) =
            plan_page("ListMembers", &req.parent, req.page_size, &req.page_token, &filters)?;
        let listed = self.0.list_members(&who, plan, req.show_ended, page).await?;
        let show = listed.identities;
        reply(proto::ListMembersResponse {
            members: listed.value.items.iter().map(|m| encode_member(m, show)).collect(),
            next_page_token: listed.value.next_page_token,
        })
    }

    async fn list_my_plans(&self, r: Request<ListMyPlansRequest>) -> Rpc<ListMyPlansResponse> {
        let (who, req) = take(r)?;
        let scope = Scope::of("ListMyPlans", "", "");
        let page =
            Page::parse(req.page_size, &req.page_token, scope).map_err(Error::InvalidArgument)?;
        let listed = self.0.list_my_plans(&who, page).await?;
        reply(proto::ListMyPlansResponse {
            plans: listed
                .items
                .iter()
                .map(|mine| proto::MyPlan {
                    plan: Some(encode_plan(&mine.value.plan, mine.identities)),
                    membership: mine
                        .value
                        .membership
                        .as_ref()
                        .map(|m| encode_member(m, mine.identities)),
                })
                .collect(),
            next_page_token: listed.next_page_token,
        })
    }

    async fn create_meeting(&self, r: Request<CreateMeetingRequest>) -> Rpc<CreateMeetingResponse> {
        let (who, req) = take(r)?;
        let (plan, patch) = new_meeting(req)?;
        let meeting = self.0.create_meeting(&who, plan, patch).await?;
        reply(proto::CreateMeetingResponse { meeting: Some(encode(&meeting)) })
    }

    async fn get_meeting(&self, r: Request<GetMeetingRequest>) -> Rpc<GetMeetingResponse> {
        let (who, req) = take(r)?;
        let (plan, meeting) = meeting_name("name", &req.name)?;
        let meeting = self.0.get_meeting(&who, plan, meeting).await?;
        reply(proto::GetMeetingResponse { meeting: Some(encode(&meeting)) })
    }

    async fn list_meetings(&self, r: Request<ListMeetingsRequest>) -> Rpc<ListMeetingsResponse> {
        let (who, req) = take(r)?;
        let rpc = "ListMeetings";
        let (plan, page) = plan_page(rpc, &req.parent, req.page_size, &req.page_token, "")?;
        let listed = self.0.list_meetings(&who, plan, page).await?;
        reply(proto::ListMeetingsResponse {
            meetings: listed.items.iter().map(encode).collect(),
            next_page_token: listed.next_page_token,
        })
    }

    async fn update_meeting(&self, r: Request<UpdateMeetingRequest>) -> Rpc<UpdateMeetingResponse> {
        let (who, req) = take(r)?;
        let update = UpdateMeeting::try_from(req)?;
        let meeting = self.0.update_meeting(&who, update).await?;
        reply(proto::UpdateMeetingResponse { meeting: Some(encode(&meeting)) })
    }

    async fn cancel_meeting(&self, r: Request<CancelMeetingRequest>) -> Rpc<CancelMeetingResponse> {
        let (who, req) = take(r)?;
        let (at, reason) = cancellation(&req)?;
        let meeting = self.0.cancel_meeting(&who, at, reason).await?;
        reply(proto::CancelMeetingResponse { meeting: Some(encode(&meeting)) })
    }
}
