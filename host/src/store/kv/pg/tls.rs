//! TLS to PostgreSQL, asked for as libpq asks for it: `sslmode` and
//! `sslrootcert` in the store's address.
//!
//! | `sslmode` | encrypted | the server's certificate |
//! |---|---|---|
//! | `disable` | no | |
//! | `prefer` (the default) | if the server offers it | not checked |
//! | `require` | yes | not checked (checked as by `verify-ca` when `sslrootcert` is given) |
//! | `verify-ca` | yes | signed by an authority of `sslrootcert` |
//! | `verify-full` | yes | that, and issued for the host the address names |
//!
//! `sslrootcert` is a file of PEM certificates, or `system` for the
//! machine's trust store; without it, `verify-*` use
//! `~/.postgresql/root.crt` as libpq does. `sslcert` and `sslkey` are the
//! host's own certificate and key, for a database that asks for one
//! (`cert` in `pg_hba.conf`, or `clientcert=`); without them,
//! `~/.postgresql/postgresql.crt` and `postgresql.key` when they exist, as
//! in libpq. The driver takes none of these (it knows `disable`, `prefer`
//! and `require` only), so they are taken out of the address here and the
//! rest is left to it.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::StoreError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// Where the authorities a `verify-*` mode trusts come from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Roots {
    File(PathBuf),
    System,
}

/// What the address asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tls {
    pub mode: SslMode,
    roots: Option<Roots>,
    /// The host's own certificate (`sslcert`) and key (`sslkey`), if it
    /// presents one.
    identity: Option<Identity>,
}

/// Where the host's client certificate and key are, and how the address
/// named them.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Identity {
    cert: PathBuf,
    key: PathBuf,
}

impl Identity {
    /// From `sslcert` and `sslkey`, or libpq's default files when neither
    /// is given and the certificate's exists.
    fn pick(cert: Option<PathBuf>, key: Option<PathBuf>) -> Result<Option<Identity>, StoreError> {
        let default = |name: &str| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".postgresql").join(name))
        };
        match (cert, key) {
            (Some(cert), Some(key)) => Ok(Some(Identity { cert, key })),
            (Some(cert), None) => match default("postgresql.key").filter(|k| k.is_file()) {
                Some(key) => Ok(Some(Identity { cert, key })),
                None => Err(StoreError::Backend(format!(
                    "sslcert={} without sslkey: add sslkey=/path/to/its.key (the private key \
                     of that certificate, PEM) to --store",
                    cert.display()
                ))),
            },
            (None, Some(key)) => Err(StoreError::Backend(format!(
                "sslkey={} without sslcert: add sslcert=/path/to/its.crt (the certificate of \
                 that key, PEM) to --store",
                key.display()
            ))),
            (None, None) => {
                let Some(cert) = default("postgresql.crt").filter(|c| c.is_file()) else {
                    return Ok(None);
                };
                match default("postgresql.key").filter(|k| k.is_file()) {
                    Some(key) => Ok(Some(Identity { cert, key })),
                    None => Err(StoreError::Backend(format!(
                        "{} (libpq's default client certificate) has no key beside it \
                         (postgresql.key): add it, or give sslcert= and sslkey= in --store",
                        cert.display()
                    ))),
                }
            }
        }
    }

    /// The certificate chain and key, read and checked, and read again
    /// when their files change.
    fn load(&self) -> Result<Arc<crate::tls::KeyPair>, StoreError> {
        crate::tls::KeyPair::load(
            (
                format!("sslcert={}", self.cert.display()),
                self.cert.clone(),
            ),
            (format!("sslkey={}", self.key.display()), self.key.clone()),
            true,
        )
        .map_err(|e| StoreError::Backend(e.to_string()))
    }
}

