//! TLS from certificate and key files: served, refused to plaintext clients, and reloaded when
//! the files change, without a restart.

use std::path::Path;
use std::time::Duration;

use samvirke::tls::TlsFiles;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use super::common::*;

/// A self-signed certificate for `localhost`, written to `dir` as `cert.pem` and `key.pem`
/// (each through a rename, as a certificate manager does); its PEM.
fn issue(dir: &Path) -> String {
    let issued = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (issued.cert.pem(), issued.signing_key.serialize_pem());
    for (name, pem) in [("cert.pem", &cert), ("key.pem", &key)] {
        let staged = dir.join(format!("{name}.new"));
        std::fs::write(&staged, pem).unwrap();
        std::fs::rename(&staged, dir.join(name)).unwrap();
    }
    cert
}

/// Whether a client trusting `ca` alone gets an answer from the health service at `server`.
async fn answers(server: &TestServer, ca: &str) -> bool {
    let tls =
        ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca)).domain_name("localhost");
    let endpoint = Channel::from_shared(format!("https://{}", server.addr)).unwrap();
    let Ok(endpoint) = endpoint.tls_config(tls) else { return false };
    let connected = endpoint.connect_timeout(Duration::from_secs(5)).connect().await;
    let Ok(channel) = connected else { return false };
    HealthClient::new(channel).check(HealthCheckRequest::default()).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_is_served_and_reloaded_when_the_files_change() {
    let dir = std::env::temp_dir().join(format!("samvirke-tls-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let first = issue(&dir);
    let files = TlsFiles { cert: dir.join("cert.pem"), key: dir.join("key.pem") };
    let server = TestServer::start_with(samvirke::store::Backend::Sqlite, |c| {
        c.tls = Some(files.clone());
    })
    .await;
    assert!(answers(&server, &first).await, "a client trusting the certificate is answered");
    // A plaintext client gets nothing.
    let plain = HealthClient::new(server.channel()).check(HealthCheckRequest::default()).await;
    assert!(plain.is_err(), "plaintext is not served beside TLS");

    // The certificate is renewed: the next connection gets the new one, without a restart.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = issue(&dir);
    assert!(answers(&server, &second).await, "the renewed certificate is served");
    assert!(!answers(&server, &first).await, "the old one no more");

    // A half-written pair keeps the last good one.
    std::fs::write(dir.join("key.pem"), "not a key").unwrap();
    assert!(answers(&server, &second).await, "the last good certificate stays");
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
