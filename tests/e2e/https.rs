//! HTTPS for the API: a host serving `--tls-cert`/`--tls-key`, the CLI
//! trusting its authority with `--ca-cert`, and what a client is told when
//! the certificate is not trusted or the scheme is wrong. With PostgreSQL,
//! a standby forwarding to the holder over HTTPS.

use std::path::{Path, PathBuf};
use std::process::Command;

use weft_e2e::{fresh_database_name, postgres_base, weft_bin, Host, CLI_LIMIT};

/// An authority and a certificate it signed for 127.0.0.1 (and localhost),
/// written as PEM files under `dir`: `ca.pem`, `host.pem`, `host.key`, and
/// `other-ca.pem` (an authority that signed nothing here). Also client
/// certificates with their keys: `client.pem` and `client.key` signed by
/// the authority, `stranger.pem` and `stranger.key` by the other.
fn certificates(dir: &Path) -> [PathBuf; 4] {
    let authority = |name: &str| {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        rcgen::CertifiedIssuer::self_signed(params, key).expect("authority")
    };
    let ca = authority("weft test authority");
    let other = authority("another authority");
    let key = rcgen::KeyPair::generate().expect("key");
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("params");
    let cert = params.signed_by(&key, &ca).expect("certificate");
    for (name, issuer) in [("client", &ca), ("stranger", &other)] {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("weft {name}"));
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, issuer).expect("client certificate");
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).expect("write");
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).expect("write");
    }
    // The host's certificate renewed under the other authority.
    let renewed_key = rcgen::KeyPair::generate().expect("key");
    let renewed =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("params")
            .signed_by(&renewed_key, &other)
            .expect("certificate");
    std::fs::write(dir.join("renewed.pem"), renewed.pem()).expect("write");
    std::fs::write(dir.join("renewed.key"), renewed_key.serialize_pem()).expect("write");
    let paths = ["ca.pem", "host.pem", "host.key", "other-ca.pem"].map(|f| dir.join(f));
    for (path, pem) in paths
        .iter()
        .zip([ca.pem(), cert.pem(), key.serialize_pem(), other.pem()])
    {
        std::fs::write(path, pem).expect("write a PEM file");
    }
    paths
}

