//! PlanService behaviour beyond the matrix: what each reader sees, paging, the access log.

use samvirke::domain::organisation::OrgRole;
use samvirke::proto;
use tonic::Code;

use super::common::*;

async fn with_staff(server: &TestServer) -> Who {
    server.bootstrap_grant(MUNICIPALITY, &staff().subject(), OrgRole::UnitStaff).await;
    staff()
}

on_both_backends! {
    async fn create_then_get_round_trips(server: TestServer) {
        let staff = with_staff(&server).await;
        let created = server
            .plans(Some(&staff))
            .create_plan(proto::CreatePlanRequest {
                plan: Some(proto::Plan {
                    organisation: MUNICIPALITY.into(),
                    patient_id: PATIENT.into(),
                    patient_display_name: "  Kari Nordmann ".into(),
                    kind: proto::PlanKind::Palliative as i32,
                    // Output-only fields are ignored on input.
                    status: proto::PlanStatus::Closed as i32,
                    etag: "99".into(),
                    name: "plans/whatever".into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap()
            .into_inner()
            .plan
            .unwrap();
        assert!(created.name.starts_with("plans/"));
        assert_eq!(created.status, proto::PlanStatus::Requested as i32);
        assert_eq!(created.kind, proto::PlanKind::Palliative as i32);
        assert_eq!(created.patient_display_name, "Kari Nordmann");
        assert_eq!(created.etag, "1");
        assert!(created.create_time.is_some() && created.create_time == created.update_time);

        let fetched = server
            .plans(Some(&Who::Citizen(PATIENT)))
            .get_plan(proto::GetPlanRequest { name: created.name.clone(), revision: 0 })
            .await
            .unwrap()
            .into_inner()
            .plan
            .unwrap();
        assert_eq!(fetched, created);
    }
}

on_both_backends! {
    async fn identity_number_only_for_those_the_policy_names(server: TestServer) {
        let staff = with_staff(&server).await;
        let plan = server.create_plan(&staff, MUNICIPALITY, PATIENT).await;
        let nav = Who::System("nav-system", NAV);
        let coordinator = Who::Personnel("coordinator", MUNICIPALITY);
        server.add_member(&staff, &plan, &nav, proto::MemberRole::Nav).await;
        server.add_member(&staff, &plan, &coordinator, proto::MemberRole::Coordinator).await;
        server.give_consent(&Who::Citizen(PATIENT), &plan, &[NAV]).await;
        for (who, sees) in [
            (Who::Citizen(PATIENT), true),
            (staff.clone(), true),
            (coordinator, true),
            (nav, false),
        ] {
            let get = server
                .plans(Some(&who))
                .get_plan(proto::GetPlanRequest { name: plan.clone(), revision: 0 })
                .await
                .unwrap()
                .into_inner()
                .plan
                .unwrap();
            let listed = server
                .plans(Some(&who))
                .list_plans(proto::ListPlansRequest::default())
                .await
                .unwrap()
                .into_inner()
                .plans;
            let expected = if sees { PATIENT } else { "" };
            assert_eq!(get.patient_id, expected, "GetPlan as {who:?}");
            assert_eq!(listed[0].patient_id, expected, "ListPlans as {who:?}");
            assert_eq!(get.patient_display_name, "Kari Nordmann");
        }
    }
}

on_both_backends! {
    async fn removing_a_member_takes_access_away_at_once(server: TestServer) {
        let staff = with_staff(&server).await;
        let plan = server.create_plan(&staff, MUNICIPALITY, PATIENT).await;
        let teacher = Who::Personnel("teacher", SCHOOL);
        let membership = server.add_member(&staff, &plan, &teacher, proto::MemberRole::School).await;
        server.give_consent(&Who::Citizen(PATIENT), &plan, &[SCHOOL]).await;
        let get = proto::GetPlanRequest { name: plan.clone(), revision: 0 };
        assert!(server.plans(Some(&teacher)).get_plan(get.clone()).await.is_ok());
        server
            .members(Some(&staff))
            .remove_member(proto::RemoveMemberRequest { name: membership, etag: String::new() })
            .await
            .unwrap();
        let after = server.plans(Some(&teacher)).get_plan(get).await;
        assert_eq!(code(&after), Code::NotFound);
        let listed = server
            .plans(Some(&teacher))
            .list_plans(proto::ListPlansRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert!(listed.plans.is_empty());
    }
}

on_both_backends! {
    async fn membership_with_a_future_start_grants_nothing_yet(server: TestServer) {
        let staff = with_staff(&server).await;
        let plan = server.create_plan(&staff, MUNICIPALITY, PATIENT).await;
        let teacher = Who::Personnel("teacher", SCHOOL);
        let mut member = teacher.as_member(proto::MemberRole::School);
        let next_year = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
            + 365 * 24 * 3600;
        member.start_time = Some(prost_types::Timestamp { seconds: next_year, nanos: 0 });
        server
            .members(Some(&staff))
            .add_member(proto::AddMemberRequest { parent: plan.clone(), member: Some(member) })
            .await
            .unwrap();
        let get = server
            .plans(Some(&teacher))
            .get_plan(proto::GetPlanRequest { name: plan, revision: 0 })
            .await;
        assert_eq!(code(&get), Code::NotFound);
    }
}

on_both_backends! {
    async fn pages_are_stable_under_concurrent_inserts(server: TestServer) {
        let staff = with_staff(&server).await;
        let mut created = Vec::new();
        for _ in 0..7 {
            created.push(server.create_plan(&staff, MUNICIPALITY, PATIENT).await);
        }
        let mut seen = Vec::new();
        let mut token = String::new();
        let mut pages = 0;
        loop {
            let page = server
                .plans(Some(&staff))
                .list_plans(proto::ListPlansRequest { page_size: 3, page_token: token.clone(), ..Default::default() })
                .await
                .unwrap()
                .into_inner();
            assert!(page.plans.len() <= 3);
            seen.extend(page.plans.into_iter().map(|p| p.name));
            pages += 1;
            // Someone creates a plan between every page.
            created.push(server.create_plan(&staff, MUNICIPALITY, OTHER_PATIENT).await);
            if page.next_page_token.is_empty() || pages > 10 {
                break;
            }
            token = page.next_page_token;
        }
        // Every plan that existed at the start appears exactly once, in creation order; later
        // ones may appear, but never twice.
        let mut unique = seen.clone();
        unique.dedup();
        assert_eq!(unique, seen, "a plan was listed twice");
        for original in &created[..7] {
            assert_eq!(seen.iter().filter(|s| *s == original).count(), 1);
        }
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(sorted, seen, "not in creation order");
    }
}

on_both_backends! {
    async fn reads_and_denials_are_logged(server: TestServer) {
        let staff = with_staff(&server).await;
        let plan = server.create_plan(&staff, MUNICIPALITY, PATIENT).await;
        let get = proto::GetPlanRequest { name: plan.clone(), revision: 0 };
        server.plans(Some(&Who::Citizen(PATIENT))).get_plan(get.clone()).await.unwrap();
        let denied = server.plans(Some(&Who::Citizen(STRANGER))).get_plan(get).await;
        assert_eq!(code(&denied), Code::NotFound);
        // A stranger's attempt to add a member is refused and logged, and the log row survives
        // the refused write's rollback.
        let add = server
            .members(Some(&Who::Citizen(STRANGER)))
            .add_member(proto::AddMemberRequest {
                parent: plan.clone(),
                member: Some(Who::Citizen(NEXT_OF_KIN).as_member(proto::MemberRole::NextOfKin)),
            })
            .await;
        assert_eq!(code(&add), Code::NotFound);
        server
            .plans(Some(&staff))
            .list_plans(proto::ListPlansRequest::default())
            .await
            .unwrap();
        // The creation, the patient's read and the staff's listing; the two refusals.
        assert_eq!(server.access_log_count(&plan, true).await, 3);
        assert_eq!(server.access_log_count(&plan, false).await, 2);
    }
}

on_both_backends! {
    async fn concurrent_writers_all_land(server: TestServer) {
        let staff = with_staff(&server).await;
        let plan = server.create_plan(&staff, MUNICIPALITY, PATIENT).await;
        let mut calls = tokio::task::JoinSet::new();
        for i in 0..24 {
            let server = server.clone();
            let staff = staff.clone();
            let plan = plan.clone();
            calls.spawn(async move {
                if i % 2 == 0 {
                    server.create_plan(&staff, MUNICIPALITY, OTHER_PATIENT).await;
                } else {
                    server
                        .members(Some(&staff))
                        .add_member(proto::AddMemberRequest {
                            parent: plan,
                            member: Some(proto::Member {
                                subject: format!("personnel:p{i}"),
                                display_name: "Provider".into(),
                                role: proto::MemberRole::Nurse as i32,
                                organisation: MUNICIPALITY.into(),
                                ..Default::default()
                            }),
                        })
                        .await
                        .expect("a concurrent add");
                }
            });
        }
        while let Some(done) = calls.join_next().await {
            done.unwrap();
        }
        assert_eq!(server.row_count("plans").await, 13);
        assert_eq!(server.row_count("members").await, 12);
    }
}
