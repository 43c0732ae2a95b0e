//! What an attacker found after the one-path-per-RPC step, tried from outside: each instance a
//! named test, on both databases.

use samvirke::domain::organisation::OrgRole;
use samvirke::proto;
use tonic::Code;

use super::common::*;

/// The patient's plan in the municipality, with a coordinator who has scheduled a meeting;
/// returns the plan, the coordinator and the meeting.
async fn world(server: &TestServer) -> (String, Who, proto::Meeting) {
    server.bootstrap_grant(MUNICIPALITY, &staff().subject(), OrgRole::UnitStaff).await;
    let plan = server.create_plan(&staff(), MUNICIPALITY, PATIENT).await;
    let coordinator = Who::Personnel("coordinator", MUNICIPALITY);
    let membership = server.appoint_coordinator(&staff(), &plan, &coordinator).await;
    let meeting = server
        .members(Some(&coordinator))
        .create_meeting(proto::CreateMeetingRequest {
            parent: plan.clone(),
            meeting: Some(proto::Meeting {
                start_time: Some(prost_types::Timestamp { seconds: 1_795_000_000, nanos: 0 }),
                location: "Helsehuset".into(),
                invited_members: vec![membership.member],
                ..Default::default()
            }),
        })
        .await
        .expect("scheduling a meeting")
        .into_inner()
        .meeting
        .unwrap();
    (plan, coordinator, meeting)
}

on_both_backends! {
    /// F1: a complaint against one organisation could name another organisation's plan, which
    /// then showed in the first one's handlers' lists with the patient's identity number.
    async fn a_complaint_names_only_a_plan_of_the_organisation_it_is_against(server: TestServer) {
        let (plan, _, _) = world(&server).await;
        let filed = server
            .complaints(Some(&Who::Citizen(PATIENT)))
            .file_complaint(proto::FileComplaintRequest {
                complaint: Some(proto::Complaint {
                    organisation: OTHER_MUNICIPALITY.into(),
                    kind: proto::ComplaintKind::PlanNotFollowed as i32,
                    text: "Planen følges ikke".into(),
                    plan: plan.clone(),
                    learned_of: day(2026, 11, 20),
                    ..Default::default()
                }),
                on_behalf_of: None,
            })
            .await
            .unwrap_err();
        assert_eq!(filed.code(), Code::InvalidArgument);
        assert_eq!(violated_fields(&filed), ["complaint.plan"]);
        assert_eq!(server.row_count("complaints").await, 0);
    }
}

on_both_backends! {
    /// F3: with a stale etag, bad input was answered ABORTED; what the caller sent is judged
    /// first, so they learn what to mend before reading again.
    async fn bad_input_is_told_before_a_stale_etag(server: TestServer) {
        let (plan, coordinator, meeting) = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        let mut input = server.get_plan(&patient, &plan).await;
        let etag = input.etag.clone();
        input.etag = "999".into();
        input.sections.get_or_insert_default().important_to_me = "\u{0}".into();
        let section = server
            .plans(Some(&patient))
            .update_plan(proto::UpdatePlanRequest {
                plan: Some(input),
                update_mask: mask(&["sections.important_to_me"]),
            })
            .await
            .unwrap_err();
        assert_eq!(section.code(), Code::InvalidArgument);
        assert_eq!(violated_fields(&section), ["plan.sections.important_to_me"]);

        let consent = server
            .plans(Some(&patient))
            .record_consent(proto::RecordConsentRequest {
                name: plan.clone(),
                etag: "999".into(),
                consent: Some(proto::Consent { recipients: vec!["abc".into()], ..Default::default() }),
            })
            .await
            .unwrap_err();
        assert_eq!(consent.code(), Code::InvalidArgument);
        assert_eq!(violated_fields(&consent), ["consent.recipients[0]"]);

        let link = server
            .members(Some(&coordinator))
            .update_meeting(proto::UpdateMeetingRequest {
                meeting: Some(proto::Meeting {
                    video_link: "http://insecure.example/room".into(),
                    etag: "999".into(),
                    ..meeting.clone()
                }),
                update_mask: mask(&["video_link"]),
            })
            .await
            .unwrap_err();
        assert_eq!(link.code(), Code::InvalidArgument);
        assert_eq!(violated_fields(&link), ["meeting.video_link"]);
        assert_eq!(server.get_plan(&patient, &plan).await.etag, etag, "nothing was written");
    }
}

