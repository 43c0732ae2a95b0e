//! Requests for every RPC of the contract, built from its descriptor with random and hostile
//! values in every field — NUL and control characters, decomposed letters, bidirectional marks
//! and overrides, very long text, ten thousand repeats, extreme numbers and unknown enum values
//! — and now and then a real resource name so requests reach the access check and the
//! database. Every answer must be a known gRPC code other than INTERNAL (a panic shows as a
//! transport error), every error under 4 KiB, and a refused request must write nothing but its
//! access-log row. The seed is fixed, so a failure repeats; `SAMVIRKE_FUZZ_SEED` and
//! `SAMVIRKE_FUZZ_ROUNDS` vary it, and `SAMVIRKE_FUZZ_VERBOSE` prints every call's outcome.
//! Letting a NUL through the text type makes it fail on PostgreSQL with INTERNAL.

use std::str::FromStr;

use prost::Message;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value,
};
use samvirke::domain::organisation::OrgRole;
use samvirke::proto;
use tonic::Code;

use super::common::*;

/// Requests per RPC and run.
const DEFAULT_ROUNDS: u64 = 10;

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Real values a request may name, so many requests get past validation to the access check
/// and the database; and how hostile the request being built is (the percentage of its strings
/// that are hostile: a few, so a lone NUL reaches the database in an otherwise valid request,
/// or many).
struct Names {
    hostility: std::cell::Cell<u64>,
    plans: Vec<String>,
    items: Vec<(&'static str, String)>,
    organisations: Vec<String>,
    subjects: Vec<String>,
    people: Vec<String>,
    values: Vec<String>,
}

const HOSTILE: &[&str] = &[
    "",
    " ",
    "\u{0}",
    "a\u{0}b",
    "\u{1b}[31m",
    "\u{7f}",
    "A\u{30a}se",
    "\u{202e}gnp.exe",
    "\u{200f}שלום",
    "\u{feff}",
    "plans/",
    "plans/../../etc/passwd",
    "plans/00000000-0000-0000-0000-000000000000",
    "citizen:01818010083",
    "citizen:15138013453",
    "personnel:a,admin",
    "system:",
    "'; DROP TABLE plans; --",
    "%s%n%x",
    "9999999999999999999999",
    "-1",
    "NaN",
    "sections.important_to_me",
    "status",
    "https://",
    "https://meet.example.no/\u{0}",
    "0192:910000004",
    "910000004",
    "930000000",
    "12345678901",
];

impl Names {
    /// A string for `field` of a request of `method`: mostly the kind of value the field holds
    /// (a resource of the method's collection, an organisation, a subject, an etag, text), now
    /// and then something hostile.
    fn string(&self, rng: &mut Rng, method: &str, field: &FieldDescriptor) -> String {
        if rng.chance(self.hostility.get()) {
            return match rng.below(4) {
                0 => rng.pick(HOSTILE).repeat(1 + rng.below(3)),
                1 => "ø".repeat(*rng.pick(&[199, 200, 201, 2_001, 10_001, 60_000])),
                2 => format!("{}{}", rng.pick(&self.values), rng.pick(HOSTILE)),
                _ => format!("Tekst {}", rng.pick(HOSTILE)),
            };
        }
        match field.name() {
            "name" => {
                let lower = method.to_lowercase();
                let matching: Vec<&String> = self
                    .items
                    .iter()
                    .filter(|(collection, _)| lower.contains(collection))
                    .map(|(_, name)| name)
                    .collect();
                if matching.is_empty() {
                    rng.pick(&self.plans).clone()
                } else {
                    (*rng.pick(&matching)).clone()
                }
            }
            "parent" | "plan" => {
                if method.contains("RoleGrant") || method.contains("Role") {
                    format!("organisations/{}", rng.pick(&self.organisations))
                } else {
                    rng.pick(&self.plans).clone()
                }
            }
            "goal" | "responsible_member" | "invited_members" | "attended_members" => {
                let collection = if field.name() == "goal" { "goal" } else { "member" };
                let matching: Vec<&String> =
                    self.items.iter().filter(|(c, _)| *c == collection).map(|(_, n)| n).collect();
                (*rng.pick(&matching)).clone()
            }
            "etag" => rng.pick(&["1", "1", "2", "3"]).to_string(),
            "organisation" | "municipality" | "authority" | "recipients" => {
                rng.pick(&self.organisations).clone()
            }
            "subject" => rng.pick(&self.subjects).clone(),
            "patient_id" => rng.pick(&self.people).clone(),
            "page_token" => String::new(),
            "video_link" => "https://meet.example.no/rom".into(),
            "phone" => "+47 22 22 22 22".into(),
            _ => format!(
                "Tekst med æøå og {}",
                rng.pick(&[
                    "Å",
                    "A\u{30a}",
                    "\u{200f}x",
                    "ok",
                    "\u{0}",
                    "\u{1b}[0m",
                    "\u{7f}",
                    "\u{202e}",
                ])
            ),
        }
    }
}

fn value(
    rng: &mut Rng,
    names: &Names,
    method: &str,
    field: &FieldDescriptor,
    kind: &Kind,
    depth: u32,
) -> Value {
    match kind {
        Kind::String => Value::String(names.string(rng, method, field)),
        Kind::Bytes => Value::Bytes(vec![0u8; rng.below(64)].into()),
        Kind::Bool => Value::Bool(rng.chance(50)),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(if rng.chance(70) {
            *rng.pick(&[1, 2, 5, 11, 20, 2026])
        } else {
            *rng.pick(&[0, -1, 13, 100, 500, 501, i32::MIN, i32::MAX, 1_999_999_999])
        }),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(if rng.chance(70) {
            *rng.pick(&[1_800_000_000, 1_900_000_000, 1, 2])
        } else {
            *rng.pick(&[0, -1, 253_402_300_800, -62_135_596_801, i64::MIN, i64::MAX])
        }),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(*rng.pick(&[0, 1, u32::MAX])),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(*rng.pick(&[0, 1, u64::MAX])),
        Kind::Float => Value::F32(*rng.pick(&[0.0, f32::NAN, f32::INFINITY])),
        Kind::Double => Value::F64(*rng.pick(&[0.0, f64::NAN, f64::INFINITY])),
        Kind::Enum(e) => {
            let known: Vec<i32> = e.values().map(|v| v.number()).collect();
            let named: Vec<i32> = known.iter().copied().filter(|n| *n != 0).collect();
            Value::EnumNumber(if rng.chance(85) && !named.is_empty() {
                *rng.pick(&named)
            } else {
                *rng.pick(&[-1, 99, i32::MAX])
            })
        }
        Kind::Message(m) => Value::Message(message(rng, names, method, m, depth + 1)),
    }
}

fn message(
    rng: &mut Rng,
    names: &Names,
    method: &str,
    desc: &MessageDescriptor,
    depth: u32,
) -> DynamicMessage {
    let mut msg = DynamicMessage::new(desc.clone());
    if depth > 3 {
        return msg;
    }
    for field in desc.fields() {
        if field.is_map() || rng.chance(15) {
            continue;
        }
        let kind = field.kind();
        let v = if field.is_list() {
            let n = *rng.pick(&[0usize, 1, 1, 2, 3, 25, 10_000]);
            let items: Vec<Value> = if n > 100 {
                // Ten thousand small repeats: the message stays under the size limit.
                let one = match kind {
                    Kind::String => Value::String(rng.pick(&names.values).clone()),
                    _ => value(rng, names, method, &field, &kind, depth),
                };
                vec![one; n]
            } else {
                (0..n).map(|_| value(rng, names, method, &field, &kind, depth)).collect()
            };
            Value::List(items)
        } else {
            value(rng, names, method, &field, &kind, depth)
        };
        msg.set_field(&field, v);
    }
    msg
}

/// Rows of every table a request could write, besides the access log, which records refusals.
async fn written(server: &TestServer) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in [
        "plans",
        "members",
        "role_grants",
        "complaints",
        "complaint_events",
        "goals",
        "goal_adjustments",
        "measures",
        "measure_evaluations",
        "consents",
        "plan_revisions",
        "coordinator_assignments",
        "meetings",
        "referrals",
    ] {
        counts.push(server.row_count(table).await);
    }
    counts
}

