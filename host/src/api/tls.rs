//! HTTPS for the API: the host's certificate and key (`--tls-cert`,
//! `--tls-key`), and the authorities a client of another host trusts
//! (`--ca-cert`).
//!
//! The listener takes connections on a task of its own and runs each
//! handshake on a task of its own, so a slow or silent client holds up
//! nobody. A plain HTTP request sent to an HTTPS host is answered, in
//! plain HTTP, with what to use instead.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// How long a client has to finish its TLS handshake.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("--tls-cert and --tls-key go together: give both (the certificate chain and its private key, PEM files), or neither to serve plain HTTP")]
    Half,
    #[error("{flag} {}: cannot read it ({why})", path.display())]
    Read {
        flag: &'static str,
        path: PathBuf,
        why: String,
    },
    #[error("{flag} {}: no {what} in it; give a PEM file (-----BEGIN {what}-----)", path.display())]
    Empty {
        flag: &'static str,
        path: PathBuf,
        what: &'static str,
    },
    #[error("--tls-key {} does not go with --tls-cert {}: {why}", key.display(), cert.display())]
    Mismatch {
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
    /// given (plain HTTP).
    pub fn load(cert: Option<&Path>, key: Option<&Path>) -> Result<Option<Identity>, TlsError> {
        let (cert, key) = match (cert, key) {
            (None, None) => return Ok(None),
            (Some(c), Some(k)) => (c, k),
            _ => return Err(TlsError::Half),
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| TlsError::Read {
                flag: "--tls-cert",
                path: cert.to_owned(),
                why: e.to_string(),
            })?;
        if chain.is_empty() {
            return Err(TlsError::Empty {
                flag: "--tls-cert",
                path: cert.to_owned(),
                what: "CERTIFICATE",
            });
        }
        let private = PrivateKeyDer::from_pem_file(key).map_err(|e| match e {
            rustls::pki_types::pem::Error::NoItemsFound => TlsError::Empty {
                flag: "--tls-key",
                path: key.to_owned(),
                what: "PRIVATE KEY",
            },
            e => TlsError::Read {
                flag: "--tls-key",
                path: key.to_owned(),
                why: e.to_string(),
            },
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_no_client_auth().with_single_cert(chain, private))
            .map_err(|e| TlsError::Mismatch {
                cert: cert.to_owned(),
                key: key.to_owned(),
                why: e.to_string(),
            })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Some(Identity(Arc::new(config))))
    }
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
        let tx = tx.clone();
        tokio::spawn(async move {
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
            tracing::debug!(error = %e, "a TLS handshake failed");
            None
        }
    }
}

/// A client of weft hosts that trusts the system's authorities and the
/// PEM certificates in `ca` (`--ca-cert`), if given.
pub fn client_builder(ca: Option<&Path>) -> Result<reqwest::ClientBuilder, TlsError> {
    let mut builder = reqwest::Client::builder();
    if let Some(path) = ca {
        let pem = std::fs::read(path).map_err(|e| TlsError::Read {
            flag: "--ca-cert",
            path: path.to_owned(),
            why: e.to_string(),
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| TlsError::Read {
            flag: "--ca-cert",
            path: path.to_owned(),
            why: e.to_string(),
        })?;
        if certs.is_empty() {
            return Err(TlsError::Empty {
                flag: "--ca-cert",
                path: path.to_owned(),
                what: "CERTIFICATE",
            });
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok(builder)
}

/// What to tell a user whose request failed on TLS, if `e` did: the host's
/// certificate is not trusted, or the host does not speak TLS.
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
