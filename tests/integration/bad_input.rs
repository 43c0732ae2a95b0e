//! Bad input gets INVALID_ARGUMENT naming every offending field (google.rpc.BadRequest), changes
//! nothing, and never panics or answers INTERNAL. Bad tokens get UNAUTHENTICATED, oversized
//! messages RESOURCE_EXHAUSTED.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use samvirke::auth::token::DEFAULT_AUDIENCE;
use samvirke::auth::{DevIdentity, DevKey};
use samvirke::domain::organisation::OrgRole;
use samvirke::proto;
use tonic::Code;

use super::common::*;

fn admin() -> Who {
    Who::Personnel("admin", MUNICIPALITY)
}

async fn setup(server: &TestServer) -> String {
    server.bootstrap_grant(MUNICIPALITY, &staff().subject(), OrgRole::UnitStaff).await;
    server.bootstrap_grant(MUNICIPALITY, &admin().subject(), OrgRole::Admin).await;
    server.create_plan(&staff(), MUNICIPALITY, PATIENT).await
}

fn plan(organisation: &str, patient: &str, name: &str, kind: i32) -> proto::CreatePlanRequest {
    proto::CreatePlanRequest {
        plan: Some(proto::Plan {
            organisation: organisation.into(),
            patient_id: patient.into(),
            patient_display_name: name.into(),
            kind,
            ..Default::default()
        }),
    }
}

const GENERAL: i32 = proto::PlanKind::General as i32;

on_both_backends! {
    async fn create_plan(server: TestServer) {
        setup(&server).await;
        let cases: Vec<(proto::CreatePlanRequest, Vec<&str>)> = vec![
            (proto::CreatePlanRequest { plan: None }, vec!["plan"]),
            (
                plan("123", "01818010084", "", 0),
                vec!["plan.organisation", "plan.patient_id", "plan.patient_display_name", "plan.kind"],
            ),
            (plan(MUNICIPALITY, PATIENT, "Kari", 42), vec!["plan.kind"]),
            (plan("910000005", PATIENT, "Kari", GENERAL), vec!["plan.organisation"]),
            (plan(MUNICIPALITY, "0181801008", "Kari", GENERAL), vec!["plan.patient_id"]),
            (plan(MUNICIPALITY, PATIENT, "   ", GENERAL), vec!["plan.patient_display_name"]),
            (plan(MUNICIPALITY, PATIENT, &"x".repeat(201), GENERAL), vec!["plan.patient_display_name"]),
            (plan(MUNICIPALITY, PATIENT, "Kari\u{0}", GENERAL), vec!["plan.patient_display_name"]),
        ];
        let before = server.row_count("plans").await;
        for (request, fields) in cases {
            let status = server.plans(Some(&staff())).create_plan(request).await.unwrap_err();
            assert_eq!(violated_fields(&status), fields);
            assert!(!status.message().contains("0181801008"), "an identity number leaked");
        }
        assert_eq!(server.row_count("plans").await, before);
    }
}

on_both_backends! {
    async fn names_and_pages(server: TestServer) {
        let plan = setup(&server).await;
        let upper = plan.to_uppercase().replace("PLANS/", "plans/");
        for name in ["", "plans/", "plans/not-a-uuid", upper.as_str(), "organisations/910000004"] {
            let status = server
                .plans(Some(&staff()))
                .get_plan(proto::GetPlanRequest { name: name.into(), revision: 0 })
                .await
                .unwrap_err();
            assert_eq!(violated_fields(&status), ["name"], "{name:?}");
        }
        let absent = format!("plans/{}", uuid::Uuid::now_v7());
        let status = server
            .plans(Some(&staff()))
            .get_plan(proto::GetPlanRequest { name: absent, revision: 0 })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound);

        let garbage = [
            "!!!".to_string(),
            URL_SAFE_NO_PAD.encode("v1:nope"),
            URL_SAFE_NO_PAD.encode("x"),
            URL_SAFE_NO_PAD.encode([0xff, 0xfe]),
        ];
        for token in &garbage {
            let status = server
                .plans(Some(&staff()))
                .list_plans(proto::ListPlansRequest { page_size: 0, page_token: token.clone(), ..Default::default() })
                .await
                .unwrap_err();
            assert_eq!(violated_fields(&status), ["page_token"]);
        }
        for size in [-1, 501, i32::MIN, i32::MAX] {
            let status = server
                .plans(Some(&staff()))
                .list_plans(proto::ListPlansRequest { page_size: size, page_token: String::new(), ..Default::default() })
                .await
                .unwrap_err();
            assert_eq!(violated_fields(&status), ["page_size"]);
        }
        let both = server
            .members(Some(&staff()))
            .list_members(proto::ListMembersRequest {
                parent: "plans/x".into(),
                page_size: 9999,
                page_token: "??".into(),
                show_ended: false,
            })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&both), ["parent", "page_size", "page_token"]);
    }
}

fn member(subject: &str, role: i32, organisation: &str) -> proto::Member {
    proto::Member {
        subject: subject.into(),
        display_name: "Ola".into(),
        role,
        organisation: organisation.into(),
        ..Default::default()
    }
}