/// A world with one of everything, whose names the generator uses.
async fn world(server: &TestServer) -> Names {
    let staff = Who::Personnel("unit-staff", MUNICIPALITY);
    let coordinator = Who::Personnel("coordinator", MUNICIPALITY);
    let referrer = Who::Personnel("discharge", HOSPITAL);
    let admin = Who::Personnel("admin", MUNICIPALITY);
    server.bootstrap_grant(MUNICIPALITY, &staff.subject(), OrgRole::UnitStaff).await;
    server.bootstrap_grant(MUNICIPALITY, &admin.subject(), OrgRole::Admin).await;
    server.bootstrap_grant(HOSPITAL, &referrer.subject(), OrgRole::Referrer).await;
    let grant =
        server.bootstrap_grant(MUNICIPALITY, "personnel:handler", OrgRole::ComplaintHandler).await;
    let plan = server.create_plan(&staff, MUNICIPALITY, PATIENT).await;
    let membership =
        server.add_member(&staff, &plan, &coordinator, proto::MemberRole::Coordinator).await;
    let nav = server
        .add_member(&staff, &plan, &Who::Personnel("nav-adviser", NAV), proto::MemberRole::Nav)
        .await;
    let patient = Who::Citizen(PATIENT);
    let goal = server.create_goal(&patient, &plan, "Bo hjemme", 1).await.unwrap().name;
    let measure =
        server.create_measure(&coordinator, &plan, &goal, &membership, "Besøk").await.unwrap().name;
    let meeting = server.schedule_meeting(&coordinator, &plan, 1_800_000_000).await;
    let complaint = server
        .complaints(Some(&patient))
        .file_complaint(proto::FileComplaintRequest {
            complaint: Some(proto::Complaint {
                organisation: MUNICIPALITY.into(),
                kind: proto::ComplaintKind::Other as i32,
                text: "Klage".into(),
                learned_of: day(2026, 11, 20),
                ..Default::default()
            }),
            on_behalf_of: None,
        })
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap()
        .name;
    let referral = server.refer(&referrer, OTHER_PATIENT).await.name;
    let other_plan = server.create_plan(&staff, MUNICIPALITY, OTHER_PATIENT).await;
    let values = vec![
        plan.clone(),
        goal.clone(),
        measure.clone(),
        meeting.clone(),
        membership.clone(),
        complaint.clone(),
        referral.clone(),
        grant.clone(),
        format!("organisations/{MUNICIPALITY}"),
        MUNICIPALITY.into(),
        format!("citizen:{NEXT_OF_KIN}"),
        "Kari Nordmann".into(),
    ];
    Names {
        hostility: std::cell::Cell::new(10),
        plans: vec![
            plan.clone(),
            other_plan,
            format!("plans/{}", samvirke::domain::ids::ResourceId::generate()),
        ],
        items: vec![
            ("goal", goal),
            ("measure", measure),
            ("meeting", meeting),
            ("member", membership),
            ("member", nav),
            ("complaint", complaint),
            ("referral", referral),
            ("role", grant),
            ("organisation", format!("organisations/{MUNICIPALITY}")),
            ("plan", plan),
        ],
        organisations: [MUNICIPALITY, NAV, SCHOOL, HOSPITAL, COUNTY_GOVERNOR, OTHER_MUNICIPALITY]
            .map(str::to_owned)
            .to_vec(),
        subjects: vec![
            format!("citizen:{NEXT_OF_KIN}"),
            format!("citizen:{STRANGER}"),
            format!("citizen:{PATIENT}"),
            "personnel:new-colleague".into(),
            "personnel:unit-staff".into(),
            "system:nav-system".into(),
        ],
        people: [PATIENT, OTHER_PATIENT, NEXT_OF_KIN, STRANGER, "15138013453"]
            .map(str::to_owned)
            .to_vec(),
        values,
    }
}

