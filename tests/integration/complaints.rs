//! ComplaintService: the authorization matrix for complaints, the whole path from filing to the
//! county governor's decision, and bad input.

use samvirke::domain::organisation::OrgRole;
use samvirke::proto;
use tonic::Code;

use super::common::*;

const CALLERS: [&str; 11] = [
    "complainant",
    "representative",
    "patient_of_representative",
    "handler",
    "handler_other_org",
    "complaint_authority",
    "plan_coordinator",
    "plan_member",
    "unit_staff",
    "stranger",
    "no_token",
];

fn caller(name: &str) -> Option<Who> {
    Some(match name {
        "complainant" => Who::Citizen(PATIENT),
        "representative" => Who::Citizen(NEXT_OF_KIN),
        "patient_of_representative" => Who::Citizen(OTHER_PATIENT),
        "handler" => Who::Personnel("handler", MUNICIPALITY),
        "handler_other_org" => Who::Personnel("handler-b", OTHER_MUNICIPALITY),
        "complaint_authority" => Who::Personnel("jurist", COUNTY_GOVERNOR),
        "plan_coordinator" => Who::Personnel("coordinator", MUNICIPALITY),
        "plan_member" => Who::Personnel("nav-adviser", NAV),
        "unit_staff" => Who::Personnel("unit-staff", MUNICIPALITY),
        "stranger" => Who::Citizen(STRANGER),
        "no_token" => return None,
        other => panic!("unknown caller {other}"),
    })
}

fn who(name: &str) -> Who {
    caller(name).unwrap()
}

/// Roles, and the patient's plan with a coordinator and a NAV member on it.
async fn world(server: &TestServer) -> String {
    let grants = [
        (MUNICIPALITY, "handler", OrgRole::ComplaintHandler),
        (OTHER_MUNICIPALITY, "handler_other_org", OrgRole::ComplaintHandler),
        (COUNTY_GOVERNOR, "complaint_authority", OrgRole::ComplaintAuthority),
        (MUNICIPALITY, "unit_staff", OrgRole::UnitStaff),
    ];
    for (org, name, role) in grants {
        server.bootstrap_grant(org, &who(name).subject(), role).await;
    }
    let staff = who("unit_staff");
    let plan = server.create_plan(&staff, MUNICIPALITY, PATIENT).await;
    server
        .add_member(&staff, &plan, &who("plan_coordinator"), proto::MemberRole::Coordinator)
        .await;
    server.add_member(&staff, &plan, &who("plan_member"), proto::MemberRole::Nav).await;
    plan
}

fn days_ago(days: i64) -> proto::Date {
    let date =
        samvirke::domain::date::Date::today_in_norway(samvirke::domain::time::Instant::now())
            .plus_days(-days);
    let (year, month, day) = date.parts();
    proto::Date { year, month: month as i32, day: day as i32 }
}

fn complaint(
    org: &str,
    kind: proto::ComplaintKind,
    plan: &str,
    learned_of: proto::Date,
) -> proto::Complaint {
    proto::Complaint {
        organisation: org.into(),
        kind: kind as i32,
        text: "Jeg har ikke fått koordinator.".into(),
        plan: plan.into(),
        learned_of: Some(learned_of),
        ..Default::default()
    }
}

fn on_behalf(patient: &str) -> Option<proto::OnBehalfOf> {
    Some(proto::OnBehalfOf {
        patient_id: patient.into(),
        relation: proto::RepresentativeRelation::NextOfKin as i32,
    })
}

/// Files as `by`, against `org`; `for_patient` when filing on someone's behalf.
async fn file(
    server: &TestServer,
    by: &Who,
    org: &str,
    for_patient: Option<&str>,
) -> proto::Complaint {
    server
        .complaints(Some(by))
        .file_complaint(proto::FileComplaintRequest {
            complaint: Some(complaint(org, proto::ComplaintKind::NoCoordinator, "", days_ago(3))),
            on_behalf_of: for_patient.and_then(on_behalf),
        })
        .await
        .expect("filing")
        .into_inner()
        .complaint
        .unwrap()
}

