//! What the store's and the API's TLS share: finding rustls's own error
//! inside what a driver or an HTTP client reports, and reading PEM files
//! of certificates and keys.

use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The TLS error `e` is, or carries inside I/O errors (clients wrap it
/// once or twice).
pub(crate) fn rustls_error<'e>(
    e: &'e (dyn std::error::Error + 'static),
) -> Option<&'e rustls::Error> {
    if let Some(found) = e.downcast_ref::<rustls::Error>() {
        return Some(found);
    }
    let inner = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    rustls_error(inner)
}

/// A PEM file of certificates or of a key that could not be used. `given`
/// names it as the user gave it (`--tls-cert /a.pem`, `sslkey=/a.key`).
#[derive(Debug, thiserror::Error)]
pub enum PemError {
    #[error("{given}: cannot read it ({why})")]
    Read { given: String, why: String },
    #[error("{given}: no {what} in it; give a PEM file (-----BEGIN {what}-----)")]
    Empty { given: String, what: &'static str },
    #[error(
        "{given}: the private key in it is encrypted, which is not supported; give a decrypted \
         copy, readable by its owner only (openssl pkey -in the.key -out plain.key; chmod 600 \
         plain.key)"
    )]
    Encrypted { given: String },
    #[error(
        "{given}: the private key may be read by others (mode {mode:04o}); allow only its \
         owner (chmod 600 {}), as libpq asks",
        path.display()
    )]
    Exposed {
        given: String,
        path: PathBuf,
        mode: u32,
    },
}

/// The certificate chain in the PEM file `path`, at least one.
pub(crate) fn read_chain(
    given: &str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let chain = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| PemError::Read {
            given: given.to_owned(),
            why: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(PemError::Empty {
            given: given.to_owned(),
            what: "CERTIFICATE",
        });
    }
    Ok(chain)
}

/// The private key in the PEM file `path`.
pub(crate) fn read_key(given: &str, path: &Path) -> Result<PrivateKeyDer<'static>, PemError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound if encrypted(path) => PemError::Encrypted {
            given: given.to_owned(),
        },
        rustls::pki_types::pem::Error::NoItemsFound => PemError::Empty {
            given: given.to_owned(),
            what: "PRIVATE KEY",
        },
        e => PemError::Read {
            given: given.to_owned(),
            why: e.to_string(),
        },
    })
}

/// Whether the PEM file at `path` holds an encrypted key (PKCS#8's own
/// block, or OpenSSL's older encrypted headers).
fn encrypted(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|text| {
        text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
            || text.contains("Proc-Type: 4,ENCRYPTED")
    })
}

/// Refuses a key file others may read, as libpq does for `sslkey`: one
/// owned by root may be read by its group (mode 0640 or less), any other
/// by its owner only (0600 or less).
pub(crate) fn check_key_private(given: &str, path: &Path) -> Result<(), PemError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).map_err(|e| PemError::Read {
            given: given.to_owned(),
            why: e.to_string(),
        })?;
        let mode = meta.mode() & 0o7777;
        // libpq's rule: a file root owns may also be read by its group
        // (a system-wide key given through a group), any other must be
        // for its owner only (if this user can read it, it owns it).
        let exposed = match meta.uid() {
            0 => mode & 0o037 != 0,
            _ => mode & 0o077 != 0,
        };
        if exposed {
            return Err(PemError::Exposed {
                given: given.to_owned(),
                path: path.to_owned(),
                mode,
            });
        }
    }
    let _ = (given, path);
    Ok(())
}