impl Tls {
    /// Takes `sslmode` and `sslrootcert` out of `url` (a `postgres://`
    /// address; the store takes no other form): the address the driver is
    /// given, and what they asked for.
    pub fn take(url: &str) -> Result<(String, Tls), StoreError> {
        let mut mode = None;
        let mut roots = None;
        let (mut cert, mut key) = (None, None);
        // The query begins at the first `?` after the credentials (a
        // password may hold a `?`; an `@` in it must be encoded).
        let after = url.find('@').map_or(0, |at| at + 1);
        let rest = match url[after..].find('?').map(|q| after + q) {
            None => url.to_owned(),
            Some(q) => {
                let (base, query) = (&url[..q], &url[q + 1..]);
                let mut kept = Vec::new();
                for pair in query.split('&').filter(|p| !p.is_empty()) {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    match decode(k).as_str() {
                        "sslmode" => mode = Some(parse_mode(&decode(v))?),
                        "sslrootcert" => {
                            let v = decode(v);
                            roots = Some(if v == "system" {
                                Roots::System
                            } else {
                                Roots::File(PathBuf::from(v))
                            });
                        }
                        "sslcert" => cert = Some(PathBuf::from(decode(v))),
                        "sslkey" => key = Some(PathBuf::from(decode(v))),
                        "sslpassword" => {
                            return Err(StoreError::Backend(
                                "sslpassword: an encrypted private key is not supported; give \
                                 sslkey a decrypted copy, readable by its owner only (openssl \
                                 pkey -in the.key -out plain.key; chmod 600 plain.key), and \
                                 leave sslpassword out of --store"
                                    .into(),
                            ))
                        }
                        _ => kept.push(pair),
                    }
                }
                if kept.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        };
        let mode = match (mode, &roots) {
            // libpq: the machine's trust store holds every public
            // authority, so only a check of the name means anything.
            (None, Some(Roots::System)) => SslMode::VerifyFull,
            (Some(m), Some(Roots::System)) if m != SslMode::VerifyFull => {
                return Err(StoreError::Backend(format!(
                    "sslmode={} with sslrootcert=system: any public authority signs for \
                     anyone, so the system's trust store goes only with sslmode=verify-full",
                    mode_name(m)
                )))
            }
            (m, _) => m.unwrap_or(SslMode::Prefer),
        };
        // As libpq: without TLS there is no certificate to present.
        let identity = match mode {
            SslMode::Disable => None,
            _ => Identity::pick(cert, key)?,
        };
        Ok((
            rest,
            Tls {
                mode,
                roots,
                identity,
            },
        ))
    }

    /// Whether the certificate's authority is checked: by `verify-*`, and
    /// (as libpq does) by `prefer` and `require` when `sslrootcert` is
    /// given.
    fn checks_authority(&self) -> bool {
        match self.mode {
            SslMode::Disable => false,
            SslMode::Prefer | SslMode::Require => self.roots.is_some(),
            SslMode::VerifyCa | SslMode::VerifyFull => true,
        }
    }

    /// The driver's own mode: whether it asks the server for TLS, and
    /// whether it goes on without.
    pub fn driver_mode(&self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode as Driver;
        match self.mode {
            SslMode::Disable => Driver::Disable,
            SslMode::Prefer => Driver::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => Driver::Require,
        }
    }

    /// The connector every connection of the store uses.
    pub fn connector(&self) -> Result<MakeRustlsConnect, StoreError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| StoreError::Backend(format!("TLS to PostgreSQL: {e}")))?;
        let verifier: Arc<dyn ServerCertVerifier> = match self.checks_authority() {
            false => Arc::new(Unchecked(provider.clone())),
            true => {
                let verifier =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(self.roots()?), provider)
                        .build()
                        .map_err(|e| StoreError::Backend(format!("TLS to PostgreSQL: {e}")))?;
                if self.mode == SslMode::VerifyFull {
                    verifier
                } else {
                    Arc::new(AnyName(verifier))
                }
            }
        };
        let builder = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match &self.identity {
            None => builder.with_no_client_auth(),
            Some(identity) => builder.with_client_cert_resolver(identity.load()?),
        };
        Ok(MakeRustlsConnect::new(config))
    }

    /// What to say when the handshake refused the database's certificate
    /// (an error that does not pass by retrying), if that is what `e` is.
    pub fn refusal(&self, e: &(dyn std::error::Error + 'static)) -> Option<String> {
        let mut source = Some(e);
        while let Some(s) = source {
            // The driver's own words (it has no error kind for it).
            if s.to_string() == "server does not support TLS" {
                return Some(format!(
                    "the database does not offer TLS, which sslmode={} asks for: turn ssl on \
                     in its postgresql.conf, or give sslmode=prefer (TLS when offered) or \
                     sslmode=disable",
                    mode_name(self.mode)
                ));
            }
            if let Some(db) = s.downcast_ref::<tokio_postgres::error::DbError>() {
                if let Some(why) = self.auth_refusal(db) {
                    return Some(why);
                }
            }
            if let (Some(identity), Some(rustls::Error::AlertReceived(alert))) =
                (&self.identity, crate::tls::rustls_error(s))
            {
                use rustls::AlertDescription as A;
                let cert = identity.cert.display();
                return Some(match alert {
                    A::CertificateExpired => format!(
                        "the database refused this host's certificate as expired (sslcert=\
                         {cert}): give it a current one"
                    ),
                    A::UnknownCA
                    | A::BadCertificate
                    | A::CertificateUnknown
                    | A::UnsupportedCertificate
                    | A::CertificateRevoked
                    | A::AccessDenied => {
                        format!(
                            "the database refused this host's certificate (sslcert={cert}; TLS \
                             alert {alert:?}): give a certificate signed by an authority in the \
                             database's ssl_ca_file"
                        )
                    }
                    other => format!(
                        "the database ended the TLS handshake (alert {other:?}) while this host \
                         presented sslcert={cert}"
                    ),
                });
            }
            if let Some(rustls::Error::InvalidCertificate(why)) = crate::tls::rustls_error(s) {
                let mode = mode_name(self.mode);
                if matches!(
                    why,
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                ) {
                    return Some(format!(
                        "the database's certificate does not name the host in the address \
                         (sslmode={mode} checks that it does): give the host as the \
                         certificate names it, or sslmode=verify-ca to check only who signed it"
                    ));
                }
                let trusted = match &self.roots {
                    Some(Roots::File(path)) => format!("sslrootcert={}", path.display()),
                    Some(Roots::System) => "this machine's trust store".into(),
                    None => "~/.postgresql/root.crt".into(),
                };
                return Some(format!(
                    "the database's certificate is not trusted under sslmode={mode} ({why:?}; \
                     trusted now: {trusted}): give sslrootcert the file of the authority that \
                     signed it"
                ));
            }
            source = s.source();
        }
        None
    }

    /// What to say when the database refused who this host is (class 28):
    /// a user, password or certificate it does not take, which retrying
    /// does not change.
    fn auth_refusal(&self, db: &tokio_postgres::error::DbError) -> Option<String> {
        if !db.code().code().starts_with("28") {
            return None;
        }
        let said = db.message();
        let what = if said.contains("requires a valid client certificate") {
            match &self.identity {
                None => "it asks for a client certificate: give sslcert= and sslkey= in \
                         the store's address (this host's certificate, signed by an authority in the \
                         database's ssl_ca_file, and its key)"
                    .to_owned(),
                Some(identity) => format!(
                    "it did not take the certificate of sslcert={}: give one signed by an \
                     authority in the database's ssl_ca_file",
                    identity.cert.display()
                ),
            }
        } else if said.contains("no encryption") {
            "the database takes this user only over TLS: leave sslmode=disable out of the \
             address (the default, prefer, encrypts when the database offers it)"
                .to_owned()
        } else if said.contains("certificate authentication failed") {
            "the common name (CN) of the certificate given in sslcert= must be the user in \
             the address (or be mapped to it in the database's pg_ident.conf)"
                .to_owned()
        } else if self.identity.is_some() {
            "check the user and password in the store's address, and the database's pg_hba.conf (a rule \
             with clientcert=verify-full also answers so when the common name of the \
             certificate in sslcert= is not the user in the address)"
                .to_owned()
        } else {
            "check the user and password in the store's address, and the database's pg_hba.conf"
                .to_owned()
        };
        Some(format!(
            "the database refused the connection ({said}): {what}"
        ))
    }

    /// The authorities `verify-*` trust.
    fn roots(&self) -> Result<RootCertStore, StoreError> {
        let mut store = RootCertStore::empty();
        let file = match &self.roots {
            Some(Roots::System) => {
                let found = rustls_native_certs::load_native_certs();
                let (added, _) = store.add_parsable_certificates(found.certs);
                if added == 0 {
                    return Err(StoreError::Backend(format!(
                        "sslrootcert=system: this machine's trust store has no certificate \
                         ({}); give the authority's file instead, as in \
                         sslrootcert=/etc/weft/db-ca.pem",
                        found
                            .errors
                            .first()
                            .map(|e| e.to_string())
                            .unwrap_or_else(|| "none found".into())
                    )));
                }
                return Ok(store);
            }
            Some(Roots::File(path)) => path.clone(),
            None => {
                let path = std::env::var_os("HOME")
                    .filter(|h| !h.is_empty())
                    .map(|h| PathBuf::from(h).join(".postgresql/root.crt"))
                    .unwrap_or_else(|| {
                        PathBuf::from("$HOME/.postgresql/root.crt (HOME is not set)")
                    });
                if !path.is_file() {
                    return Err(StoreError::Backend(format!(
                        "sslmode={} checks the database's certificate, but no authority to \
                         check it against was given: add sslrootcert=/path/to/ca.pem to --store \
                         (or sslrootcert=system for this machine's trust store; libpq's \
                         default, {}, does not exist)",
                        mode_name(self.mode),
                        path.display()
                    )));
                }
                path
            }
        };
        let certs = CertificateDer::pem_file_iter(&file)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| {
                StoreError::Backend(format!(
                    "sslrootcert={}: cannot read PEM certificates from it ({e})",
                    file.display()
                ))
            })?;
        let (added, _) = store.add_parsable_certificates(certs);
        if added == 0 {
            return Err(StoreError::Backend(format!(
                "sslrootcert={}: no certificate in it; give the PEM file of the authority that \
                 signed the database's certificate",
                file.display()
            )));
        }
        Ok(store)
    }
}

