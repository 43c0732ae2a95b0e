//! Relations only the entitled can create: each way an attacker obtained a relation the access
//! check trusts, as a named test, and the patient's view of who is on their plan and why.

use samvirke::domain::date::Date;
use samvirke::domain::organisation::OrgRole;
use samvirke::domain::time::Instant;
use samvirke::proto;
use tonic::Code;

use super::common::*;

fn referrer() -> Who {
    Who::Personnel("discharge-nurse", HOSPITAL)
}
fn admin() -> Who {
    Who::Personnel("admin", MUNICIPALITY)
}

/// Unit staff, a referrer and an admin, and the patient's plan with a coordinator and NAV on
/// it, shared with NAV by the patient.
async fn world(server: &TestServer) -> String {
    server.bootstrap_grant(MUNICIPALITY, &staff().subject(), OrgRole::UnitStaff).await;
    server.bootstrap_grant(HOSPITAL, &referrer().subject(), OrgRole::Referrer).await;
    server.bootstrap_grant(MUNICIPALITY, &admin().subject(), OrgRole::Admin).await;
    let plan = server.create_plan(&staff(), MUNICIPALITY, PATIENT).await;
    server.add_member(&staff(), &plan, &coordinator(), proto::MemberRole::Coordinator).await;
    server.add_member(&staff(), &plan, &nav(), proto::MemberRole::Nav).await;
    server.give_consent(&Who::Citizen(PATIENT), &plan, &[NAV]).await;
    plan
}

fn representative(subject: &str, basis: proto::RepresentativeBasis) -> proto::Member {
    proto::Member {
        subject: subject.into(),
        display_name: "Representant".into(),
        role: proto::MemberRole::Representative as i32,
        representative_basis: basis as i32,
        basis_reference: "SF-2026/77".into(),
        ..Default::default()
    }
}

async fn add(
    server: &TestServer,
    who: &Who,
    plan: &str,
    member: proto::Member,
) -> Result<proto::Member, tonic::Status> {
    server
        .members(Some(who))
        .add_member(proto::AddMemberRequest { parent: plan.into(), member: Some(member) })
        .await
        .map(|r| r.into_inner().member.unwrap())
}

async fn remove(server: &TestServer, who: &Who, name: &str) -> Code {
    code(
        &server
            .members(Some(who))
            .remove_member(proto::RemoveMemberRequest { name: name.into(), etag: String::new() })
            .await,
    )
}

on_both_backends! {
    /// Instance 1: unit staff made themselves the patient's representative and acted as them.
    async fn staff_cannot_make_themselves_the_patients_representative(server: TestServer) {
        let plan = world(&server).await;
        // The staff member's token names who they are in private life, as HelseID's does.
        let staff_in_private = Who::PersonnelWithPid("unit-staff", MUNICIPALITY, STRANGER);
        let me = format!("citizen:{STRANGER}");
        let members = server.row_count("members").await;
        for basis in [
            proto::RepresentativeBasis::PowerOfAttorney,
            proto::RepresentativeBasis::Guardian,
            proto::RepresentativeBasis::Parent,
        ] {
            let refused = add(&server, &staff_in_private, &plan, representative(&me, basis)).await;
            assert_eq!(code(&refused), Code::PermissionDenied, "{basis:?}");
        }
        let mut next_of_kin = Who::Citizen(STRANGER).as_member(proto::MemberRole::NextOfKin);
        next_of_kin.subject = me.clone();
        assert_eq!(code(&add(&server, &staff_in_private, &plan, next_of_kin).await), Code::PermissionDenied);
        // Nor as a member of their own organisation, nor by role impersonating the patient.
        let mut own = staff().as_member(proto::MemberRole::Other);
        own.subject = staff().subject();
        assert_eq!(code(&add(&server, &staff(), &plan, own).await), Code::PermissionDenied);
        let mut as_patient = Who::Citizen(STRANGER).as_member(proto::MemberRole::Patient);
        as_patient.subject = me.clone();
        let status = add(&server, &staff(), &plan, as_patient).await.unwrap_err();
        assert_eq!(violated_fields(&status), ["member.role"]);
        assert_eq!(server.row_count("members").await, members);
        // The stranger, as a citizen, still sees nothing of the plan.
        let seen = server
            .plans(Some(&Who::Citizen(STRANGER)))
            .get_plan(proto::GetPlanRequest { name: plan.clone(), revision: 0 })
            .await;
        assert_eq!(code(&seen), Code::NotFound);
    }
}