/// A certificate and key that do not make a pair.
#[derive(Debug, thiserror::Error)]
pub enum PairError {
    #[error(transparent)]
    Pem(#[from] PemError),
    #[error("{key_given} does not go with {cert_given}: {why}")]
    Mismatch {
        cert_given: String,
        key_given: String,
        why: String,
    },
}

/// When each of a pair's files last changed, as far as a look tells.
type Stamp = [Option<(std::time::SystemTime, u64)>; 2];

/// How often a pair's files are looked at again.
const LOOK_AGAIN: std::time::Duration = std::time::Duration::from_secs(1);

/// A certificate chain and its private key, read from two PEM files and
/// read again when either changes (at most once a second, at a
/// handshake): a renewed certificate is taken without a restart. A change
/// that does not read as a pair (a file half written, a key from another
/// certificate) leaves the pair before in use and is said once.
#[derive(Debug)]
pub(crate) struct KeyPair {
    files: [(String, PathBuf); 2],
    /// Refuse a key others may read (libpq's rule, for `sslkey`).
    private: bool,
    provider: std::sync::Arc<rustls::crypto::CryptoProvider>,
    state: std::sync::Mutex<PairState>,
}

#[derive(Debug)]
struct PairState {
    current: std::sync::Arc<rustls::sign::CertifiedKey>,
    /// What the files were when `current` was read, or last tried.
    stamp: Stamp,
    looked: std::time::Instant,
}

impl KeyPair {
    /// Reads the pair: `cert` and `key` as the user named them (`given`)
    /// and where they are.
    pub fn load(
        cert: (String, PathBuf),
        key: (String, PathBuf),
        private: bool,
    ) -> Result<std::sync::Arc<KeyPair>, PairError> {
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let files = [cert, key];
        let stamp = stamp(&files);
        let current = read_pair(&files, private, &provider)?;
        Ok(std::sync::Arc::new(KeyPair {
            files,
            private,
            provider,
            state: std::sync::Mutex::new(PairState {
                current,
                stamp,
                looked: std::time::Instant::now(),
            }),
        }))
    }

    /// The pair in use, read again first if its files changed.
    pub fn current(&self) -> std::sync::Arc<rustls::sign::CertifiedKey> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.looked.elapsed() >= LOOK_AGAIN {
            state.looked = std::time::Instant::now();
            let now = stamp(&self.files);
            if now != state.stamp {
                state.stamp = now;
                match read_pair(&self.files, self.private, &self.provider) {
                    Ok(pair) => {
                        tracing::info!(cert = %self.files[0].0, "read a changed certificate and key");
                        state.current = pair;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "a changed certificate or key does not read as a pair; the one before stays in use");
                    }
                }
            }
        }
        state.current.clone()
    }
}

fn stamp(files: &[(String, PathBuf); 2]) -> Stamp {
    files.each_ref().map(|(_, path)| {
        let meta = std::fs::metadata(path).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    })
}

fn read_pair(
    files: &[(String, PathBuf); 2],
    private: bool,
    provider: &rustls::crypto::CryptoProvider,
) -> Result<std::sync::Arc<rustls::sign::CertifiedKey>, PairError> {
    let [(cert_given, cert), (key_given, key)] = files;
    let chain = read_chain(cert_given, cert)?;
    if private {
        check_key_private(key_given, key)?;
    }
    let secret = read_key(key_given, key)?;
    let mismatch = |why: String| PairError::Mismatch {
        cert_given: cert_given.clone(),
        key_given: key_given.clone(),
        why,
    };
    let signing = provider
        .key_provider
        .load_private_key(secret)
        .map_err(|e| mismatch(e.to_string()))?;
    let pair = rustls::sign::CertifiedKey::new(chain, signing);
    pair.keys_match()
        .map_err(|_| mismatch("it is not the key the certificate was issued for".into()))?;
    Ok(std::sync::Arc::new(pair))
}

impl rustls::client::ResolvesClientCert for KeyPair {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<std::sync::Arc<rustls::sign::CertifiedKey>> {
        Some(self.current())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

impl rustls::server::ResolvesServerCert for KeyPair {
    fn resolve(
        &self,
        _client_hello: rustls::server::ClientHello<'_>,
    ) -> Option<std::sync::Arc<rustls::sign::CertifiedKey>> {
        Some(self.current())
    }
}
