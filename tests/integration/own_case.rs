//! Nobody handles their own case in an official role (forvaltningsloven § 6 first paragraph
//! a): personnel whose token names their own identity number (HelseID's `pid`) keep their
//! roles for reading, but every act their roles would allow on a case they are a party to
//! (their own plan, a complaint they filed or that concerns them, a referral of themselves) is
//! `PERMISSION_DENIED` and changes nothing, while a colleague without the conflict does it.
//! Found by the re-attacker after issue 14 (F2, F3).

use samvirke::domain::organisation::OrgRole;
use samvirke::proto;
use tonic::Code;

use super::common::*;

/// The handler, the complaint authority's jurist and unit staff, granted their roles.
async fn roles(server: &TestServer) {
    let grants = [
        (MUNICIPALITY, "handler", OrgRole::ComplaintHandler),
        (COUNTY_GOVERNOR, "jurist", OrgRole::ComplaintAuthority),
        (MUNICIPALITY, "unit-staff", OrgRole::UnitStaff),
        (HOSPITAL, "discharge-nurse", OrgRole::Referrer),
    ];
    for (org, sub, role) in grants {
        server.bootstrap_grant(org, &Who::Personnel(sub, org).subject(), role).await;
    }
}

fn refused_as_own_case(status: &tonic::Status) {
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains("own case"), "{}", status.message());
}

/// A complaint of NO_COORDINATOR by `by` against the municipality, on behalf of PATIENT when
/// `by` is not the patient.
async fn file(server: &TestServer, by: &Who) -> proto::Complaint {
    let on_behalf_of = match by {
        Who::Citizen(pid) if *pid == PATIENT => None,
        _ => Some(proto::OnBehalfOf {
            patient_id: PATIENT.into(),
            relation: proto::RepresentativeRelation::NextOfKin as i32,
        }),
    };
    server
        .complaints(Some(by))
        .file_complaint(proto::FileComplaintRequest {
            complaint: Some(proto::Complaint {
                organisation: MUNICIPALITY.into(),
                kind: proto::ComplaintKind::NoCoordinator as i32,
                text: "Jeg har ikke fått koordinator.".into(),
                learned_of: Some(day_before_yesterday()),
                ..Default::default()
            }),
            on_behalf_of,
        })
        .await
        .expect("filing")
        .into_inner()
        .complaint
        .unwrap()
}

fn day_before_yesterday() -> proto::Date {
    let today =
        samvirke::domain::date::Date::today_in_norway(samvirke::domain::time::Instant::now());
    let (year, month, day) = today.plus_days(-2).parts();
    proto::Date { year, month: month as i32, day: day as i32 }
}

async fn start_review(server: &TestServer, by: &Who, name: &str) -> Result<(), tonic::Status> {
    let request = proto::StartComplaintReviewRequest { name: name.into(), etag: String::new() };
    server.complaints(Some(by)).start_complaint_review(request).await.map(|_| ())
}

on_both_backends! {
    /// F2: a complaint handler who is the complainant, or the patient the complaint concerns,
    /// could review and decide it; the county governor's jurist likewise.
    async fn a_handler_does_not_handle_their_own_complaint(server: TestServer) {
        roles(&server).await;
        let patient_at_work = Who::PersonnelWithPid("handler", MUNICIPALITY, PATIENT);
        let filed = file(&server, &Who::Citizen(PATIENT)).await;
        // They read it: reading is not handling.
        let read = server
            .complaints(Some(&patient_at_work))
            .get_complaint(proto::GetComplaintRequest { name: filed.name.clone() })
            .await;
        assert_eq!(code(&read), Code::Ok);
        refused_as_own_case(&start_review(&server, &patient_at_work, &filed.name).await.unwrap_err());
        // The complainant who files for someone else is a party too.
        let on_behalf = file(&server, &Who::Citizen(NEXT_OF_KIN)).await;
        let complainant_at_work = Who::PersonnelWithPid("handler", MUNICIPALITY, NEXT_OF_KIN);
        let review = start_review(&server, &complainant_at_work, &on_behalf.name).await;
        refused_as_own_case(&review.unwrap_err());
        // A colleague without the conflict reviews, reconsiders and forwards.
        let handler = Who::Personnel("handler", MUNICIPALITY);
        start_review(&server, &handler, &filed.name).await.unwrap();
        let complaints = server.complaints(Some(&handler));
        let mut complaints = complaints;
        complaints
            .reconsider_complaint(proto::ReconsiderComplaintRequest {
                name: filed.name.clone(),
                outcome: proto::ComplaintDecision::NotUpheld as i32,
                text: "Vi mener koordinator er oppnevnt.".into(),
                etag: String::new(),
            })
            .await
            .unwrap();
        complaints
            .forward_complaint(proto::ForwardComplaintRequest {
                name: filed.name.clone(),
                authority: COUNTY_GOVERNOR.into(),
                assessment: "Kommunens vurdering.".into(),
                etag: String::new(),
            })
            .await
            .unwrap();
        let decide = |who: Who| {
            let mut client = server.complaints(Some(&who));
            let name = filed.name.clone();
            async move {
                client
                    .decide_complaint(proto::DecideComplaintRequest {
                        name,
                        decision: proto::ComplaintDecision::Upheld as i32,
                        reasons: "Kommunen skal oppnevne koordinator.".into(),
                        etag: String::new(),
                    })
                    .await
            }
        };
        let own = decide(Who::PersonnelWithPid("jurist", COUNTY_GOVERNOR, PATIENT)).await;
        refused_as_own_case(&own.unwrap_err());
        let forwarded = server
            .complaints(Some(&handler))
            .get_complaint(proto::GetComplaintRequest { name: filed.name.clone() })
            .await
            .unwrap()
            .into_inner()
            .complaint
            .unwrap();
        assert_eq!(forwarded.state, proto::ComplaintState::Forwarded as i32, "nothing changed");
        decide(Who::Personnel("jurist", COUNTY_GOVERNOR)).await.expect("the jurist decides");
    }
}