async fn start_review(server: &TestServer, name: &str) {
    server
        .complaints(Some(&who("handler")))
        .start_complaint_review(proto::StartComplaintReviewRequest {
            name: name.into(),
            etag: String::new(),
        })
        .await
        .expect("starting the review");
}

async fn not_uphold(server: &TestServer, name: &str) {
    start_review(server, name).await;
    server
        .complaints(Some(&who("handler")))
        .reconsider_complaint(proto::ReconsiderComplaintRequest {
            name: name.into(),
            outcome: proto::ComplaintDecision::NotUpheld as i32,
            text: "Vi mener koordinator er oppnevnt.".into(),
            etag: String::new(),
        })
        .await
        .expect("reconsidering");
}

async fn forward(server: &TestServer, name: &str) {
    not_uphold(server, name).await;
    server
        .complaints(Some(&who("handler")))
        .forward_complaint(proto::ForwardComplaintRequest {
            name: name.into(),
            authority: COUNTY_GOVERNOR.into(),
            assessment: "Kommunens vurdering.".into(),
            etag: String::new(),
        })
        .await
        .expect("forwarding");
}

type Row = [Code; 11];

fn check(rpc: &str, target: &str, expected: &Row, actual: &[Code]) {
    check_matrix_row(&CALLERS, rpc, target, expected, actual);
}

//                                 cmpl rep  pat  hand hoth auth coor memb staf strg none
const READ_OWN: Row = [OK, NF, NF, OK, NF, NF, NF, NF, NF, NF, UA];
const READ_BY_REPRESENTATIVE: Row = [NF, OK, OK, OK, NF, NF, NF, NF, NF, NF, UA];
const READ_FORWARDED: Row = [OK, NF, NF, OK, NF, OK, NF, NF, NF, NF, UA];
const READ_OTHER_ORG: Row = [OK, NF, NF, NF, OK, NF, NF, NF, NF, NF, UA];
const HANDLE: Row = [PD, NF, NF, OK, NF, NF, NF, NF, NF, NF, UA];
const DECIDE: Row = [PD, NF, NF, PD, NF, OK, NF, NF, NF, NF, UA];
const WITHDRAW_OWN: Row = [OK, NF, NF, PD, NF, NF, NF, NF, NF, NF, UA];
const WITHDRAW_BY_REPRESENTATIVE: Row = [NF, OK, OK, PD, NF, NF, NF, NF, NF, NF, UA];
const FILE: Row = [OK, OK, OK, PD, PD, PD, PD, PD, PD, OK, UA];

/// Which of (own, by representative, forwarded, other org) each caller lists.
const LISTED: [Option<[bool; 4]>; 11] = [
    Some([true, false, true, true]),
    Some([false, true, false, false]),
    Some([false, true, false, false]),
    Some([true, true, true, false]),
    Some([false, false, false, true]),
    Some([false, false, true, false]),
    Some([false, false, false, false]),
    Some([false, false, false, false]),
    Some([false, false, false, false]),
    Some([false, false, false, false]),
    None,
];