/// Runs `hello` for `name` through `host`'s CLI and checks its greeting.
fn says_hello(host: &Host, name: &str) {
    let input = format!(r#"{{"name": "{name}"}}"#);
    let out = host.cli_ok(&["start", "hello", "--input", &input, "--wait"]);
    let greeting = format!("HELLO, {}!", name.to_uppercase());
    assert!(out.contains(&greeting), "{out}");
}

fn weft(args: &[&str]) -> std::process::Output {
    weft_e2e::output_within(
        Command::new(weft_bin())
            .args(args)
            .env_remove("WEFT_SERVER")
            .env_remove("WEFT_CA_CERT")
            .env_remove("WEFT_CLIENT_CERT")
            .env_remove("WEFT_CLIENT_KEY"),
        CLI_LIMIT,
    )
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_host_serves_https_and_the_cli_trusts_its_authority_when_told() {
    let dir = tempfile::tempdir().expect("temp dir");
    let [ca, cert, key, other] = certificates(dir.path());
    let s = |p: &PathBuf| p.to_string_lossy().into_owned();
    let host = Host::with_args(&[
        "--manual-clock",
        "--tls-cert",
        &s(&cert),
        "--tls-key",
        &s(&key),
        "--ca-cert",
        &s(&ca),
    ]);
    let url = host.url.clone();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    // Through the CLI, trusting the authority (WEFT_CA_CERT, the harness).
    host.deploy_examples();
    says_hello(&host, "sealed");

    // Without the authority, or with another: refused, saying what to pass.
    for extra in [vec![], vec!["--ca-cert".to_string(), s(&other)]] {
        let mut args = vec!["list", "--server", &url];
        args.extend(extra.iter().map(String::as_str));
        let out = weft(&args);
        assert!(!out.status.success(), "{}", text(&out));
        let said = text(&out);
        assert!(
            said.contains("certificate is not trusted") && said.contains("--ca-cert"),
            "{said}"
        );
    }
    // Plain HTTP to the HTTPS port: the host answers what to use, also to
    // a request still sending its body (an upload).
    let plain = url.replacen("https://", "http://", 1);
    let out = weft(&["list", "--server", &plain]);
    assert!(!out.status.success());
    assert!(text(&out).contains("serves HTTPS"), "{}", text(&out));
    let module = weft_e2e::guest("hello").to_string_lossy().into_owned();
    let out = weft(&["deploy", &module, "--server", &plain]);
    assert!(!out.status.success());
    assert!(text(&out).contains("serves HTTPS"), "{}", text(&out));
    // A certificate without its key is refused at the start, naming both;
    // a key file that holds no key is named.
    let data = s(&dir.path().join("data"));
    let refused = |tls: &[&str]| {
        let mut args = vec!["server", "--listen", "127.0.0.1:0", "--data", &data];
        args.extend_from_slice(tls);
        let out = weft(&args);
        assert!(!out.status.success());
        text(&out)
    };
    let said = refused(&["--tls-cert", &s(&cert)]);
    assert!(
        said.contains("--tls-cert and --tls-key go together"),
        "{said}"
    );
    let said = refused(&["--tls-cert", &s(&cert), "--tls-key", &s(&ca)]);
    assert!(said.contains("no PRIVATE KEY in it"), "{said}");
}

/// A renewed certificate is taken without a restart: the host's files are
/// replaced by a certificate another authority signed, and from the next
/// look at them (at most a second later) clients trusting that authority
/// are let in, and those trusting only the old one are not.
#[test]
fn a_renewed_certificate_is_taken_without_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let [ca, cert, key, other] = certificates(dir.path());
    let s = |p: &PathBuf| p.to_string_lossy().into_owned();
    let host = Host::with_args(&["--tls-cert", &s(&cert), "--tls-key", &s(&key)]);
    let url = host.url.clone();
    let trusting = |authority: &PathBuf| {
        weft(&["list", "--server", &url, "--ca-cert", &s(authority)])
            .status
            .success()
    };
    assert!(trusting(&ca) && !trusting(&other));
    std::fs::copy(dir.path().join("renewed.key"), &key).expect("renew the key");
    std::fs::copy(dir.path().join("renewed.pem"), &cert).expect("renew the certificate");
    host.eventually("the renewed certificate in use", |_| trusting(&other));
    assert!(!trusting(&ca));
    assert!(
        host.log().contains("read a changed certificate and key"),
        "{}",
        host.log()
    );
}

/// A host asking for client certificates (`--client-ca`): a CLI without
/// one, or with one another authority signed, is refused saying what to
/// give; one its authority signed is let in. A flag given by half, or
/// `--client-ca` without HTTPS, stops the start or the command naming it.
#[test]
fn a_host_that_asks_for_client_certificates_lets_in_only_those_its_authority_signed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let [ca, cert, key, _] = certificates(dir.path());
    let s = |p: &PathBuf| p.to_string_lossy().into_owned();
    let file = |name: &str| s(&dir.path().join(name));
    let host = Host::with_args(&[
        "--token",
        "t0ken",
        "--tls-cert",
        &s(&cert),
        "--tls-key",
        &s(&key),
        "--ca-cert",
        &s(&ca),
        "--client-ca",
        &s(&ca),
        "--client-cert",
        &file("client.pem"),
        "--client-key",
        &file("client.key"),
    ]);
    // The CLI presents the certificate (WEFT_CLIENT_CERT and _KEY, the
    // harness).
    host.deploy_examples();
    says_hello(&host, "known");
    // So does the Python worker (with the token), polling its task queue.
    let _worker = weft_e2e::Worker::python(&host, "python", true);
    let out = host.cli_ok(&[
        "start",
        "polling",
        "--input",
        r#"{"mode": "remote", "n": 7}"#,
        "--wait",
    ]);
    assert!(
        out.contains("\"square\": 49") || out.contains("\"square\":49"),
        "{out}"
    );

    let url = host.url.clone();
    let ca_s = s(&ca);
    let base = [
        "list",
        "--server",
        &url,
        "--ca-cert",
        &ca_s,
        "--token",
        "t0ken",
    ];
    let refused = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let out = weft(&args);
        assert!(!out.status.success(), "{}", text(&out));
        text(&out)
    };
    let said = refused(&[]);
    assert!(
        said.contains("asks for a client certificate") && said.contains("--client-cert"),
        "{said}"
    );
    let (stranger, stranger_key) = (file("stranger.pem"), file("stranger.key"));
    let said = refused(&["--client-cert", &stranger, "--client-key", &stranger_key]);
    // The host's alert, or (TLS 1.3: it may come after the handshake
    // looked done) the connection closed: both name the way out.
    assert!(
        (said.contains("refused this client") || said.contains("may have refused this one"))
            && said.contains("--client-ca"),
        "{said}"
    );
    let (client, client_key) = (file("client.pem"), file("client.key"));
    let said = refused(&["--client-cert", &client]);
    assert!(said.contains("go together"), "{said}");
    let said = refused(&["--client-cert", &client, "--client-key", &stranger_key]);
    assert!(
        said.contains("not the key the certificate was issued for"),
        "{said}"
    );
    let mut args = base.to_vec();
    args.extend(["--client-cert", &client, "--client-key", &client_key]);
    let out = weft(&args);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("hello"), "{}", text(&out));
    // The host said why it refused them.
    host.eventually("the refusals in the host's log", |h| {
        h.log().contains("refused clients' TLS handshakes")
    });

    // --client-ca asks for certificates over HTTPS only.
    let data = s(&dir.path().join("data"));
    let out = weft(&[
        "server",
        "--listen",
        "127.0.0.1:0",
        "--data",
        &data,
        "--client-ca",
        &ca_s,
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("give --tls-cert and --tls-key too"),
        "{}",
        text(&out)
    );
}