on_both_backends! {
    async fn members(server: TestServer) {
        let plan = setup(&server).await;
        let nav = proto::MemberRole::Nav as i32;
        let ts = |seconds| Some(prost_types::Timestamp { seconds, nanos: 0 });
        let mut reversed = member("personnel:a", nav, NAV);
        reversed.start_time = ts(2_000_000_000);
        reversed.end_time = ts(1_900_000_000);
        let mut bad_nanos = member("personnel:a", nav, NAV);
        bad_nanos.start_time = Some(prost_types::Timestamp { seconds: 1, nanos: -5 });
        let cases: Vec<(String, Option<proto::Member>, Vec<&str>)> = vec![
            ("plans/nope".into(), Some(member("personnel:a", nav, NAV)), vec!["parent"]),
            (plan.clone(), None, vec!["member"]),
            (plan.clone(), Some(member("doctor", nav, NAV)), vec!["member.subject"]),
            (plan.clone(), Some(member("citizen:01818010084", nav, "")), vec!["member.subject"]),
            (plan.clone(), Some(member("personnel:a", 0, NAV)), vec!["member.role"]),
            (plan.clone(), Some(member("personnel:a", 77, NAV)), vec!["member.role"]),
            (plan.clone(), Some(member("personnel:a", nav, "")), vec!["member.organisation"]),
            (plan.clone(), Some(member("personnel:a", nav, "123456789")), vec!["member.organisation"]),
            (
                plan.clone(),
                Some(member(&format!("citizen:{NEXT_OF_KIN}"), nav, NAV)),
                vec!["member.organisation", "member.role"],
            ),
            (plan.clone(), Some(reversed), vec!["member.end_time"]),
            (plan.clone(), Some(bad_nanos), vec!["member.start_time"]),
            (
                "plans/nope".into(),
                Some(proto::Member::default()),
                vec!["parent", "member.subject", "member.display_name", "member.role"],
            ),
            (
                plan.clone(),
                Some(proto::Member { display_name: String::new(), ..member("personnel:a", nav, NAV) }),
                vec!["member.display_name"],
            ),
        ];
        for (parent, member, fields) in cases {
            let status = server
                .members(Some(&staff()))
                .add_member(proto::AddMemberRequest { parent, member })
                .await
                .unwrap_err();
            assert_eq!(violated_fields(&status), fields);
        }
        assert_eq!(server.row_count("members").await, 0);

        for (name, etag, field) in [
            ("plans/x/members/y".to_string(), "", "name"),
            (format!("{plan}/members/"), "", "name"),
            (format!("{plan}/members/{}", uuid::Uuid::now_v7()), "abc", "etag"),
            (format!("{plan}/members/{}", uuid::Uuid::now_v7()), "-1", "etag"),
        ] {
            let status = server
                .members(Some(&staff()))
                .remove_member(proto::RemoveMemberRequest { name, etag: etag.into() })
                .await
                .unwrap_err();
            assert_eq!(violated_fields(&status), [field]);
        }
    }
}

on_both_backends! {
    async fn role_grants(server: TestServer) {
        setup(&server).await;
        let grant = |parent: &str, subject: &str, role: i32| proto::GrantRoleRequest {
            parent: parent.into(),
            role_grant: Some(proto::RoleGrant { subject: subject.into(), role, ..Default::default() }),
        };
        let org = format!("organisations/{MUNICIPALITY}");
        let staff_role = proto::OrganisationRole::UnitStaff as i32;
        let cases = [
            (grant("organisations/123", "personnel:x", staff_role), vec!["parent"]),
            (grant(&org, "personnel:x", 0), vec!["role_grant.role"]),
            (grant(&org, "personnel:x", 9), vec!["role_grant.role"]),
            (grant(&org, "personnel:a,admin", staff_role), vec!["role_grant.subject"]),
            (grant("x", "", 0), vec!["parent", "role_grant.subject", "role_grant.role"]),
            (proto::GrantRoleRequest { parent: org.clone(), role_grant: None }, vec!["role_grant"]),
        ];
        let before = server.row_count("role_grants").await;
        for (request, fields) in cases {
            let status = server.organisations(Some(&admin())).grant_role(request).await.unwrap_err();
            assert_eq!(violated_fields(&status), fields);
        }
        assert_eq!(server.row_count("role_grants").await, before);
        for name in ["", "organisations/910000004/roleGrants/x", "organisations/9/roleGrants/"] {
            let status = server
                .organisations(Some(&admin()))
                .revoke_role(proto::RevokeRoleRequest { name: name.into() })
                .await
                .unwrap_err();
            assert_eq!(violated_fields(&status), ["name"]);
        }
        let status = server
            .organisations(Some(&admin()))
            .list_role_grants(proto::ListRoleGrantsRequest {
                parent: "organisations/".into(),
                page_size: -4,
                page_token: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&status), ["parent", "page_size"]);
    }
}

