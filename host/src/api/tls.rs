//! HTTPS for the API: the host's certificate and key (`--tls-cert`,
//! `--tls-key`) and the authorities whose clients it lets in when it asks
//! for client certificates (`--client-ca`); the authorities a client of
//! another host trusts (`--ca-cert`) and its own certificate
//! (`--client-cert`, `--client-key`).
//!
//! The listener takes connections on a task of its own and runs each
//! handshake on a task of its own, so a slow or silent client holds up
//! nobody. A plain HTTP request sent to an HTTPS host is answered, in
//! plain HTTP, with what to use instead.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// How long a client has to finish its TLS handshake.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);

/// Most handshakes under way at once: a connection beyond them is closed
/// at once, so clients that open connections and never finish their
/// handshake hold a bounded amount of the host.
const HANDSHAKES_AT_ONCE: usize = 512;

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("--tls-cert and --tls-key go together: give both (the certificate chain and its private key, PEM files), or neither to serve plain HTTP")]
    Half,
    #[error(transparent)]
    Pem(#[from] crate::tls::PemError),
    #[error(transparent)]
    Pair(#[from] crate::tls::PairError),
    #[error("--tls-key {} does not go with --tls-cert {}: {why}", key.display(), cert.display())]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        why: String,
    },
    #[error(
        "--client-ca asks clients for certificates over HTTPS: give --tls-cert and --tls-key too"
    )]
    ClientCaWithoutHttps,
    #[error("--client-ca {}: {why}", path.display())]
    ClientCa { path: PathBuf, why: String },
    #[error("--client-cert and --client-key go together: give both (this client's certificate and its private key, PEM files), or neither")]
    ClientHalf,
    #[error("--client-key {} does not go with --client-cert {}: {why}", key.display(), cert.display())]
    ClientMismatch {
        cert: PathBuf,
        key: PathBuf,
        why: String,
    },
}

/// The host's identity on HTTPS.
#[derive(Clone)]
pub struct Identity(Arc<rustls::ServerConfig>);

impl Identity {
    /// The identity of `--tls-cert` and `--tls-key`: `None` when neither is
    /// given (plain HTTP). With `client_ca` (`--client-ca`), every client
    /// must present a certificate one of its authorities signed.
    pub fn load(
        cert: Option<&Path>,
        key: Option<&Path>,
        client_ca: Option<&Path>,
    ) -> Result<Option<Identity>, TlsError> {
        let (cert, key) = match (cert, key, client_ca) {
            (None, None, None) => return Ok(None),
            (None, None, Some(_)) => return Err(TlsError::ClientCaWithoutHttps),
            (Some(c), Some(k), _) => (c, k),
            _ => return Err(TlsError::Half),
        };
        let pair = crate::tls::KeyPair::load(
            (format!("--tls-cert {}", cert.display()), cert.to_owned()),
            (format!("--tls-key {}", key.display()), key.to_owned()),
            false,
        )?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Mismatch {
                cert: cert.to_owned(),
                key: key.to_owned(),
                why: e.to_string(),
            })?;
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(path) => builder.with_client_cert_verifier(client_verifier(path, provider)?),
        };
        let mut config = builder.with_cert_resolver(pair);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Some(Identity(Arc::new(config))))
    }
}

/// Checks clients' certificates against the authorities of `path`
/// (`--client-ca`); a client without one is refused.
fn client_verifier(
    path: &Path,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    let given = format!("--client-ca {}", path.display());
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(crate::tls::read_chain(&given, path)?);
    if added == 0 {
        return Err(TlsError::ClientCa {
            path: path.to_owned(),
            why: "no certificate in it is an authority rustls can use".into(),
        });
    }
    rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| TlsError::ClientCa {
            path: path.to_owned(),
            why: e.to_string(),
        })
}

/// A connection the API serves: plain TCP or TLS over it.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// The API's listener: plain HTTP, or HTTPS with an identity.
pub struct Listener {
    local: SocketAddr,
    ready: mpsc::Receiver<(Box<dyn Io>, SocketAddr)>,
}

