//! HTTPS for the API: a host serving `--tls-cert`/`--tls-key`, the CLI
//! trusting its authority with `--ca-cert`, and what a client is told when
//! the certificate is not trusted or the scheme is wrong. With PostgreSQL,
//! a standby forwarding to the holder over HTTPS.

use std::path::{Path, PathBuf};
use std::process::Command;

use weft_e2e::{fresh_database_name, postgres_base, weft_bin, Host};

/// An authority and a certificate it signed for 127.0.0.1 (and localhost),
/// written as PEM files under `dir`: `ca.pem`, `host.pem`, `host.key`, and
/// `other-ca.pem` (an authority that signed nothing here).
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
    let paths = ["ca.pem", "host.pem", "host.key", "other-ca.pem"].map(|f| dir.join(f));
    for (path, pem) in paths
        .iter()
        .zip([ca.pem(), cert.pem(), key.serialize_pem(), other.pem()])
    {
        std::fs::write(path, pem).expect("write a PEM file");
    }
    paths
}

fn weft(args: &[&str]) -> std::process::Output {
    Command::new(weft_bin())
        .args(args)
        .env_remove("WEFT_SERVER")
        .env_remove("WEFT_CA_CERT")
        .output()
        .expect("run weft")
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
    let out = host.cli_ok(&[
        "start",
        "hello",
        "--input",
        r#"{"name": "sealed"}"#,
        "--wait",
    ]);
    assert!(out.contains("HELLO, SEALED!"), "{out}");

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

/// With PostgreSQL: a standby forwards a client's request to the holder's
/// advertised https:// address, trusting the authority of `--ca-cert`.
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
    ];
    let args: Vec<&str> = tls.iter().map(String::as_str).collect();
    let holder = Host::in_cluster(&store, &args, &[]);
    holder.eventually("the first host holds the store", |h| {
        h.cli_ok(&["cluster"]).contains("holder")
    });
    let standby = Host::in_cluster(&store, &args, &[]);
    standby.deploy_examples();
    let out = standby.cli_ok(&[
        "start",
        "hello",
        "--input",
        r#"{"name": "relayed"}"#,
        "--wait",
    ]);
    assert!(out.contains("HELLO, RELAYED!"), "{out}");
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