on_both_backends! {
    async fn oversized_messages_are_resource_exhausted(server: TestServer) {
        setup(&server).await;
        let before = server.row_count("plans").await;
        // The test server accepts 1 MiB, as production does by default.
        let huge = "x".repeat(1100 * 1024);
        let status = server
            .plans(Some(&staff()))
            .create_plan(plan(MUNICIPALITY, PATIENT, &huge, GENERAL))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert_eq!(server.row_count("plans").await, before);
        // And the server still answers.
        server
            .plans(Some(&staff()))
            .list_plans(proto::ListPlansRequest::default())
            .await
            .unwrap();
    }
}

on_both_backends! {
    async fn bad_tokens_are_unauthenticated(server: TestServer) {
        let plan = setup(&server).await;
        let who = staff();
        let foreign_key_path =
            std::env::temp_dir().join(format!("samvirke-foreign-key-{}", uuid::Uuid::now_v7()));
        let foreign = DevKey::load_or_create(&foreign_key_path).unwrap();
        let _ = std::fs::remove_file(&foreign_key_path);
        let forged = foreign
            .mint(
                &DevIdentity::Personnel { sub: "unit-staff".into(), org: MUNICIPALITY.into(), person: None },
                DEFAULT_AUDIENCE,
                Duration::from_secs(60),
                Default::default(),
            )
            .unwrap();
        let valid = server.token(&who);
        let (head, rest) = valid.split_once('.').unwrap();
        let (body, signature) = rest.split_once('.').unwrap();
        let flipped: String = signature
            .chars()
            .enumerate()
            .map(|(i, c)| if i == 3 { if c == 'A' { 'B' } else { 'A' } } else { c })
            .collect();
        let headers = [
            format!("Bearer {}", server.token_with(&who, serde_json::json!({"exp": 1_000_000}))),
            format!("Bearer {}", server.token_with(&who, serde_json::json!({"aud": "another-service"}))),
            format!("Bearer {}", server.token_with(&who, serde_json::json!({"iss": "https://evil.example"}))),
            format!("Bearer {}", server.token_with(&who, serde_json::json!({"nbf": 4_000_000_000u64}))),
            format!("Bearer {}", server.token_with(&who, serde_json::json!({"helseid://claims/client/claims/orgnr_parent": "123"}))),
            format!("Bearer {forged}"),
            format!("Bearer {head}.{body}.{flipped}"),
            format!("Basic {valid}"),
            "Bearer not-a-token".into(),
            "Bearer ".into(),
        ];
        for header in headers {
            let result = server
                .plans_raw(&header)
                .get_plan(proto::GetPlanRequest { name: plan.clone(), revision: 0 })
                .await;
            assert_eq!(code(&result), Code::Unauthenticated, "{header}");
        }
        let none = server.plans(None).get_plan(proto::GetPlanRequest { name: plan, revision: 0 }).await;
        assert_eq!(code(&none), Code::Unauthenticated);
    }
}

on_both_backends! {
    /// gzip and zstd are accepted on requests and offered on responses; a compressed request is
    /// held to the size limit once decompressed, so a small bomb is refused like a large
    /// message, and changes nothing.
    async fn compressed_calls_are_served_and_held_to_the_limit(server: TestServer) {
        use tonic::codec::CompressionEncoding::{Gzip, Zstd};
        setup(&server).await;
        let mut created = Vec::new();
        for encoding in [Gzip, Zstd] {
            let plan = server
                .plans(Some(&staff()))
                .send_compressed(encoding)
                .accept_compressed(encoding)
                .create_plan(plan(MUNICIPALITY, PATIENT, "Kari Nordmann", GENERAL))
                .await;
            created.push(plan.unwrap_or_else(|e| panic!("{encoding:?}: {e:?}")).into_inner());
        }
        let name = created[0].plan.as_ref().unwrap().name.clone();
        // The server compresses its answer for a client that accepts it.
        let mut h2 = raw_h2(&server).await;
        let mut request = raw_get_plan(&server, &staff());
        request.headers_mut().insert("grpc-accept-encoding", "gzip".parse().unwrap());
        let (response, mut body) = h2.send_request(request, false).unwrap();
        let message = proto::GetPlanRequest { name, revision: 0 };
        let encoded = prost::Message::encode_to_vec(&message);
        let mut frame = vec![0u8];
        frame.extend((encoded.len() as u32).to_be_bytes());
        frame.extend(encoded);
        body.send_data(frame.into(), true).unwrap();
        let response = response.await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers().get("grpc-encoding").unwrap(), "gzip");
        let mut answer = response.into_body();
        let first = answer.data().await.unwrap().unwrap();
        assert_eq!(first[0], 1, "the message is compressed");
        // A bomb: 1.1 MiB that compresses to a few KiB.
        let before = server.row_count("plans").await;
        let huge = "x".repeat(1100 * 1024);
        let status = server
            .plans(Some(&staff()))
            .send_compressed(Gzip)
            .create_plan(plan(MUNICIPALITY, OTHER_PATIENT, &huge, GENERAL))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert_eq!(server.row_count("plans").await, before);
    }
}