impl Listener {
    /// Takes connections on `tcp` from now on (the port stays bound until
    /// the listener is dropped).
    pub fn new(tcp: TcpListener, identity: Option<Identity>) -> std::io::Result<Listener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(accept_loop(tcp, identity, tx));
        Ok(Listener { local, ready })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

impl axum::serve::Listener for Listener {
    type Io = Box<dyn Io>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept loop ends only when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

async fn accept_loop(
    mut tcp: TcpListener,
    identity: Option<Identity>,
    tx: mpsc::Sender<(Box<dyn Io>, SocketAddr)>,
) {
    let acceptor = identity.map(|i| tokio_rustls::TlsAcceptor::from(i.0));
    let handshakes = Arc::new(tokio::sync::Semaphore::new(HANDSHAKES_AT_ONCE));
    loop {
        let (stream, peer) = tokio::select! {
            conn = axum::serve::Listener::accept(&mut tcp) => conn,
            // Serving stopped: the port is let go.
            _ = tx.closed() => return,
        };
        let Some(acceptor) = acceptor.clone() else {
            if tx.send((Box::new(stream), peer)).await.is_err() {
                return;
            }
            continue;
        };
        let Ok(permit) = handshakes.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "too many TLS handshakes under way; connection closed");
            continue;
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(HANDSHAKE_LIMIT, handshake(&acceptor, stream)).await {
                Ok(Some(tls)) => {
                    let _ = tx.send((Box::new(tls), peer)).await;
                }
                Ok(None) => {}
                Err(_) => tracing::debug!(%peer, "a TLS handshake took too long; dropped"),
            }
        });
    }
}

/// The TLS stream of `stream`, or `None` when its client spoke plain HTTP
/// (answered with what to do) or the handshake failed.
async fn handshake(
    acceptor: &tokio_rustls::TlsAcceptor,
    mut stream: TcpStream,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let mut first = [0u8; 1];
    match stream.peek(&mut first).await {
        Ok(1) if first[0] != TLS_HANDSHAKE => {
            let body = "this weft host serves HTTPS: use an https:// address\n";
            let answer = format!(
                "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
            let _ = stream.shutdown().await;
            // Read what the client still sends (a request's body) before
            // closing: closing over unread bytes resets the connection, and
            // the client would not read the answer.
            let mut sink = [0u8; 8192];
            let drain = async {
                let mut left = 32 << 20;
                while left > 0 {
                    match stream.read(&mut sink).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => left -= n.min(left),
                    }
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
            return None;
        }
        Ok(1) => {}
        _ => return None,
    }
    match acceptor.accept(stream).await {
        Ok(tls) => Some(tls),
        Err(e) => {
            match crate::tls::rustls_error(&e) {
                Some(
                    why @ (rustls::Error::NoCertificatesPresented
                    | rustls::Error::InvalidCertificate(_)),
                ) => refused_client(why),
                _ => tracing::debug!(error = %e, "a TLS handshake failed"),
            }
            None
        }
    }
}

/// What a client of weft hosts is given: authorities to trust beyond the
/// system's (`--ca-cert`), and its own certificate and key for a host that
/// asks for one (`--client-cert`, `--client-key`).
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientTls<'a> {
    pub ca: Option<&'a Path>,
    pub cert: Option<&'a Path>,
    pub key: Option<&'a Path>,
}

/// Says that a client's certificate was refused (`--client-ca`): at most
/// once every ten seconds, with how many were refused since, so an operator
/// sees why clients fail and a flood of them does not flood the log.
fn refused_client(why: &rustls::Error) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static REFUSED: AtomicU64 = AtomicU64::new(0);
    static LAST_SAID: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);
    REFUSED.fetch_add(1, Ordering::Relaxed);
    let mut last = LAST_SAID.lock().unwrap_or_else(|p| p.into_inner());
    if last.is_some_and(|t| t.elapsed() < Duration::from_secs(10)) {
        return;
    }
    *last = Some(std::time::Instant::now());
    let refused = REFUSED.swap(0, Ordering::Relaxed);
    tracing::info!(refused, last = %why, "refused clients' TLS handshakes: no certificate, or one --client-ca does not take");
}