on_both_backends! {
    /// F3: unit staff whose own identity number is the patient's recorded consent on the
    /// patient's behalf, and accepted a referral of themselves, appointing their coordinator.
    async fn unit_staff_do_not_act_on_their_own_plan_or_referral(server: TestServer) {
        roles(&server).await;
        let plan = server.create_plan(&staff(), MUNICIPALITY, PATIENT).await;
        let patient_at_work = Who::PersonnelWithPid("unit-staff", MUNICIPALITY, PATIENT);
        // They read the plan, as their role lets them.
        let before = server.get_plan(&patient_at_work, &plan).await;
        let recorded = server
            .plans(Some(&patient_at_work))
            .record_consent(proto::RecordConsentRequest {
                name: plan.clone(),
                etag: before.etag.clone(),
                consent: Some(proto::Consent {
                    recipients: vec![NAV.into()],
                    on_behalf: Some(proto::ConsentOnBehalf {
                        given_by: "Meg selv".into(),
                        reason: "Pasienten var for syk".into(),
                    }),
                    ..Default::default()
                }),
            })
            .await;
        refused_as_own_case(&recorded.unwrap_err());
        assert_eq!(server.get_plan(&staff(), &plan).await.etag, before.etag, "nothing changed");
        let appointed = server
            .coordinators(Some(&patient_at_work))
            .appoint_coordinator(proto::AppointCoordinatorRequest {
                parent: plan.clone(),
                assignment: Some(coordinator().as_assignment()),
            })
            .await;
        refused_as_own_case(&appointed.unwrap_err());

        let referred = server.refer(&Who::Personnel("discharge-nurse", HOSPITAL), OTHER_PATIENT).await;
        let other_at_work = Who::PersonnelWithPid("unit-staff", MUNICIPALITY, OTHER_PATIENT);
        let accept = |who: Who| {
            let mut client = server.referrals(Some(&who));
            let name = referred.name.clone();
            async move {
                client
                    .accept_referral(proto::AcceptReferralRequest {
                        name,
                        coordinator: Some(coordinator().as_assignment()),
                        comment: String::new(),
                    })
                    .await
            }
        };
        refused_as_own_case(&accept(other_at_work).await.unwrap_err());
        assert_eq!(server.row_count("coordinator_assignments").await, 0);
        accept(staff()).await.expect("a colleague accepts");
        assert_eq!(server.row_count("coordinator_assignments").await, 1);
    }
}

on_both_backends! {
    /// Found by the attacker after the above: the relations an office gives (coordinator, the
    /// member responsible for a measure) still let an official act on their own plan, since
    /// the appointment could not know whose person the subject is. In their own case they
    /// read, and act only as the citizen they are.
    async fn an_official_relation_does_not_act_on_ones_own_plan(server: TestServer) {
        roles(&server).await;
        let plan = server.create_plan(&staff(), MUNICIPALITY, PATIENT).await;
        let membership = server.appoint_coordinator(&staff(), &plan, &coordinator()).await.member;
        let patient = Who::Citizen(PATIENT);
        let goal = server.create_goal(&patient, &plan, "Gå til butikken", 1).await.unwrap();
        let measure = server
            .create_measure(&coordinator(), &plan, &goal.name, &membership, "Følge")
            .await
            .unwrap();
        let patient_as_coordinator = Who::PersonnelWithPid("coordinator", MUNICIPALITY, PATIENT);
        let read = server.get_plan(&patient_as_coordinator, &plan).await;
        let review = server
            .update_plan(&patient_as_coordinator, &patient_as_coordinator, &plan, &["next_review_date"], |p| {
                p.next_review_date = day(2027, 3, 1);
            })
            .await;
        refused_as_own_case(&review.unwrap_err());
        let meeting = server
            .members(Some(&patient_as_coordinator))
            .create_meeting(proto::CreateMeetingRequest {
                parent: plan.clone(),
                meeting: Some(proto::Meeting {
                    start_time: Some(prost_types::Timestamp { seconds: 1_795_000_000, nanos: 0 }),
                    location: "Helsehuset".into(),
                    ..Default::default()
                }),
            })
            .await;
        refused_as_own_case(&meeting.unwrap_err());
        // Responsible for the measure, they still do not evaluate it.
        let evaluated = server
            .evaluate_measure(&patient_as_coordinator, &patient_as_coordinator, &measure.name, "Bra")
            .await;
        refused_as_own_case(&evaluated.unwrap_err());
        assert_eq!(server.get_plan(&patient, &plan).await.revision, read.revision, "nothing changed");
        // The coordinator without the conflict does all of it.
        server
            .evaluate_measure(&coordinator(), &coordinator(), &measure.name, "Bra")
            .await
            .expect("the coordinator evaluates");
    }
}
