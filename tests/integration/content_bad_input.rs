//! Bad input to the plan's content: every bad field named in INVALID_ARGUMENT, wrong states in
//! FAILED_PRECONDITION, stale etags in ABORTED, and nothing written by any of them.

use samvirke::domain::organisation::OrgRole;
use samvirke::proto;
use tonic::Code;

use super::common::*;

const TABLES: [&str; 6] =
    ["plan_revisions", "goals", "goal_adjustments", "measures", "measure_evaluations", "consents"];

async fn counts(server: &TestServer) -> Vec<i64> {
    let mut all = Vec::new();
    for table in TABLES {
        all.push(server.row_count(table).await);
    }
    all
}

on_both_backends! {
    async fn bad_content_names_the_field_and_writes_nothing(server: TestServer) {
        let staff = Who::Personnel("unit-staff", MUNICIPALITY);
        server.bootstrap_grant(MUNICIPALITY, &staff.subject(), OrgRole::UnitStaff).await;
        let patient = Who::Citizen(PATIENT);
        let coordinator = Who::Personnel("coordinator", MUNICIPALITY);
        let plan = server.create_plan(&staff, MUNICIPALITY, PATIENT).await;
        let other = server.create_plan(&staff, MUNICIPALITY, OTHER_PATIENT).await;
        let membership = server.add_member(&staff, &plan, &coordinator, proto::MemberRole::Coordinator).await;
        let other_membership = server.add_member(&staff, &other, &coordinator, proto::MemberRole::Coordinator).await;
        let teacher = Who::Personnel("teacher", MUNICIPALITY);
        let ended = server.add_member(&staff, &plan, &teacher, proto::MemberRole::School).await;
        server
            .members(Some(&staff))
            .remove_member(proto::RemoveMemberRequest { name: ended.clone(), etag: String::new() })
            .await
            .unwrap();
        let goal = server.create_goal(&patient, &plan, "Bo hjemme", 1).await.unwrap();
        let other_goal = server.create_goal(&Who::Citizen(OTHER_PATIENT), &other, "Annet", 1).await.unwrap();
        let measure = server.create_measure(&coordinator, &plan, &goal.name, &membership, "Besøk").await.unwrap();
        let before = counts(&server).await;

        // UpdatePlan: the mask, the etag and every value are checked.
        let current = server.get_plan(&patient, &plan).await;
        let update = |input: proto::Plan, paths: &[&str]| {
            let server = server.clone();
            let patient = patient.clone();
            let request = proto::UpdatePlanRequest { plan: Some(input), update_mask: mask(paths) };
            async move { server.plans(Some(&patient)).update_plan(request).await.unwrap_err() }
        };
        let cases: Vec<(proto::Plan, Vec<&str>, Vec<&str>)> = vec![
            (current.clone(), vec![], vec!["update_mask"]),
            (current.clone(), vec!["colour"], vec!["update_mask"]),
            (current.clone(), vec!["status", "patient_id"], vec!["update_mask", "update_mask"]),
            (proto::Plan { etag: String::new(), ..current.clone() }, vec!["contacts"], vec!["plan.etag"]),
            (proto::Plan { name: "plans/x".into(), ..current.clone() }, vec!["contacts"], vec!["plan.name"]),
            (
                proto::Plan {
                    sections: Some(proto::PatientSections {
                        what_works_now: "x".repeat(10_001),
                        thoughts_on_illness: "Only for palliative plans".into(),
                        ..Default::default()
                    }),
                    ..current.clone()
                },
                vec!["sections"],
                vec!["plan.sections.what_works_now", "plan.sections.thoughts_on_illness"],
            ),
            (
                proto::Plan {
                    contacts: vec![proto::Contact { name: " ".into(), phone: "call me".into(), ..Default::default() }],
                    ..current.clone()
                },
                vec!["contacts"],
                vec!["plan.contacts[0].name", "plan.contacts[0].phone"],
            ),
        ];
        for (input, paths, fields) in cases {
            let status = update(input, &paths).await;
            assert_eq!(violated_fields(&status), fields, "{paths:?}");
        }
        let bad_date = server
            .update_plan(&coordinator, &coordinator, &plan, &["next_review_date"], |p| p.next_review_date = day(2027, 2, 30))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&bad_date), ["plan.next_review_date"]);
        let stale = update(proto::Plan { etag: "999".into(), ..current.clone() }, &["sections.what_works_now"]).await;
        assert_eq!(stale.code(), Code::Aborted);

        // Lifecycle and consent.
        let status = server
            .plans(Some(&coordinator))
            .change_plan_status(proto::ChangePlanStatusRequest { name: plan.clone(), ..Default::default() })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&status), ["etag", "status"]);
        let consent = server
            .plans(Some(&staff))
            .record_consent(proto::RecordConsentRequest {
                name: plan.clone(),
                etag: current.etag.clone(),
                consent: Some(proto::Consent { recipients: vec!["123".into()], ..Default::default() }),
            })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&consent), ["consent.recipients[0]", "consent.on_behalf"]);
        let withdraw = server
            .plans(Some(&patient))
            .withdraw_consent(proto::WithdrawConsentRequest { name: plan.clone(), etag: current.etag.clone(), reason: String::new() })
            .await
            .unwrap_err();
        assert_eq!(withdraw.code(), Code::FailedPrecondition, "no consent to withdraw");
        let revision = server
            .plans(Some(&patient))
            .get_plan(proto::GetPlanRequest { name: plan.clone(), revision: -1 })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&revision), ["revision"]);
        let statuses = server
            .plans(Some(&patient))
            .list_plans(proto::ListPlansRequest { statuses: vec![0, 42], ..Default::default() })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&statuses), ["statuses[0]", "statuses[1]"]);

        // Goals.
        let created = server
            .goals(Some(&patient))
            .create_goal(proto::CreateGoalRequest {
                parent: plan.clone(),
                goal: Some(proto::Goal { text: "x".repeat(2001), priority: 0, target_date: day(2027, 13, 1), ..Default::default() }),
            })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&created), ["goal.text", "goal.priority", "goal.target_date"]);
        let empty = server.create_goal(&patient, &plan, "   ", 1).await.unwrap_err();
        assert_eq!(violated_fields(&empty), ["goal.text"]);
        let masked = server
            .update_goal(&coordinator, &coordinator, &goal.name, &["adjustments", "status"], "", |g| g.status = 0)
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&masked), ["update_mask"]);
        let unspecified = server
            .update_goal(&coordinator, &coordinator, &goal.name, &["status"], "", |g| g.status = 0)
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&unspecified), ["goal.status"]);
        let propose = server
            .goals(Some(&coordinator))
            .propose_goal_adjustment(proto::ProposeGoalAdjustmentRequest {
                name: goal.name.clone(),
                etag: goal.etag.clone(),
                reason: String::new(),
                proposed_text: "y".repeat(2001),
            })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&propose), ["reason", "proposed_text"]);
        let served = server
            .goals(Some(&patient))
            .delete_goal(proto::DeleteGoalRequest { name: goal.name.clone(), etag: goal.etag.clone() })
            .await
            .unwrap_err();
        assert_eq!(served.code(), Code::FailedPrecondition, "a goal measures serve");
        let malformed = server.goals(Some(&patient)).get_goal(proto::GetGoalRequest { name: format!("{plan}/goal/x") }).await.unwrap_err();
        assert_eq!(violated_fields(&malformed), ["name"]);
        let unknown = format!("{plan}/goals/{}", other_goal.name.rsplit('/').next().unwrap());
        let absent = server.goals(Some(&patient)).get_goal(proto::GetGoalRequest { name: unknown.clone() }).await;
        assert_eq!(code(&absent), Code::NotFound);

        // Measures: references must stay within the plan, dates in order.
        let measure_with = |goal: String, member: String, start, end, description: &str| proto::CreateMeasureRequest {
            parent: plan.clone(),
            measure: Some(proto::Measure {
                goal,
                responsible_member: member,
                description: description.into(),
                start_date: start,
                end_date: end,
                ..Default::default()
            }),
        };
        let cases = [
            (measure_with(other_goal.name.clone(), membership.clone(), None, None, "x"), vec!["measure.goal"]),
            (measure_with(unknown.clone(), membership.clone(), None, None, "x"), vec!["measure.goal"]),
            (measure_with(goal.name.clone(), other_membership.clone(), None, None, "x"), vec!["measure.responsible_member"]),
            (measure_with(goal.name.clone(), ended.clone(), None, None, "x"), vec!["measure.responsible_member"]),
            (measure_with(goal.name.clone(), membership.clone(), day(2027, 5, 1), day(2027, 4, 1), ""), vec!["measure.description", "measure.end_date"]),
        ];
        for (request, fields) in cases {
            let status = server.measures(Some(&coordinator)).create_measure(request).await.unwrap_err();
            assert_eq!(violated_fields(&status), fields);
        }
        let backwards = server
            .update_measure(&coordinator, &coordinator, &measure.name, &["end_date"], |m| m.end_date = day(2026, 1, 1))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&backwards), ["measure.end_date"]);
        let evaluation = server
            .measures(Some(&coordinator))
            .add_measure_evaluation(proto::AddMeasureEvaluationRequest {
                name: measure.name.clone(),
                etag: measure.etag.clone(),
                evaluation: Some(proto::Evaluation { text: String::new(), ..Default::default() }),
            })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&evaluation), ["evaluation.date", "evaluation.text"]);
        let stale = server
            .measures(Some(&coordinator))
            .delete_measure(proto::DeleteMeasureRequest { name: measure.name.clone(), etag: "7".into() })
            .await;
        assert_eq!(code(&stale), Code::Aborted);

        assert_eq!(counts(&server).await, before, "a refused request wrote something ({TABLES:?})");
    }
}