/// A client of weft hosts that trusts the system's authorities and the
/// PEM certificates of `--ca-cert`, if given, and presents the certificate
/// of `--client-cert`, if given.
pub fn client_builder(tls: ClientTls<'_>) -> Result<reqwest::ClientBuilder, TlsError> {
    let mut builder = reqwest::Client::builder();
    match (tls.cert, tls.key) {
        (None, None) => {}
        (Some(cert), Some(key)) => builder = builder.identity(client_identity(cert, key)?),
        _ => return Err(TlsError::ClientHalf),
    }
    if let Some(path) = tls.ca {
        let given = format!("--ca-cert {}", path.display());
        let read = |why: String| crate::tls::PemError::Read {
            given: given.clone(),
            why,
        };
        let pem = std::fs::read(path).map_err(|e| read(e.to_string()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| read(e.to_string()))?;
        if certs.is_empty() {
            return Err(crate::tls::PemError::Empty {
                given,
                what: "CERTIFICATE",
            }
            .into());
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok(builder)
}

/// The client certificate of `--client-cert` with the key of
/// `--client-key`, each read and checked on its own first (so a wrong file
/// is named) and then as a pair.
fn client_identity(cert: &Path, key: &Path) -> Result<reqwest::Identity, TlsError> {
    crate::tls::KeyPair::load(
        (format!("--client-cert {}", cert.display()), cert.to_owned()),
        (format!("--client-key {}", key.display()), key.to_owned()),
        false,
    )?;
    let mismatch = |why: String| TlsError::ClientMismatch {
        cert: cert.to_owned(),
        key: key.to_owned(),
        why,
    };
    // Both files read well as a pair: reqwest takes them as one PEM text.
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| crate::tls::PemError::Read {
            given: path.display().to_string(),
            why: e.to_string(),
        })
    };
    let mut pem = read(cert)?;
    pem.push(b'\n');
    pem.extend(read(key)?);
    reqwest::Identity::from_pem(&pem).map_err(|e| mismatch(e.to_string()))
}

/// What to tell a user whose request failed on TLS, if `e` did: the host's
/// certificate is not trusted, the host does not speak TLS, or it asks for
/// a client certificate this client did not give or it does not take.
pub fn client_refusal(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut source = Some(e);
    while let Some(s) = source {
        match crate::tls::rustls_error(s) {
            Some(rustls::Error::InvalidCertificate(why)) => {
                use rustls::CertificateError as C;
                return Some(match why {
                    C::UnknownIssuer | C::BadSignature => format!(
                        "its certificate is not trusted ({why}): pass --ca-cert with the PEM \
                         file of the authority that signed it (or set WEFT_CA_CERT)"
                    ),
                    C::NotValidForName | C::NotValidForNameContext { .. } => format!(
                        "its certificate does not name the host in the address ({why}): use \
                         a name or address the certificate has"
                    ),
                    C::Other(other) if other.to_string().contains("CaUsedAsEndEntity") => {
                        "it presents an authority's certificate (CA:TRUE) as its own, which \
                         is refused: give the host a certificate (CA:FALSE) signed by an \
                         authority, and that authority to --ca-cert"
                            .to_string()
                    }
                    other => format!("its certificate is refused ({other})"),
                });
            }
            Some(rustls::Error::AlertReceived(alert)) => {
                use rustls::AlertDescription as A;
                return Some(match alert {
                    A::UnsupportedCertificate => "it does not take this certificate for a \
                        client (UnsupportedCertificate): give one made for client \
                        authentication (extendedKeyUsage clientAuth) and signed by an \
                        authority of its --client-ca"
                        .to_string(),
                    A::CertificateRequired => "it asks for a client certificate: pass \
                        --client-cert and --client-key (or set WEFT_CLIENT_CERT and \
                        WEFT_CLIENT_KEY) with a certificate its --client-ca signed"
                        .to_string(),
                    other => format!(
                        "it refused this client's TLS handshake ({other:?}): if it asks for \
                         client certificates, give --client-cert and --client-key with one \
                         signed by an authority of its --client-ca"
                    ),
                });
            }
            Some(rustls::Error::InvalidMessage(_)) => {
                return Some(
                    "it did not answer in TLS: it may serve plain HTTP (use an http:// address)"
                        .into(),
                )
            }
            _ => {}
        }
        source = s.source();
    }
    None
}