on_both_backends! {
    async fn reading_matrix(server: TestServer) {
        world(&server).await;
        let own = file(&server, &who("complainant"), MUNICIPALITY, None).await.name;
        let by_rep = file(&server, &who("representative"), MUNICIPALITY, Some(OTHER_PATIENT)).await.name;
        let forwarded = file(&server, &who("complainant"), MUNICIPALITY, None).await.name;
        forward(&server, &forwarded).await;
        let other_org = file(&server, &who("complainant"), OTHER_MUNICIPALITY, None).await.name;
        let targets = [
            ("own complaint", &own, READ_OWN),
            ("complaint by a representative", &by_rep, READ_BY_REPRESENTATIVE),
            ("forwarded complaint", &forwarded, READ_FORWARDED),
            ("complaint against another org", &other_org, READ_OTHER_ORG),
        ];
        for (target, name, expected) in targets {
            let mut got = Vec::new();
            for c in CALLERS {
                got.push(code(
                    &server
                        .complaints(caller(c).as_ref())
                        .get_complaint(proto::GetComplaintRequest { name: name.clone() })
                        .await,
                ));
            }
            check("GetComplaint", target, &expected, &got);
        }
        let all = [&own, &by_rep, &forwarded, &other_org];
        for (c, expected) in CALLERS.iter().zip(LISTED) {
            let listed = server
                .complaints(caller(c).as_ref())
                .list_complaints(proto::ListComplaintsRequest::default())
                .await;
            match expected {
                None => assert_eq!(code(&listed), UA),
                Some(visible) => {
                    let names: Vec<String> =
                        listed.unwrap().into_inner().complaints.into_iter().map(|x| x.name).collect();
                    let wanted: Vec<String> = all
                        .iter()
                        .zip(visible)
                        .filter(|(_, v)| *v)
                        .map(|(n, _)| (*n).clone())
                        .collect();
                    assert_eq!(names, wanted, "ListComplaints as {c}");
                }
            }
        }
    }
}

on_both_backends! {
    async fn handling_matrix(server: TestServer) {
        world(&server).await;
        let (mut filed, mut review, mut reconsider, mut fwd, mut decide) = (vec![], vec![], vec![], vec![], vec![]);
        let (mut withdraw_own, mut withdraw_rep) = (vec![], vec![]);
        for c in CALLERS {
            let as_caller = caller(c);
            let before = server.row_count("complaints").await;
            let result = server
                .complaints(as_caller.as_ref())
                .file_complaint(proto::FileComplaintRequest {
                    complaint: Some(complaint(MUNICIPALITY, proto::ComplaintKind::Other, "", days_ago(1))),
                    on_behalf_of: on_behalf(YET_ANOTHER_PATIENT),
                })
                .await;
            if result.is_err() {
                assert_eq!(server.row_count("complaints").await, before, "{c} filing wrote");
            }
            filed.push(code(&result));

            let name = file(&server, &who("complainant"), MUNICIPALITY, None).await.name;
            review.push(code(
                &server
                    .complaints(as_caller.as_ref())
                    .start_complaint_review(proto::StartComplaintReviewRequest { name, etag: String::new() })
                    .await,
            ));

            let name = file(&server, &who("complainant"), MUNICIPALITY, None).await.name;
            start_review(&server, &name).await;
            reconsider.push(code(
                &server
                    .complaints(as_caller.as_ref())
                    .reconsider_complaint(proto::ReconsiderComplaintRequest {
                        name,
                        outcome: proto::ComplaintDecision::Upheld as i32,
                        text: "Koordinator er nå oppnevnt.".into(),
                        etag: String::new(),
                    })
                    .await,
            ));

            let name = file(&server, &who("complainant"), MUNICIPALITY, None).await.name;
            not_uphold(&server, &name).await;
            fwd.push(code(
                &server
                    .complaints(as_caller.as_ref())
                    .forward_complaint(proto::ForwardComplaintRequest {
                        name,
                        authority: COUNTY_GOVERNOR.into(),
                        assessment: "Vurdering.".into(),
                        etag: String::new(),
                    })
                    .await,
            ));

            let name = file(&server, &who("complainant"), MUNICIPALITY, None).await.name;
            forward(&server, &name).await;
            let events_before = server.row_count("complaint_events").await;
            let decided = server
                .complaints(as_caller.as_ref())
                .decide_complaint(proto::DecideComplaintRequest {
                    name,
                    decision: proto::ComplaintDecision::Upheld as i32,
                    reasons: "Klagen tas til følge.".into(),
                    etag: String::new(),
                })
                .await;
            if decided.is_err() {
                assert_eq!(server.row_count("complaint_events").await, events_before, "{c} decide wrote");
            }
            decide.push(code(&decided));

            let name = file(&server, &who("complainant"), MUNICIPALITY, None).await.name;
            withdraw_own.push(code(
                &server
                    .complaints(as_caller.as_ref())
                    .withdraw_complaint(proto::WithdrawComplaintRequest { name, reason: String::new(), etag: String::new() })
                    .await,
            ));
            let name = file(&server, &who("representative"), MUNICIPALITY, Some(OTHER_PATIENT)).await.name;
            withdraw_rep.push(code(
                &server
                    .complaints(as_caller.as_ref())
                    .withdraw_complaint(proto::WithdrawComplaintRequest { name, reason: String::new(), etag: String::new() })
                    .await,
            ));
        }
        check("FileComplaint", "the municipality", &FILE, &filed);
        check("StartComplaintReview", "a submitted complaint", &HANDLE, &review);
        check("ReconsiderComplaint", "a complaint under review", &HANDLE, &reconsider);
        check("ForwardComplaint", "a complaint not upheld", &HANDLE, &fwd);
        check("DecideComplaint", "a forwarded complaint", &DECIDE, &decide);
        check("WithdrawComplaint", "own complaint", &WITHDRAW_OWN, &withdraw_own);
        check("WithdrawComplaint", "a representative's complaint", &WITHDRAW_BY_REPRESENTATIVE, &withdraw_rep);
    }
}

