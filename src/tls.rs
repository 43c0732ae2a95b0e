//! TLS from a certificate chain and a private key in PEM files, reloaded when the files change,
//! so a renewed certificate takes effect on the next connection without a restart. Plaintext
//! stays the development default (no files given).
//!
//! Every handshake asks `ReloadingCertificate` for the key: it reads the files' modification
//! times and loads them again when either changed. A pair that does not load (half-written, or
//! a key that does not match) keeps the last good one, with a warning; at start-up it is an
//! error.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring::sign::any_supported_type;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::server::TlsStream;

use crate::domain::Error;

/// The PEM files TLS is served from.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// How long a client has to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The certificate and key of `files`, loaded again whenever either file changes.
#[derive(Debug)]
struct ReloadingCertificate {
    files: TlsFiles,
    current: Mutex<(Option<SystemTime>, Option<SystemTime>, Arc<CertifiedKey>)>,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Loads the certificate chain and key of `files`; the error names the file and the cause.
fn load(files: &TlsFiles) -> Result<Arc<CertifiedKey>, Error> {
    let cause = |path: &Path, e: &dyn std::fmt::Display| {
        Error::internal(format!("TLS file {}: {e}", path.display()))
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| cause(&files.cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| cause(&files.cert, &e))?;
    if chain.is_empty() {
        return Err(cause(&files.cert, &"holds no certificate"));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| cause(&files.key, &e))?;
    let signing = any_supported_type(&key).map_err(|e| cause(&files.key, &e))?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|e| cause(&files.key, &e))?;
    Ok(Arc::new(certified))
}

impl ReloadingCertificate {
    fn new(files: TlsFiles) -> Result<Self, Error> {
        let stamps = (modified(&files.cert), modified(&files.key));
        let key = load(&files)?;
        Ok(ReloadingCertificate { current: Mutex::new((stamps.0, stamps.1, key)), files })
    }

    /// The key to serve now: the files' again when they changed since last loaded.
    fn key(&self) -> Arc<CertifiedKey> {
        let stamps = (modified(&self.files.cert), modified(&self.files.key));
        let mut current = match self.current.lock() {
            Ok(current) => current,
            Err(poisoned) => poisoned.into_inner(),
        };
        if (current.0, current.1) != stamps {
            match load(&self.files) {
                Ok(key) => {
                    tracing::info!("TLS certificate reloaded");
                    *current = (stamps.0, stamps.1, key);
                }
                // Keep serving the last good pair; try again on the next handshake.
                Err(e) => tracing::warn!(error = %e, "TLS certificate not reloaded"),
            }
        }
        current.2.clone()
    }
}

impl ResolvesServerCert for ReloadingCertificate {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.key())
    }
}

/// An acceptor for `files`, speaking HTTP/2 (ALPN `h2`), as gRPC does; fails when the files do
/// not load.
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, Error> {
    let resolver = Arc::new(ReloadingCertificate::new(files.clone())?);
    let mut config = ServerConfig::builder().with_no_client_auth().with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The TLS connections accepted on `listener`, each handshake on a task of its own so a slow
/// client holds up nobody; a failed or slow handshake is dropped.
pub fn incoming(
    listener: TcpListener,
    acceptor: TlsAcceptor,
) -> tokio_stream::wrappers::ReceiverStream<Result<TlsStream<TcpStream>, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                // The server stopped taking connections: let the port go.
                () = tx.closed() => return,
            };
            let (tcp, _) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            // Small responses would wait on delayed ACKs without it: about 40 ms a call.
            let _ = tcp.set_nodelay(true);
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        let _ = tx.send(Ok(tls)).await;
                    }
                    Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!("TLS handshake timed out"),
                }
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}