async fn fuzz(server: &TestServer) {
    let seed =
        std::env::var("SAMVIRKE_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20_261_130);
    let rounds = std::env::var("SAMVIRKE_FUZZ_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_ROUNDS);
    let names = world(server).await;
    let pool = DescriptorPool::decode(proto::FILE_DESCRIPTOR_SET).unwrap();
    let callers = [
        Who::Citizen(PATIENT),
        Who::Personnel("unit-staff", MUNICIPALITY),
        Who::Personnel("coordinator", MUNICIPALITY),
        Who::Personnel("discharge", HOSPITAL),
        Who::Citizen(STRANGER),
        Who::Personnel("nav-adviser", NAV),
        Who::Personnel("admin", MUNICIPALITY),
    ];
    let mut rng = Rng(seed);
    let mut calls = 0;
    let mut outcomes: std::collections::BTreeMap<String, usize> = Default::default();
    for service in pool.services() {
        for method in service.methods() {
            let path = format!("/{}/{}", service.full_name(), method.name());
            for round in 0..rounds {
                names.hostility.set(*rng.pick(&[3, 10, 30]));
                let request =
                    message(&mut rng, &names, method.name(), &method.input(), 0).encode_to_vec();
                // Half the time one of those who may do most, so writes get through.
                let who = if rng.chance(50) {
                    rng.pick(&callers[..4]).clone()
                } else {
                    rng.pick(&callers).clone()
                };
                let before = written(server).await;
                let mut grpc = tonic::client::Grpc::new(server.channel());
                grpc.ready().await.expect("the server accepts calls");
                let mut call = tonic::Request::new(request);
                call.metadata_mut().insert(
                    "authorization",
                    format!("Bearer {}", server.token(&who)).parse().unwrap(),
                );
                let at = http::uri::PathAndQuery::from_str(&path).unwrap();
                // A stream that begins is dropped at once: what is judged is how it begins.
                let answer = match method.is_server_streaming() {
                    true => grpc.server_streaming(call, at, Raw).await.map(|_| ()),
                    false => grpc.unary(call, at, Raw).await.map(|_| ()),
                };
                calls += 1;
                let outcome =
                    answer.as_ref().map_or_else(|s| format!("{:?}", s.code()), |_| "Ok".into());
                *outcomes.entry(outcome.clone()).or_default() += 1;
                if std::env::var("SAMVIRKE_FUZZ_VERBOSE").is_ok() {
                    let detail =
                        answer.as_ref().err().map(|s| s.message().to_owned()).unwrap_or_default();
                    eprintln!("{path} {outcome} {detail}");
                }
                let context = format!("{path} round {round} as {who:?} (seed {seed})");
                if let Err(status) = answer {
                    assert!(
                        !matches!(
                            status.code(),
                            Code::Internal | Code::Unknown | Code::Unavailable
                        ),
                        "{context}: {status:?}"
                    );
                    let size = status.message().len() + status.details().len().div_ceil(3) * 4;
                    assert!(size < 4096, "{context}: an error of {size} bytes");
                    assert_eq!(written(server).await, before, "{context}: a refused request wrote");
                }
            }
        }
    }
    eprintln!("{:?}: {calls} calls: {outcomes:?}", server.backend);
    assert!(calls > 300, "only {calls} calls");
    // And the server still answers.
    server.get_plan(&Who::Citizen(PATIENT), &names.plans[0]).await;
}

on_both_backends! {
    async fn hostile_requests_to_every_rpc(server: TestServer) {
        fuzz(&server).await;
    }
}

on_both_backends! {
    /// Found by trying: bytes that are not a valid message of the method (a cut-off varint,
    /// invalid UTF-8 in a string, a wrong wire type, field number 0) answered INTERNAL, naming
    /// the server's types. The client sent them: INVALID_ARGUMENT, naming nothing inside.
    async fn malformed_messages_are_invalid_argument(server: TestServer) {
        let patient = Who::Citizen(PATIENT);
        for (what, bytes) in [
            ("a cut-off varint", vec![0x0a, 0xff]),
            ("invalid UTF-8", vec![0x0a, 0x02, 0xc3, 0x28]),
            ("a wrong wire type", vec![0x0d, 1, 2, 3, 4]),
            ("field number 0", vec![0x02, 0x00]),
            ("a group start", vec![0x0b]),
        ] {
            for path in ["/samvirke.v1.PlanService/GetPlan", "/samvirke.v1.PlanService/UpdatePlan"] {
                let mut grpc = tonic::client::Grpc::new(server.channel());
                grpc.ready().await.unwrap();
                let mut call = tonic::Request::new(bytes.clone());
                call.metadata_mut().insert(
                    "authorization",
                    format!("Bearer {}", server.token(&patient)).parse().unwrap(),
                );
                let status = grpc
                    .unary(call, http::uri::PathAndQuery::from_str(path).unwrap(), Raw)
                    .await
                    .unwrap_err();
                assert_eq!(status.code(), Code::InvalidArgument, "{what} to {path}: {status:?}");
                assert!(!status.message().contains("Request"), "{}", status.message());
            }
        }
    }
}

/// Sends `body` as the whole request body of a GetPlan, over raw HTTP/2 so the frame can be
/// anything, and gives the gRPC status and message the server answers.
async fn raw_frame(server: &TestServer, who: &Who, body: &'static [u8]) -> (String, String) {
    let mut client = raw_h2(server).await;
    let (answer, mut send) = client.send_request(raw_get_plan(server, who), false).unwrap();
    send.send_data(bytes::Bytes::from_static(body), true).unwrap();
    let mut answer = answer.await.unwrap();
    let headers = answer.headers().clone();
    let trailers = answer.body_mut().trailers().await.unwrap();
    let fields = trailers.as_ref().filter(|_| !headers.contains_key("grpc-status"));
    let fields = fields.unwrap_or(&headers);
    let get = |name: &str| fields.get(name).map(|v| v.to_str().unwrap().to_owned());
    (get("grpc-status").unwrap_or_default(), get("grpc-message").unwrap_or_default())
}

on_both_backends! {
    /// Found by trying: a body that ends inside a message's frame, or a frame whose
    /// compressed-flag is neither 0 nor 1, answered INTERNAL. The client sent them:
    /// INVALID_ARGUMENT, and nothing is read or logged.
    async fn malformed_frames_are_invalid_argument(server: TestServer) {
        let patient = Who::Citizen(PATIENT);
        for (what, body) in [
            ("a frame announcing 64 bytes and carrying 1", &[0, 0, 0, 0, 64, 0x0a][..]),
            ("a frame header cut short", &[0, 0, 0][..]),
            ("no message at all", &[][..]),
            ("a compressed-flag of 2", &[2, 0, 0, 0, 0][..]),
            ("a compressed-flag of 255", &[255, 0, 0, 0, 1, 0][..]),
        ] {
            let (code, message) = raw_frame(&server, &patient, body).await;
            assert_eq!(code, "3", "{what}: {message}");
            assert!(!message.contains("Request") && !message.is_empty(), "{what}: {message}");
        }
        assert_eq!(server.row_count("access_log").await, 0);
    }
}