on_both_backends! {
    /// F4: an unknown update-mask path came back in the error as the caller wrote it, so an
    /// identity number in it reached error messages.
    async fn an_unknown_mask_path_is_not_repeated_in_the_error(server: TestServer) {
        let (plan, _, _) = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        let input = server.get_plan(&patient, &plan).await;
        let refused = server
            .plans(Some(&patient))
            .update_plan(proto::UpdatePlanRequest {
                plan: Some(input),
                update_mask: mask(&[&format!("pid{PATIENT}")]),
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert!(!refused.message().contains(PATIENT), "{}", refused.message());
        assert!(!String::from_utf8_lossy(refused.details()).contains(PATIENT));
    }
}

on_both_backends! {
    /// The subjects of personnel and systems are logged and traced by name, so one holding an
    /// identity number is refused where it is granted a role.
    async fn a_subject_holding_an_identity_number_gets_no_role(server: TestServer) {
        let admin = Who::Personnel("admin", MUNICIPALITY);
        server.bootstrap_grant(MUNICIPALITY, &admin.subject(), OrgRole::Admin).await;
        let refused = server
            .organisations(Some(&admin))
            .grant_role(proto::GrantRoleRequest {
                parent: format!("organisations/{MUNICIPALITY}"),
                role_grant: Some(proto::RoleGrant {
                    subject: format!("personnel:{PATIENT}"),
                    role: proto::OrganisationRole::UnitStaff as i32,
                    ..Default::default()
                }),
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert_eq!(violated_fields(&refused), ["role_grant.subject"]);
    }
}

on_both_backends! {
    /// F6: the local rule barring ward staff was asked only in the organisation the appointment
    /// named, so naming another one stepped around a role held in the plan's own. Now an
    /// appointment names the plan's own organisation or is refused (the attacker on transfers:
    /// naming another one also kept the old organisation's coordinator on a moved plan), and
    /// the rule is asked there.
    async fn ward_staff_of_the_plans_organisation_are_barred_whatever_they_name(server: TestServer) {
        let staff = Who::Personnel("hospital-unit-staff", HOSPITAL);
        server.bootstrap_grant(HOSPITAL, &staff.subject(), OrgRole::UnitStaff).await;
        let plan = server.create_plan(&staff, HOSPITAL, PATIENT).await;
        let nurse = Who::Personnel("ward-nurse", HOSPITAL);
        server.bootstrap_grant(HOSPITAL, &nurse.subject(), OrgRole::WardStaff).await;
        let appoint = |who: Who| {
            let mut client = server.coordinators(Some(&staff));
            let parent = plan.clone();
            async move {
                let assignment = Some(who.as_assignment());
                client.appoint_coordinator(proto::AppointCoordinatorRequest { parent, assignment }).await
            }
        };
        let elsewhere = appoint(Who::Personnel("ward-nurse", MUNICIPALITY)).await.unwrap_err();
        assert_eq!(violated_fields(&elsewhere), ["assignment.organisation"]);
        let barred = appoint(nurse).await.unwrap_err();
        assert_eq!(barred.code(), Code::FailedPrecondition);
        assert!(barred.message().contains("local rule"), "{}", barred.message());
        assert_eq!(server.row_count("coordinator_assignments").await, 0);
    }
}

on_both_backends! {
    /// F6: a member could be added acting for an organisation no registry holds.
    async fn a_member_acts_for_an_organisation_of_the_registry(server: TestServer) {
        let (plan, coordinator, _) = world(&server).await;
        let members = server.row_count("members").await;
        let refused = server
            .members(Some(&coordinator))
            .add_member(proto::AddMemberRequest {
                parent: plan.clone(),
                member: Some(Who::Personnel("nobody", "999999999").as_member(proto::MemberRole::Other)),
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert_eq!(violated_fields(&refused), ["member.organisation"]);
        assert_eq!(server.row_count("members").await, members);
    }
}

on_both_backends! {
    /// The same for a change to one item: a measure whose new end comes before its start, sent
    /// with a stale etag, is told about the dates, not the etag.
    async fn an_items_bad_input_is_told_before_a_stale_etag(server: TestServer) {
        let (plan, coordinator, meeting) = world(&server).await;
        let goal = server.create_goal(&Who::Citizen(PATIENT), &plan, "Gå tur", 1).await.unwrap();
        let member = &meeting.invited_members[0];
        let measure = server
            .create_measure(&coordinator, &plan, &goal.name, member, "Turgruppe")
            .await
            .unwrap();
        let refused = server
            .measures(Some(&coordinator))
            .update_measure(proto::UpdateMeasureRequest {
                measure: Some(proto::Measure {
                    end_date: day(2026, 1, 1),
                    etag: "999".into(),
                    ..measure.clone()
                }),
                update_mask: mask(&["end_date"]),
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert_eq!(violated_fields(&refused), ["measure.end_date"]);
        let read = server.get_measure(&coordinator, &measure.name).await;
        assert_eq!(read.etag, measure.etag, "nothing was written");
    }
}