on_both_backends! {
    /// The patient alone gives a power of attorney, and may end it; a guardian is the unit's to
    /// record and end, and the patient sees it with its basis and who added it.
    async fn the_patient_sees_who_is_on_their_plan_and_undoes_what_is_theirs(server: TestServer) {
        let plan = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        let attorney = add(
            &server,
            &patient,
            &plan,
            representative(&format!("citizen:{NEXT_OF_KIN}"), proto::RepresentativeBasis::PowerOfAttorney),
        )
        .await
        .unwrap();
        let guardian = add(
            &server,
            &staff(),
            &plan,
            representative(&format!("citizen:{STRANGER}"), proto::RepresentativeBasis::Guardian),
        )
        .await
        .unwrap();
        let mut without_reference = representative(&format!("citizen:{YET_ANOTHER_PATIENT}"), proto::RepresentativeBasis::Guardian);
        without_reference.basis_reference.clear();
        let status = add(&server, &staff(), &plan, without_reference).await.unwrap_err();
        assert_eq!(violated_fields(&status), ["member.basis_reference"]);

        let listed = server
            .members(Some(&patient))
            .list_members(proto::ListMembersRequest { parent: plan.clone(), ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .members;
        let find = |name: &str| listed.iter().find(|m| m.name == name).unwrap().clone();
        // The patient sees organisations by name, from the registry.
        let nav_member = listed.iter().find(|m| m.organisation == NAV).unwrap();
        assert_eq!(nav_member.organisation_display_name, "NAV Nordby");
        assert_eq!(server.get_plan(&patient, &plan).await.organisation_display_name, "Nordby kommune");
        let seen = find(&attorney.name);
        assert_eq!(seen.representative_basis, proto::RepresentativeBasis::PowerOfAttorney as i32);
        assert_eq!(seen.added_by, format!("citizen:{PATIENT}"));
        let seen = find(&guardian.name);
        assert_eq!(seen.representative_basis, proto::RepresentativeBasis::Guardian as i32);
        assert_eq!(seen.basis_reference, "SF-2026/77");
        assert_eq!(seen.added_by, staff().subject());
        // NAV sees the group, but not the citizens' identity numbers, nor who added them.
        let nav_view = server
            .members(Some(&nav()))
            .list_members(proto::ListMembersRequest { parent: plan.clone(), ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .members;
        assert!(nav_view.iter().all(|m| !m.subject.contains(NEXT_OF_KIN) && !m.added_by.contains(PATIENT)));

        // The guardian is not the patient's to end; the power of attorney is.
        assert_eq!(remove(&server, &patient, &guardian.name).await, Code::PermissionDenied);
        assert_eq!(remove(&server, &staff(), &attorney.name).await, Code::PermissionDenied);
        assert_eq!(remove(&server, &patient, &attorney.name).await, Code::Ok);
        // The guardian may step down themselves.
        assert_eq!(remove(&server, &Who::Citizen(STRANGER), &guardian.name).await, Code::Ok);
        let history = server
            .plans(Some(&patient))
            .list_plan_revisions(proto::ListPlanRevisionsRequest { parent: plan.clone(), ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .revisions;
        let said: Vec<String> = history.iter().flat_map(|r| r.changes.clone()).collect();
        assert!(said.iter().any(|c| c.contains("member added") && c.contains("power_of_attorney")), "{said:?}");
        assert!(said.iter().any(|c| c.contains("member removed") && c.contains("guardian")), "{said:?}");
    }
}

on_both_backends! {
    /// Instance 2: after the patient withdrew consent, unit staff recorded consent "on their
    /// behalf" and NAV read the plan again; a coordinator could do the same.
    async fn consent_on_the_patients_behalf_cannot_undo_their_withdrawal(server: TestServer) {
        let plan = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        server.withdraw_consent(&patient, &plan).await;
        let on_behalf = |who: Who| {
            let server = server.clone();
            let plan = plan.clone();
            async move {
                let etag = server.get_plan(&staff(), &plan).await.etag;
                server
                    .plans(Some(&who))
                    .record_consent(proto::RecordConsentRequest {
                        name: plan,
                        etag,
                        consent: Some(proto::Consent {
                            recipients: vec![NAV.into()],
                            on_behalf: Some(proto::ConsentOnBehalf {
                                given_by: "Unit staff".into(),
                                reason: "Could not reach the patient".into(),
                            }),
                            ..Default::default()
                        }),
                    })
                    .await
            }
        };
        let consents = server.row_count("consents").await;
        let refused = on_behalf(staff()).await.unwrap_err();
        assert_eq!(refused.code(), Code::FailedPrecondition);
        assert!(refused.message().contains("the patient decided"), "{}", refused.message());
        assert_eq!(code(&on_behalf(coordinator()).await), Code::PermissionDenied);
        assert_eq!(server.row_count("consents").await, consents);
        let nav_reads = server
            .plans(Some(&nav()))
            .get_plan(proto::GetPlanRequest { name: plan.clone(), revision: 0 })
            .await;
        assert_eq!(code(&nav_reads), Code::NotFound);
        // The patient's side may give it again, and then NAV reads.
        server.give_consent(&patient, &plan, &[NAV]).await;
        server.get_plan(&nav(), &plan).await;
        // And unit staff may not replace the patient's own consent with theirs.
        assert_eq!(code(&on_behalf(staff()).await), Code::FailedPrecondition);
        // The history shows every decision and who made it, newest first.
        let history = server
            .plans(Some(&patient))
            .list_consents(proto::ListConsentsRequest { parent: plan.clone(), ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .consents;
        assert_eq!(history.len(), 2);
        assert!(history[0].withdraw_time.is_none());
        assert_eq!(history[1].withdrawn_by, "owner");
        assert_eq!(history[1].withdraw_reason, "Nei");
        assert_eq!(history[1].recorder, format!("citizen:{PATIENT}"));
        let nav_history = server
            .plans(Some(&nav()))
            .list_consents(proto::ListConsentsRequest { parent: plan.clone(), ..Default::default() })
            .await;
        assert_eq!(code(&nav_history), Code::PermissionDenied);

        // On a plan the patient has not decided on, the unit records consent on their behalf.
        let other = server.create_plan(&staff(), MUNICIPALITY, OTHER_PATIENT).await;
        let etag = server.get_plan(&staff(), &other).await.etag;
        let recorded = server
            .plans(Some(&staff()))
            .record_consent(proto::RecordConsentRequest {
                name: other.clone(),
                etag,
                consent: Some(proto::Consent {
                    recipients: vec![NAV.into()],
                    on_behalf: Some(proto::ConsentOnBehalf {
                        given_by: "Eva Nordmann, mother".into(),
                        reason: "The patient is unconscious".into(),
                    }),
                    ..Default::default()
                }),
            })
            .await
            .unwrap()
            .into_inner()
            .plan
            .unwrap();
        assert_eq!(recorded.consent.unwrap().recorded_by, "unit_staff");
    }
}

on_both_backends! {
    /// Instance 3: an admin granted themselves unit staff and read plans.
    async fn an_admin_cannot_grant_themselves_a_role(server: TestServer) {
        world(&server).await;
        let grants = server.row_count("role_grants").await;
        let granted = server
            .organisations(Some(&admin()))
            .grant_role(proto::GrantRoleRequest {
                parent: format!("organisations/{MUNICIPALITY}"),
                role_grant: Some(proto::RoleGrant {
                    subject: admin().subject(),
                    role: proto::OrganisationRole::UnitStaff as i32,
                    ..Default::default()
                }),
            })
            .await;
        assert_eq!(code(&granted), Code::PermissionDenied);
        assert_eq!(server.row_count("role_grants").await, grants);
        let plans = server
            .plans(Some(&admin()))
            .list_plans(proto::ListPlansRequest::default())
            .await
            .unwrap()
            .into_inner()
            .plans;
        assert!(plans.is_empty(), "running roles is not reading plans");
        // Nor revoke their own.
        let own = server
            .organisations(Some(&admin()))
            .list_role_grants(proto::ListRoleGrantsRequest {
                parent: format!("organisations/{MUNICIPALITY}"),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .role_grants
            .into_iter()
            .find(|g| g.subject == admin().subject())
            .unwrap();
        let revoked = server
            .organisations(Some(&admin()))
            .revoke_role(proto::RevokeRoleRequest { name: own.name })
            .await;
        assert_eq!(code(&revoked), Code::PermissionDenied);
    }
}

/// A referral of OTHER_PATIENT from the hospital to `municipality`.
fn referral(municipality: &str) -> proto::Referral {
    proto::Referral {
        municipality: municipality.into(),
        patient_id: OTHER_PATIENT.into(),
        patient_display_name: "Ola Nordmann".into(),
        consent_to_share: true,
        wants_plan: true,
        answered_on_behalf: Some(proto::AnsweredOnBehalf {
            given_by: "Eva Nordmann, mother".into(),
            reason: "The patient could not speak".into(),
        }),
        ..Default::default()
    }
}

async fn send(server: &TestServer) -> proto::Referral {
    server
        .referrals(Some(&referrer()))
        .create_referral(proto::CreateReferralRequest { referral: Some(referral(MUNICIPALITY)) })
        .await
        .unwrap()
        .into_inner()
        .referral
        .unwrap()
}

on_both_backends! {
    /// Instance 4: the requester, acting for another organisation, still read the referral.
    async fn a_requester_reaches_a_referral_only_for_its_trust_and_as_referrer(server: TestServer) {
        world(&server).await;
        let sent = send(&server).await;
        let get = |who: Who| {
            let server = server.clone();
            let name = sent.name.clone();
            async move {
                code(&server.referrals(Some(&who)).get_referral(proto::GetReferralRequest { name }).await)
            }
        };
        let list = |who: Who| {
            let server = server.clone();
            async move {
                server
                    .referrals(Some(&who))
                    .list_referrals(proto::ListReferralsRequest::default())
                    .await
                    .unwrap()
                    .into_inner()
                    .referrals
                    .len()
            }
        };
        assert_eq!(get(referrer()).await, Code::Ok);
        let elsewhere = Who::Personnel("discharge-nurse", NOT_AN_AUTHORITY);
        assert_eq!(get(elsewhere.clone()).await, Code::NotFound);
        assert_eq!(list(elsewhere).await, 0);
        // Without the referrer role, not even for the trust.
        let hospital = samvirke::domain::ids::OrgNumber::parse("org", HOSPITAL).unwrap();
        let hospital = samvirke::auth::OrgPass::operator(hospital);
        server
            .store
            .write_with(async |session| {
                let page = samvirke::domain::page::Page::unscoped(10, None);
                let grants = session.list_grants(&hospital, page).await?;
                let grant = grants.iter().find(|g| g.subject.as_stored() == referrer().subject());
                session.delete_grant(&hospital, grant.unwrap().id).await
            })
            .await
            .unwrap();
        assert_eq!(get(referrer()).await, Code::NotFound);
        assert_eq!(list(referrer()).await, 0);
    }
}

on_both_backends! {
    /// Instance 5: after ReturnReferral the requester still read the plan the referral created.
    async fn returning_a_referral_ends_the_requesters_membership_and_consent(server: TestServer) {
        world(&server).await;
        let sent = send(&server).await;
        server.get_plan(&referrer(), &sent.plan).await;
        server
            .referrals(Some(&staff()))
            .return_referral(proto::ReturnReferralRequest {
                name: sent.name.clone(),
                reason: "Ikke behov for koordinering".into(),
            })
            .await
            .unwrap();
        let read = server
            .plans(Some(&referrer()))
            .get_plan(proto::GetPlanRequest { name: sent.plan.clone(), revision: 0 })
            .await;
        assert_eq!(code(&read), Code::NotFound);
        let plan = server.get_plan(&staff(), &sent.plan).await;
        assert!(plan.consent.is_none(), "the consent the referral recorded ended");
        let members = server
            .members(Some(&staff()))
            .list_members(proto::ListMembersRequest { parent: sent.plan.clone(), ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .members;
        assert!(members.iter().all(|m| m.subject != referrer().subject()));
        // The requester still sees the outcome of their referral.
        let outcome = server
            .referrals(Some(&referrer()))
            .get_referral(proto::GetReferralRequest { name: sent.name.clone() })
            .await
            .unwrap()
            .into_inner()
            .referral
            .unwrap();
        assert_eq!(outcome.status, proto::ReferralStatus::Returned as i32);
    }
}

on_both_backends! {
    /// Instance 6: a referral to a NAV office created a plan in NAV's organisation.
    async fn referrals_go_only_to_municipalities(server: TestServer) {
        world(&server).await;
        let plans = server.row_count("plans").await;
        for not_a_municipality in [NAV, HOSPITAL, COUNTY_GOVERNOR, "974760673", "911000008"] {
            let status = server
                .referrals(Some(&referrer()))
                .create_referral(proto::CreateReferralRequest { referral: Some(referral(not_a_municipality)) })
                .await
                .unwrap_err();
            assert_eq!(violated_fields(&status), ["referral.municipality"], "{not_a_municipality}");
        }
        assert_eq!(server.row_count("plans").await, plans);
        assert_eq!(server.row_count("referrals").await, 0);
        // Plans likewise go only to municipalities and health trusts.
        server.bootstrap_grant(NAV, &Who::Personnel("nav-staff", NAV).subject(), OrgRole::UnitStaff).await;
        let status = server
            .plans(Some(&Who::Personnel("nav-staff", NAV)))
            .create_plan(new_plan_of(NAV, PATIENT))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&status), ["plan.organisation"]);
        // The registry names what patients see.
        let org = server
            .organisations(Some(&Who::Citizen(PATIENT)))
            .get_organisation(proto::GetOrganisationRequest { name: format!("organisations/{MUNICIPALITY}") })
            .await
            .unwrap()
            .into_inner()
            .organisation
            .unwrap();
        assert_eq!(org.display_name, "Nordby kommune");
        assert_eq!(org.kind, proto::OrganisationKind::Municipality as i32);
        let missing = server
            .organisations(Some(&Who::Citizen(PATIENT)))
            .get_organisation(proto::GetOrganisationRequest { name: "organisations/911000008".into() })
            .await;
        assert_eq!(code(&missing), Code::NotFound);
    }
}

on_both_backends! {
    /// Instance 7: the patient read a complaint filed on their behalf and saw the complainant's
    /// identity number.
    async fn a_complainants_identity_number_is_shown_only_to_them(server: TestServer) {
        let plan = world(&server).await;
        let handler = Who::Personnel("handler", MUNICIPALITY);
        server.bootstrap_grant(MUNICIPALITY, &handler.subject(), OrgRole::ComplaintHandler).await;
        let complainant = Who::Citizen(NEXT_OF_KIN);
        let filed = server
            .complaints(Some(&complainant))
            .file_complaint(proto::FileComplaintRequest {
                complaint: Some(proto::Complaint {
                    organisation: MUNICIPALITY.into(),
                    kind: proto::ComplaintKind::NoCoordinator as i32,
                    text: "Min mor har ikke fått koordinator.".into(),
                    learned_of: day(2026, 11, 20),
                    ..Default::default()
                }),
                on_behalf_of: Some(proto::OnBehalfOf {
                    patient_id: PATIENT.into(),
                    relation: proto::RepresentativeRelation::NextOfKin as i32,
                }),
            })
            .await
            .unwrap()
            .into_inner()
            .complaint
            .unwrap();
        assert_eq!(filed.complainant, complainant.subject());
        for reader in [Who::Citizen(PATIENT), handler] {
            let seen = server
                .complaints(Some(&reader))
                .get_complaint(proto::GetComplaintRequest { name: filed.name.clone() })
                .await
                .unwrap()
                .into_inner();
            let complaint = seen.complaint.unwrap();
            assert_eq!(complaint.complainant, "citizen", "{reader:?}");
            assert!(seen.history.iter().all(|e| !e.actor.contains(NEXT_OF_KIN)), "{reader:?}");
        }
        // A plan named in a complaint is answered as GetPlan answers: a stranger cannot tell
        // whose plan an id is by complaining about it.
        let stranger = Who::Citizen(STRANGER);
        let complaints = server.row_count("complaints").await;
        for (name, patient) in [(plan.clone(), PATIENT), (plan.clone(), OTHER_PATIENT), (format!("plans/{}", samvirke::domain::ids::ResourceId::generate()), PATIENT)] {
            let status = server
                .complaints(Some(&stranger))
                .file_complaint(proto::FileComplaintRequest {
                    complaint: Some(proto::Complaint {
                        organisation: MUNICIPALITY.into(),
                        kind: proto::ComplaintKind::Other as i32,
                        text: "x".into(),
                        plan: name,
                        learned_of: day(2026, 11, 20),
                        ..Default::default()
                    }),
                    on_behalf_of: Some(proto::OnBehalfOf {
                        patient_id: patient.into(),
                        relation: proto::RepresentativeRelation::Other as i32,
                    }),
                })
                .await
                .unwrap_err();
            assert_eq!(status.code(), Code::NotFound);
            assert_eq!(status.message(), "plan not found");
        }
        assert_eq!(server.row_count("complaints").await, complaints);
    }
}

on_both_backends! {
    /// Instance 8: RemoveMember ended the coordinator's membership while the appointment
    /// stayed open. And nobody appoints themselves.
    async fn the_coordinator_leaves_only_through_the_coordinator_service(server: TestServer) {
        let plan = world(&server).await;
        let members = server
            .members(Some(&staff()))
            .list_members(proto::ListMembersRequest { parent: plan.clone(), ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .members;
        let membership = members.iter().find(|m| m.role == proto::MemberRole::Coordinator as i32).unwrap();
        for who in [staff(), coordinator()] {
            assert_eq!(remove(&server, &who, &membership.name).await, Code::FailedPrecondition);
        }
        server.get_plan(&coordinator(), &plan).await;
        let other = server.create_plan(&staff(), MUNICIPALITY, OTHER_PATIENT).await;
        let appointed = server
            .coordinators(Some(&staff()))
            .appoint_coordinator(proto::AppointCoordinatorRequest {
                parent: other,
                assignment: Some(staff().as_assignment()),
            })
            .await;
        assert_eq!(code(&appointed), Code::PermissionDenied);
    }
}

on_both_backends! {
    /// Instance 9: AddMember on a closed plan let the new member read it.
    async fn a_closed_plan_takes_no_new_members(server: TestServer) {
        let plan = world(&server).await;
        let meeting = server
            .members(Some(&coordinator()))
            .create_meeting(proto::CreateMeetingRequest {
                parent: plan.clone(),
                meeting: Some(proto::Meeting {
                    start_time: Some(prost_types::Timestamp { seconds: 1_800_000_000, nanos: 0 }),
                    location: "Helsehuset".into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap()
            .into_inner()
            .meeting
            .unwrap();
        server
            .change_status(&coordinator(), &staff(), &plan, proto::PlanStatus::Active, "")
            .await
            .unwrap();
        server
            .change_status(&coordinator(), &staff(), &plan, proto::PlanStatus::Closed, "Flyttet")
            .await
            .unwrap();
        let members = server.row_count("members").await;
        let teacher = Who::Personnel("teacher", SCHOOL);
        let status = add(&server, &staff(), &plan, teacher.as_member(proto::MemberRole::School))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert!(status.message().contains("PLAN_STATUS_CLOSED"));
        let status = add(
            &server,
            &Who::Citizen(PATIENT),
            &plan,
            Who::Citizen(STRANGER).as_member(proto::MemberRole::NextOfKin),
        )
        .await
        .unwrap_err();
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(server.row_count("members").await, members);
        let updated = server
            .members(Some(&coordinator()))
            .update_meeting(proto::UpdateMeetingRequest {
                meeting: Some(proto::Meeting { minutes: "Referat".into(), ..meeting }),
                update_mask: mask(&["minutes"]),
            })
            .await;
        assert_eq!(code(&updated), Code::FailedPrecondition);
    }
}

on_both_backends! {
    /// Instance 10, through the API: an Altinn system user acts for the customer organisation
    /// its token names, not for the vendor.
    async fn a_system_user_acts_for_its_customer(server: TestServer) {
        let plan = world(&server).await;
        // The vendor's system (consumer: the school) serves a NAV office as its system user.
        let vendor = Who::System("vendor-system", SCHOOL);
        server.add_member(&staff(), &plan, &Who::System("vendor-system", NAV), proto::MemberRole::Nav).await;
        let token = server.token_with(
            &vendor,
            serde_json::json!({"authorization_details": [{
                "type": "urn:altinn:systemuser",
                "systemuser_org": {"authority": "iso6523-actorid-upis", "ID": format!("0192:{NAV}")}
            }]}),
        );
        let read = server
            .plans_raw(&format!("Bearer {token}"))
            .get_plan(proto::GetPlanRequest { name: plan.clone(), revision: 0 })
            .await;
        assert_eq!(code(&read), Code::Ok, "acting for NAV, which the membership and consent name");
        let as_vendor = server
            .plans(Some(&vendor))
            .get_plan(proto::GetPlanRequest { name: plan, revision: 0 })
            .await;
        assert_eq!(code(&as_vendor), Code::NotFound, "acting for the school, which serves nowhere");
    }
}

on_both_backends! {
    /// A parent represents a child under 16, reads the plan of a 16- or 17-year-old, and
    /// represents no adult.
    async fn a_parent_acts_for_a_child_until_16_and_reads_until_18(server: TestServer) {
        world(&server).await;
        let today = Date::today_in_norway(Instant::now());
        let child = synthetic_id(today.plus_years(-10).plus_days(-3));
        let teen = synthetic_id(today.plus_years(-17).plus_days(-3));
        let parent = Who::Citizen(NEXT_OF_KIN);
        let mut plans = Vec::new();
        for patient in [child, teen] {
            let plan = server.create_plan(&staff(), MUNICIPALITY, patient).await;
            let member = add(
                &server,
                &staff(),
                &plan,
                representative(&parent.subject(), proto::RepresentativeBasis::Parent),
            )
            .await
            .unwrap();
            assert!(member.end_time.is_some() && member.powers_end_time.is_some());
            plans.push(plan);
        }
        let write = |plan: String| {
            let server = server.clone();
            let parent = parent.clone();
            async move {
                server
                    .update_plan(&parent, &staff(), &plan, &["sections.important_to_me"], |p| {
                        p.sections.get_or_insert_default().important_to_me = "Fotball".into();
                    })
                    .await
            }
        };
        assert_eq!(code(&write(plans[0].clone()).await), Code::Ok, "a parent writes for a child");
        server.get_plan(&parent, &plans[1]).await;
        assert_eq!(code(&write(plans[1].clone()).await), Code::PermissionDenied, "a 17-year-old writes their own words");
        let adult = add(
            &server,
            &staff(),
            &server.create_plan(&staff(), MUNICIPALITY, OTHER_PATIENT).await,
            representative(&parent.subject(), proto::RepresentativeBasis::Parent),
        )
        .await
        .unwrap_err();
        assert_eq!(adult.code(), Code::FailedPrecondition);
    }
}

on_both_backends! {
    /// Found by trying: unit staff recorded an accomplice as the patient's guardian, who then
    /// overruled the patient's withdrawal. A decision the patient made personally is changed
    /// only by the patient, or by whom they gave a power of attorney.
    async fn a_representative_the_unit_recorded_cannot_overrule_the_patient(server: TestServer) {
        let plan = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        let guardian = Who::Citizen(YET_ANOTHER_PATIENT);
        add(&server, &staff(), &plan, representative(&guardian.subject(), proto::RepresentativeBasis::Guardian))
            .await
            .unwrap();
        server.withdraw_consent(&patient, &plan).await;
        let decide = |who: Who| {
            let server = server.clone();
            let plan = plan.clone();
            async move {
                let etag = server.get_plan(&staff(), &plan).await.etag;
                server
                    .plans(Some(&who))
                    .record_consent(proto::RecordConsentRequest {
                        name: plan,
                        etag,
                        consent: Some(proto::Consent {
                            recipients: vec![NAV.into(), SCHOOL.into()],
                            on_behalf: Some(proto::ConsentOnBehalf {
                                given_by: "Verge".into(),
                                reason: "Som verge".into(),
                            }),
                            ..Default::default()
                        }),
                    })
                    .await
            }
        };
        assert_eq!(code(&decide(guardian.clone()).await), Code::FailedPrecondition);
        let nav_reads = server
            .plans(Some(&nav()))
            .get_plan(proto::GetPlanRequest { name: plan.clone(), revision: 0 })
            .await;
        assert_eq!(code(&nav_reads), Code::NotFound);
        // Whom the patient chose may.
        let attorney = Who::Citizen(NEXT_OF_KIN);
        add(&server, &patient, &plan, representative(&attorney.subject(), proto::RepresentativeBasis::PowerOfAttorney))
            .await
            .unwrap();
        assert_eq!(code(&decide(attorney).await), Code::Ok);
        // A decision of the patient's side that the patient did not make personally is the
        // guardian's to change too.
        assert_eq!(code(&decide(guardian).await), Code::Ok);
    }
}

on_both_backends! {
    /// Found by trying: next of kin, who may not see the patient's identity number, guessed it
    /// by naming the plan in complaints with candidate numbers.
    async fn a_complaint_does_not_reveal_the_patients_identity_number(server: TestServer) {
        let plan = world(&server).await;
        let kin = Who::Citizen(NEXT_OF_KIN);
        server.add_member(&staff(), &plan, &kin, proto::MemberRole::NextOfKin).await;
        let file = |patient_id: &str| {
            let server = server.clone();
            let kin = kin.clone();
            let request = proto::FileComplaintRequest {
                complaint: Some(proto::Complaint {
                    organisation: MUNICIPALITY.into(),
                    kind: proto::ComplaintKind::PlanNotFollowed as i32,
                    text: "Planen følges ikke opp.".into(),
                    plan: plan.clone(),
                    learned_of: day(2026, 11, 20),
                    ..Default::default()
                }),
                on_behalf_of: Some(proto::OnBehalfOf {
                    patient_id: patient_id.into(),
                    relation: proto::RepresentativeRelation::NextOfKin as i32,
                }),
            };
            async move { server.complaints(Some(&kin)).file_complaint(request).await }
        };
        let wrong = file(OTHER_PATIENT).await.unwrap_err();
        let right = file(PATIENT).await.unwrap_err();
        assert_eq!(violated_fields(&wrong), ["on_behalf_of.patient_id"]);
        assert_eq!(wrong.message(), right.message());
        let filed = file("").await.unwrap().into_inner().complaint.unwrap();
        assert_eq!(filed.patient_id, "", "the complainant learns no number they did not send");
        let read = server
            .complaints(Some(&Who::Citizen(PATIENT)))
            .get_complaint(proto::GetComplaintRequest { name: filed.name })
            .await
            .unwrap()
            .into_inner()
            .complaint
            .unwrap();
        assert_eq!(read.patient_id, PATIENT, "the complaint concerns the plan's patient");
    }
}

on_both_backends! {
    /// Found by trying: personnel opened a plan, or a referral, for the citizen their own token
    /// names; and a membership could say it began years before the plan.
    async fn nobody_opens_a_plan_for_themselves_or_backdates_a_membership(server: TestServer) {
        let plan = world(&server).await;
        let staff_as_patient = Who::PersonnelWithPid("unit-staff", MUNICIPALITY, OTHER_PATIENT);
        let created = server
            .plans(Some(&staff_as_patient))
            .create_plan(proto::CreatePlanRequest {
                plan: Some(proto::Plan {
                    organisation: MUNICIPALITY.into(),
                    patient_id: OTHER_PATIENT.into(),
                    patient_display_name: "Meg selv".into(),
                    kind: proto::PlanKind::General as i32,
                    ..Default::default()
                }),
            })
            .await;
        assert_eq!(code(&created), Code::PermissionDenied);
        let referrer_as_patient = Who::PersonnelWithPid("discharge-nurse", HOSPITAL, OTHER_PATIENT);
        let referred = server
            .referrals(Some(&referrer_as_patient))
            .create_referral(proto::CreateReferralRequest { referral: Some(referral(MUNICIPALITY)) })
            .await;
        assert_eq!(code(&referred), Code::PermissionDenied);
        let mut backdated = Who::Personnel("teacher", SCHOOL).as_member(proto::MemberRole::School);
        backdated.start_time = Some(prost_types::Timestamp { seconds: 1_577_836_800, nanos: 0 });
        let status = add(&server, &staff(), &plan, backdated).await.unwrap_err();
        assert_eq!(violated_fields(&status), ["member.start_time"]);
    }
}

on_both_backends! {
    /// A child coordinator (barnekoordinator, pbrl § 2-5 c): the plan's patient is the child,
    /// a parent serves as representative with basis PARENT, and the appointment is of kind
    /// CHILD; an adult patient cannot have one.
    async fn a_family_gets_a_child_coordinator(server: TestServer) {
        world(&server).await;
        let today = Date::today_in_norway(Instant::now());
        let child = synthetic_id(today.plus_years(-6).plus_days(-3));
        let parent = Who::Citizen(NEXT_OF_KIN);
        let plan = server.create_plan(&staff(), MUNICIPALITY, child).await;
        let parents = representative(&parent.subject(), proto::RepresentativeBasis::Parent);
        add(&server, &staff(), &plan, parents).await.unwrap();
        let child_coordinator = proto::CoordinatorAssignment {
            kind: proto::CoordinatorKind::Child as i32,
            ..coordinator().as_assignment()
        };
        let appointed = server
            .coordinators(Some(&staff()))
            .appoint_coordinator(proto::AppointCoordinatorRequest {
                parent: plan.clone(),
                assignment: Some(child_coordinator.clone()),
            })
            .await
            .unwrap()
            .into_inner()
            .assignment
            .unwrap();
        assert_eq!(appointed.kind, proto::CoordinatorKind::Child as i32);
        // The parent sees the child's plan and its child coordinator.
        assert_eq!(server.get_plan(&parent, &plan).await.name, plan);
        let seen = server.plan_assignments(&parent, &plan).await;
        assert_eq!(seen[0].assignment.as_ref().unwrap().kind, proto::CoordinatorKind::Child as i32);
        // An adult's plan gets a general coordinator only; a kind the contract lacks is named.
        let adult = server.create_plan(&staff(), MUNICIPALITY, YET_ANOTHER_PATIENT).await;
        let appoint = |assignment: proto::CoordinatorAssignment| {
            let server = server.clone();
            let adult = adult.clone();
            async move {
                server
                    .coordinators(Some(&staff()))
                    .appoint_coordinator(proto::AppointCoordinatorRequest {
                        parent: adult,
                        assignment: Some(assignment),
                    })
                    .await
            }
        };
        assert_eq!(code(&appoint(child_coordinator.clone()).await), Code::FailedPrecondition);
        let unknown = proto::CoordinatorAssignment { kind: 9, ..child_coordinator };
        let refused = appoint(unknown).await.unwrap_err();
        assert_eq!(violated_fields(&refused), ["assignment.kind"]);
        let general = appoint(coordinator().as_assignment()).await.unwrap().into_inner();
        assert_eq!(general.assignment.unwrap().kind, proto::CoordinatorKind::General as i32);
    }
}