fn state(c: &proto::Complaint) -> proto::ComplaintState {
    proto::ComplaintState::try_from(c.state).unwrap()
}

on_both_backends! {
    async fn from_a_late_filing_to_the_organisation_putting_it_right(server: TestServer) {
        let plan = world(&server).await;
        let patient = who("complainant");
        let handler = who("handler");
        let authority = who("complaint_authority");

        // Filed late: learned of it 60 days ago, the deadline was four weeks after.
        let filed = server
            .complaints(Some(&patient))
            .file_complaint(proto::FileComplaintRequest {
                complaint: Some(complaint(MUNICIPALITY, proto::ComplaintKind::PlanNotFollowed, &plan, days_ago(60))),
                on_behalf_of: None,
            })
            .await
            .unwrap()
            .into_inner()
            .complaint
            .unwrap();
        assert!(filed.late, "a complaint 60 days after is late");
        assert_eq!(filed.deadline, Some(days_ago(32)));
        assert_eq!(state(&filed), proto::ComplaintState::Submitted);
        assert_eq!(filed.patient_id, PATIENT);
        assert_eq!(filed.plan, plan);
        let name = filed.name.clone();

        // The handler's work list shows it.
        let work = server
            .complaints(Some(&handler))
            .list_complaints(proto::ListComplaintsRequest { awaiting_organisation: true, ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .complaints;
        assert_eq!(work.len(), 1);
        let old = server
            .complaints(Some(&handler))
            .list_complaints(proto::ListComplaintsRequest { waiting_longer_than_days: 30, ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .complaints;
        assert!(old.is_empty(), "filed today is not waiting 30 days");

        let c = server.complaints(Some(&handler));
        let reviewed = c.clone()
            .start_complaint_review(proto::StartComplaintReviewRequest { name: name.clone(), etag: filed.etag.clone() })
            .await
            .unwrap()
            .into_inner()
            .complaint
            .unwrap();
        assert_eq!(state(&reviewed), proto::ComplaintState::UnderReview);
        // A stale etag changes nothing.
        let stale = c.clone()
            .reconsider_complaint(proto::ReconsiderComplaintRequest {
                name: name.clone(),
                outcome: proto::ComplaintDecision::NotUpheld as i32,
                text: "x".into(),
                etag: filed.etag.clone(),
            })
            .await;
        assert_eq!(code(&stale), Code::Aborted);
        c.clone()
            .reconsider_complaint(proto::ReconsiderComplaintRequest {
                name: name.clone(),
                outcome: proto::ComplaintDecision::NotUpheld as i32,
                text: "Planen følges etter vår vurdering.".into(),
                etag: reviewed.etag.clone(),
            })
            .await
            .unwrap();
        // Before forwarding, the county governor does not see it.
        let hidden = server
            .complaints(Some(&authority))
            .get_complaint(proto::GetComplaintRequest { name: name.clone() })
            .await;
        assert_eq!(code(&hidden), Code::NotFound);
        let forwarded = c.clone()
            .forward_complaint(proto::ForwardComplaintRequest {
                name: name.clone(),
                authority: COUNTY_GOVERNOR.into(),
                assessment: "Kommunen fastholder vedtaket.".into(),
                etag: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .complaint
            .unwrap();
        assert_eq!(state(&forwarded), proto::ComplaintState::Forwarded);
        assert_eq!(forwarded.forwarded_to, COUNTY_GOVERNOR);

        // The complainant is told: the state and the step are theirs to read.
        let seen = server
            .complaints(Some(&patient))
            .get_complaint(proto::GetComplaintRequest { name: name.clone() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(state(seen.complaint.as_ref().unwrap()), proto::ComplaintState::Forwarded);
        assert_eq!(seen.history.last().unwrap().text, "Kommunen fastholder vedtaket.");

        let returned = server
            .complaints(Some(&authority))
            .decide_complaint(proto::DecideComplaintRequest {
                name: name.clone(),
                decision: proto::ComplaintDecision::Returned as i32,
                reasons: "Saken er ikke godt nok opplyst.".into(),
                etag: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .complaint
            .unwrap();
        assert_eq!(state(&returned), proto::ComplaintState::Returned);
        assert_eq!(returned.decision, 0, "a return is not a decision");

        start_review(&server, &name).await;
        let upheld = c.clone()
            .reconsider_complaint(proto::ReconsiderComplaintRequest {
                name: name.clone(),
                outcome: proto::ComplaintDecision::Upheld as i32,
                text: "Tiltakene i planen gjennomføres fra mandag.".into(),
                etag: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .complaint
            .unwrap();
        assert_eq!(state(&upheld), proto::ComplaintState::Upheld);

        // Forwarding an upheld complaint, or deciding one not forwarded, is a wrong state.
        let again = c.clone()
            .forward_complaint(proto::ForwardComplaintRequest {
                name: name.clone(),
                authority: COUNTY_GOVERNOR.into(),
                assessment: "x".into(),
                etag: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(again.code(), Code::FailedPrecondition);
        assert!(again.message().contains("UPHELD"), "{}", again.message());
        let decide = server
            .complaints(Some(&authority))
            .decide_complaint(proto::DecideComplaintRequest {
                name: name.clone(),
                decision: proto::ComplaintDecision::Upheld as i32,
                reasons: "x".into(),
                etag: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(decide.code(), Code::FailedPrecondition);
        let withdraw = server
            .complaints(Some(&patient))
            .withdraw_complaint(proto::WithdrawComplaintRequest { name: name.clone(), reason: String::new(), etag: String::new() })
            .await;
        assert_eq!(code(&withdraw), Code::FailedPrecondition);

        let history = server
            .complaints(Some(&patient))
            .get_complaint(proto::GetComplaintRequest { name })
            .await
            .unwrap()
            .into_inner()
            .history;
        use proto::ComplaintState as S;
        let steps: Vec<(S, S)> = history
            .iter()
            .map(|e| (S::try_from(e.from_state).unwrap(), S::try_from(e.to_state).unwrap()))
            .collect();
        assert_eq!(
            steps,
            [
                (S::Unspecified, S::Submitted),
                (S::Submitted, S::UnderReview),
                (S::UnderReview, S::NotUpheld),
                (S::NotUpheld, S::Forwarded),
                (S::Forwarded, S::Returned),
                (S::Returned, S::UnderReview),
                (S::UnderReview, S::Upheld),
            ]
        );
        assert_eq!(history[0].actor, patient.subject());
        assert_eq!(history[4].actor_organisation, COUNTY_GOVERNOR);
    }
}

on_both_backends! {
    async fn filed_then_withdrawn(server: TestServer) {
        world(&server).await;
        let filed = file(&server, &who("representative"), MUNICIPALITY, Some(OTHER_PATIENT)).await;
        assert!(!filed.late);
        assert_eq!(filed.patient_id, OTHER_PATIENT);
        assert_eq!(filed.complainant, who("representative").subject());
        assert_eq!(filed.representative_relation, proto::RepresentativeRelation::NextOfKin as i32);
        let withdrawn = server
            .complaints(Some(&who("representative")))
            .withdraw_complaint(proto::WithdrawComplaintRequest {
                name: filed.name.clone(),
                reason: "Koordinator er oppnevnt.".into(),
                etag: filed.etag,
            })
            .await
            .unwrap()
            .into_inner()
            .complaint
            .unwrap();
        assert_eq!(state(&withdrawn), proto::ComplaintState::Withdrawn);
        let review = server
            .complaints(Some(&who("handler")))
            .start_complaint_review(proto::StartComplaintReviewRequest { name: filed.name, etag: String::new() })
            .await
            .unwrap_err();
        assert_eq!(review.code(), Code::FailedPrecondition);
        assert!(review.message().contains("WITHDRAWN"));
    }
}

on_both_backends! {
    async fn bad_input(server: TestServer) {
        let plan = world(&server).await;
        let patient = who("complainant");
        let other_plan = server.create_plan(&who("unit_staff"), MUNICIPALITY, OTHER_PATIENT).await;
        let before = server.row_count("complaints").await;
        let mut future = days_ago(-2);
        let feb30 = proto::Date { year: 2026, month: 2, day: 30 };
        let kind = proto::ComplaintKind::NoCoordinator;
        let cases: Vec<(proto::Complaint, Option<proto::OnBehalfOf>, Vec<&str>)> = vec![
            (proto::Complaint { kind: 0, ..complaint(MUNICIPALITY, kind, "", days_ago(1)) }, None, vec!["complaint.kind"]),
            (proto::Complaint { kind: 99, ..complaint(MUNICIPALITY, kind, "", days_ago(1)) }, None, vec!["complaint.kind"]),
            (complaint(MUNICIPALITY, kind, "", std::mem::take(&mut future)), None, vec!["complaint.learned_of"]),
            (complaint(MUNICIPALITY, kind, "", feb30), None, vec!["complaint.learned_of"]),
            (proto::Complaint { learned_of: None, ..complaint(MUNICIPALITY, kind, "", days_ago(1)) }, None, vec!["complaint.learned_of"]),
            (proto::Complaint { text: "  ".into(), ..complaint(MUNICIPALITY, kind, "", days_ago(1)) }, None, vec!["complaint.text"]),
            (proto::Complaint { text: "x".repeat(10_001), ..complaint(MUNICIPALITY, kind, "", days_ago(1)) }, None, vec!["complaint.text"]),
            (complaint("123", kind, "", days_ago(1)), None, vec!["complaint.organisation"]),
            (complaint(MUNICIPALITY, kind, "plans/x", days_ago(1)), None, vec!["complaint.plan"]),
            (complaint(MUNICIPALITY, proto::ComplaintKind::NoPlanOffered, &plan, days_ago(1)), None, vec!["complaint.plan"]),
            (
                complaint(MUNICIPALITY, kind, "", days_ago(1)),
                Some(proto::OnBehalfOf { patient_id: "01818010084".into(), relation: 0 }),
                vec!["on_behalf_of.patient_id", "on_behalf_of.relation"],
            ),
            (complaint(MUNICIPALITY, kind, "", days_ago(1)), on_behalf(PATIENT), vec!["on_behalf_of.patient_id"]),
        ];
        for (c, behalf, fields) in cases {
            let status = server
                .complaints(Some(&patient))
                .file_complaint(proto::FileComplaintRequest { complaint: Some(c), on_behalf_of: behalf })
                .await
                .unwrap_err();
            assert_eq!(violated_fields(&status), fields);
            assert!(!status.message().contains("0181801008"));
        }
        // A plan that does not exist and a plan of another patient give the same answer.
        let absent = format!("plans/{}", uuid::Uuid::now_v7());
        let mut answers = Vec::new();
        for target in [absent, other_plan] {
            let status = server
                .complaints(Some(&patient))
                .file_complaint(proto::FileComplaintRequest {
                    complaint: Some(complaint(MUNICIPALITY, kind, &target, days_ago(1))),
                    on_behalf_of: None,
                })
                .await
                .unwrap_err();
            answers.push((status.code(), status.message().to_owned()));
        }
        assert_eq!(answers[0].0, Code::NotFound);
        assert_eq!(answers[0], answers[1]);
        assert_eq!(server.row_count("complaints").await, before);

        let name = file(&server, &patient, MUNICIPALITY, None).await.name;
        start_review(&server, &name).await;
        let handler = server.complaints(Some(&who("handler")));
        let returned = handler
            .clone()
            .reconsider_complaint(proto::ReconsiderComplaintRequest {
                name: name.clone(),
                outcome: proto::ComplaintDecision::Returned as i32,
                text: String::new(),
                etag: "zz".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&returned), ["outcome", "text", "etag"]);
        not_uphold_after_review(&server, &name).await;
        let not_authority = handler
            .clone()
            .forward_complaint(proto::ForwardComplaintRequest {
                name: name.clone(),
                authority: NOT_AN_AUTHORITY.into(),
                assessment: "x".into(),
                etag: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&not_authority), ["authority"]);
        let garbage = server
            .complaints(Some(&patient))
            .get_complaint(proto::GetComplaintRequest { name: "complaints/1".into() })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&garbage), ["name"]);
        let days = server
            .complaints(Some(&who("handler")))
            .list_complaints(proto::ListComplaintsRequest { waiting_longer_than_days: -1, ..Default::default() })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&days), ["waiting_longer_than_days"]);

        // A complaint authority role only in a county governor's organisation.
        let admin = Who::Personnel("admin", MUNICIPALITY);
        server.bootstrap_grant(MUNICIPALITY, &admin.subject(), OrgRole::Admin).await;
        let grant = server
            .organisations(Some(&admin))
            .grant_role(proto::GrantRoleRequest {
                parent: format!("organisations/{MUNICIPALITY}"),
                role_grant: Some(proto::RoleGrant {
                    subject: "personnel:someone".into(),
                    role: proto::OrganisationRole::ComplaintAuthority as i32,
                    ..Default::default()
                }),
            })
            .await;
        assert_eq!(code(&grant), Code::FailedPrecondition);
    }
}

async fn not_uphold_after_review(server: &TestServer, name: &str) {
    server
        .complaints(Some(&who("handler")))
        .reconsider_complaint(proto::ReconsiderComplaintRequest {
            name: name.into(),
            outcome: proto::ComplaintDecision::NotUpheld as i32,
            text: "Ikke medhold.".into(),
            etag: String::new(),
        })
        .await
        .unwrap();
}

on_both_backends! {
    /// Found by the second attack: next of kin complaining about the plan they serve on, with no
    /// on_behalf_of, were told about a field they had not sent. They are told to send it.
    async fn next_of_kin_naming_the_plan_are_told_to_complain_on_its_patients_behalf(server: TestServer) {
        let plan = world(&server).await;
        let kin = Who::Citizen(YET_ANOTHER_PATIENT);
        server.add_member(&Who::Citizen(PATIENT), &plan, &kin, proto::MemberRole::NextOfKin).await;
        let filed = server
            .complaints(Some(&kin))
            .file_complaint(proto::FileComplaintRequest {
                complaint: Some(complaint(MUNICIPALITY, proto::ComplaintKind::PlanNotFollowed, &plan, days_ago(3))),
                on_behalf_of: None,
            })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&filed), ["on_behalf_of"]);
        let behalf = proto::OnBehalfOf {
            patient_id: String::new(),
            relation: proto::RepresentativeRelation::NextOfKin as i32,
        };
        server
            .complaints(Some(&kin))
            .file_complaint(proto::FileComplaintRequest {
                complaint: Some(complaint(MUNICIPALITY, proto::ComplaintKind::PlanNotFollowed, &plan, days_ago(3))),
                on_behalf_of: Some(behalf),
            })
            .await
            .expect("on the patient's behalf, named by the plan");
    }
}