/// With PostgreSQL: a standby forwards a client's request to the holder's
/// advertised https:// address, trusting the authority of `--ca-cert` and
/// presenting the certificate of `--client-cert` (every host asks for
/// one).
#[test]
fn a_standby_forwards_to_its_holder_over_https() {
    let Some(base) = postgres_base() else {
        eprintln!(
            "no PostgreSQL for this run (WEFT_TEST_POSTGRES unset): the PostgreSQL pass runs it"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let [ca, cert, key, _] = certificates(dir.path());
    let s = |p: &PathBuf| p.to_string_lossy().into_owned();
    let store = format!("{base}/{}", fresh_database_name());
    let tls = [
        "--tls-cert".to_string(),
        s(&cert),
        "--tls-key".to_string(),
        s(&key),
        "--ca-cert".to_string(),
        s(&ca),
        "--client-ca".to_string(),
        s(&ca),
        "--client-cert".to_string(),
        s(&dir.path().join("client.pem")),
        "--client-key".to_string(),
        s(&dir.path().join("client.key")),
    ];
    let args: Vec<&str> = tls.iter().map(String::as_str).collect();
    let holder = Host::in_cluster(&store, &args, &[]);
    holder.eventually("the first host holds the store", |h| {
        h.cli_ok(&["cluster"]).contains("holder")
    });
    let standby = Host::in_cluster(&store, &args, &[]);
    standby.deploy_examples();
    says_hello(&standby, "relayed");
    let view = standby.cli_ok(&["cluster"]);
    assert!(view.contains("https://"), "{view}");

    // A standby not given the holder's authority answers at once, saying
    // why, rather than waiting for a holder that answers.
    let mut untrusting = Host::in_cluster(&store, &args[..4], &[]);
    // Its CLI trusts it; the host itself is not told the authority.
    untrusting.ca_cert = Some(s(&ca));
    let out = untrusting.cli(&["start", "hello", "--input", r#"{"name": "x"}"#]);
    assert!(!out.status.success());
    let said = text(&out);
    assert!(
        said.contains("cannot forward") && said.contains("--ca-cert") && said.contains("502"),
        "{said}"
    );
}