fn parse_mode(value: &str) -> Result<SslMode, StoreError> {
    Ok(match value {
        "disable" => SslMode::Disable,
        // libpq's `allow` tries without TLS first; nothing here needs that.
        "allow" | "prefer" => SslMode::Prefer,
        "require" => SslMode::Require,
        "verify-ca" => SslMode::VerifyCa,
        "verify-full" => SslMode::VerifyFull,
        other => {
            return Err(StoreError::Backend(format!(
                "sslmode={other}: not a mode; give disable, prefer, require, verify-ca or \
                 verify-full"
            )))
        }
    })
}

fn mode_name(mode: SslMode) -> &'static str {
    match mode {
        SslMode::Disable => "disable",
        SslMode::Prefer => "prefer",
        SslMode::Require => "require",
        SslMode::VerifyCa => "verify-ca",
        SslMode::VerifyFull => "verify-full",
    }
}

/// `%2F` and the like, as the driver decodes a query's values.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `prefer` and `require`: encrypted, whoever answers (libpq's meaning).
/// The handshake's signatures are still checked.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: signed by a trusted authority, for whatever name.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_modes_and_the_authority_leave_the_address() {
        let (rest, tls) = Tls::take(
            "postgres://weft@db:5432/weft?application_name=x&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(rest, "postgres://weft@db:5432/weft?application_name=x");
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert_eq!(tls.roots, Some(Roots::File("/etc/ca.pem".into())));

        let (rest, tls) = Tls::take("postgres://weft@db/weft").unwrap();
        assert_eq!(
            (rest.as_str(), tls.mode),
            ("postgres://weft@db/weft", SslMode::Prefer)
        );

        // The system's trust store goes with verify-full only (libpq).
        let (_, tls) = Tls::take("postgres://db/weft?sslrootcert=system").unwrap();
        assert_eq!(
            (tls.mode, tls.roots),
            (SslMode::VerifyFull, Some(Roots::System))
        );
        let e = Tls::take("postgres://db/weft?sslmode=require&sslrootcert=system").unwrap_err();
        assert!(
            e.to_string().contains("only with sslmode=verify-full"),
            "{e}"
        );
        // An authority given to require is checked (libpq).
        let (_, tls) = Tls::take("postgres://db/weft?sslmode=require&sslrootcert=/ca.pem").unwrap();
        assert!(tls.checks_authority());
        // A `?` in the password is no query.
        let (rest, tls) = Tls::take("postgres://u:pa?ss@db/w?sslmode=require").unwrap();
        assert_eq!(
            (rest.as_str(), tls.mode),
            ("postgres://u:pa?ss@db/w", SslMode::Require)
        );

        let e = Tls::take("postgres://db/weft?sslmode=verify").unwrap_err();
        assert!(e.to_string().contains("sslmode=verify: not a mode"), "{e}");
    }

    #[test]
    fn a_client_certificate_and_key_leave_the_address_together() {
        let (rest, tls) = Tls::take(
            "postgres://weft@db/weft?sslcert=%2Fk%2Fh.crt&sslmode=require&sslkey=/k/h.key",
        )
        .unwrap();
        assert_eq!(rest, "postgres://weft@db/weft");
        assert_eq!(
            tls.identity,
            Some(Identity {
                cert: "/k/h.crt".into(),
                key: "/k/h.key".into()
            })
        );
        // Without TLS there is nothing to present them on (libpq).
        let (_, tls) =
            Tls::take("postgres://db/weft?sslmode=disable&sslcert=/a.crt&sslkey=/a.key").unwrap();
        assert_eq!(tls.identity, None);
        let e = Tls::take("postgres://db/weft?sslkey=/a.key").unwrap_err();
        assert!(e.to_string().contains("without sslcert"), "{e}");
        let e = Tls::take("postgres://db/weft?sslcert=/a.crt&sslpassword=x").unwrap_err();
        assert!(e.to_string().contains("encrypted private key"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn a_key_others_may_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("h.key");
        std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\n").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = crate::tls::check_key_private("sslkey=h.key", &key).unwrap_err();
        assert!(
            e.to_string().contains("mode 0644") && e.to_string().contains("chmod 600"),
            "{e}"
        );
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        crate::tls::check_key_private("sslkey=h.key", &key).unwrap();
        // Readable by its group: only a file root owns (libpq, whoever
        // reads it; found by a user whose root-owned 0640 key psql took).
        use std::os::unix::fs::MetadataExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
        let by_root = std::fs::metadata(&key).unwrap().uid() == 0;
        let checked = crate::tls::check_key_private("sslkey=h.key", &key);
        assert_eq!(checked.is_ok(), by_root, "{checked:?}");
    }

    #[test]
    fn an_encrypted_key_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("h.key");
        std::fs::write(
            &key,
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )
        .unwrap();
        let e = crate::tls::read_key("sslkey=h.key", &key).unwrap_err();
        assert!(e.to_string().contains("is encrypted"), "{e}");
    }

    #[test]
    fn an_authority_that_is_no_certificate_is_named() {
        let dir = std::env::temp_dir().join(format!("weft-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ca.pem");
        std::fs::write(&file, "not a certificate\n").unwrap();
        let url = format!(
            "postgres://db/weft?sslmode=verify-full&sslrootcert={}",
            file.display()
        );
        let (_, tls) = Tls::take(&url).unwrap();
        let e = tls.connector().err().expect("refused");
        assert!(e.to_string().contains("no certificate in it"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
