//! gRPC-Web for browser clients: over HTTP/1.1, with CORS for the configured origins, and the
//! gRPC status trailers (rich errors included) readable by the page.

use std::io::{Read, Write};

use samvirke::domain::organisation::OrgRole;
use samvirke::proto;

use super::common::*;

const ORIGIN: &str = "https://koordinator.example";

/// Sends one HTTP/1.1 request to `server` and returns the response's head and its body,
/// de-chunked.
fn http1(server: &TestServer, request: &[u8]) -> (String, Vec<u8>) {
    let mut tcp = std::net::TcpStream::connect(server.addr).unwrap();
    tcp.write_all(request).unwrap();
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut rest = &raw[split + 4..];
    if !head.to_lowercase().contains("transfer-encoding: chunked") {
        return (head, rest.to_vec());
    }
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap(), 16);
        let size = size.unwrap();
        rest = &rest[line_end + 2..];
        if size == 0 {
            return (head, body);
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// A gRPC-Web call of `method` with `message`, from `origin`, as `who`.
/// Returns the response's head and body.
fn grpc_web(
    server: &TestServer,
    method: &str,
    who: &Who,
    message: &[u8],
    origin: &str,
) -> (String, Vec<u8>) {
    let mut body = vec![0u8];
    body.extend((message.len() as u32).to_be_bytes());
    body.extend(message);
    let mut request = format!(
        "POST /{method} HTTP/1.1\r\nHost: {}\r\nOrigin: {origin}\r\n\
         Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\n\
         Authorization: Bearer {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        server.addr,
        server.token(who),
        body.len()
    )
    .into_bytes();
    request.extend(body);
    let (head, body) = http1(server, &request);
    let lower = head.to_lowercase();
    assert!(lower.starts_with("http/1.1 200"), "{head}");
    assert!(lower.contains("content-type: application/grpc-web+proto"), "{head}");
    assert!(lower.contains(&format!("access-control-allow-origin: {ORIGIN}")), "{head}");
    assert!(lower.contains("grpc-status-details-bin"), "the page reads the details: {head}");
    (head, body)
}

/// The frames of a gRPC-Web body: (flag, payload) each.
fn frames(mut body: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while body.len() >= 5 {
        let size = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        frames.push((body[0], body[5..5 + size].to_vec()));
        body = &body[5 + size..];
    }
    frames
}

on_both_backends! {
    async fn browsers_call_over_grpc_web_and_read_rich_errors(server: TestServer) {
        server.bootstrap_grant(MUNICIPALITY, &staff().subject(), OrgRole::UnitStaff).await;
        let plan = server.create_plan(&staff(), MUNICIPALITY, PATIENT).await;

        // The browser's preflight, from a configured origin, and from another.
        let preflight = |origin: &str| {
            format!(
                "OPTIONS /samvirke.v1.PlanService/GetPlan HTTP/1.1\r\nHost: {}\r\n\
                 Origin: {origin}\r\nAccess-Control-Request-Method: POST\r\n\
                 Access-Control-Request-Headers: authorization,content-type,x-grpc-web\r\n\
                 Connection: close\r\n\r\n",
                server.addr
            )
        };
        let (head, _) = http1(&server, preflight(ORIGIN).as_bytes());
        let head = head.to_lowercase();
        assert!(head.contains(&format!("access-control-allow-origin: {ORIGIN}")), "{head}");
        assert!(head.contains("authorization"), "{head}");
        let (head, _) = http1(&server, preflight("https://evil.example").as_bytes());
        assert!(!head.to_lowercase().contains("access-control-allow-origin"), "{head}");

        // The plan, over gRPC-Web.
        let get = proto::GetPlanRequest { name: plan.clone(), revision: 0 };
        let message = prost::Message::encode_to_vec(&get);
        let (_, body) = grpc_web(&server, "samvirke.v1.PlanService/GetPlan", &staff(), &message, ORIGIN);
        let frames = frames(&body);
        assert_eq!(frames.len(), 2, "a message and the trailers");
        let answer: proto::GetPlanResponse = prost::Message::decode(&frames[0].1[..]).unwrap();
        assert_eq!(answer.plan.unwrap().name, plan);
        assert_eq!(frames[1].0, 0x80, "the trailers frame");
        assert!(String::from_utf8_lossy(&frames[1].1).contains("grpc-status:0"));

        // A bad name: INVALID_ARGUMENT, with google.rpc.BadRequest naming the field.
        let bad = proto::GetPlanRequest { name: "plans/x".into(), revision: 0 };
        let message = prost::Message::encode_to_vec(&bad);
        // An error comes trailers-only: in the response's headers, as gRPC-Web carries them.
        let (head, _) = grpc_web(&server, "samvirke.v1.PlanService/GetPlan", &staff(), &message, ORIGIN);
        assert!(head.to_lowercase().contains("grpc-status: 3"), "{head}");
        let details = head
            .lines()
            .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("grpc-status-details-bin")))
            .map(|(_, v)| v)
            .expect("the rich error's details");
        use base64::Engine;
        let details = details.trim().trim_end_matches('=');
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD.decode(details).unwrap();
        let status: tonic_types::pb::Status = prost::Message::decode(&bytes[..]).unwrap();
        let bad_request = status.details.iter().find(|d| d.type_url.ends_with("BadRequest"));
        let bad_request: tonic_types::pb::BadRequest =
            prost::Message::decode(&bad_request.unwrap().value[..]).unwrap();
        assert_eq!(bad_request.field_violations[0].field, "name");
    }
}
