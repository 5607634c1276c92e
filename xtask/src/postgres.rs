//! A throwaway PostgreSQL cluster for the test suite: `initdb` into the
//! target directory, `pg_ctl start` on a free loopback port, stopped (and
//! its directory removed) when dropped. Uses the distribution's server
//! binaries, installed with apt when absent; nothing else is downloaded.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{run, step, Result};

pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    /// The user the server runs as when we are root (`initdb` refuses root).
    user: Option<String>,
    port: u16,
    /// Whether the server offers TLS (the test suite's does; a benchmark's
    /// does not, so its figures stay comparable).
    tls: bool,
}

impl Cluster {
    /// Starts a cluster under `parent`. Its superuser is `weft`, trusted on
    /// loopback (the cluster lives as long as the suite and listens nowhere
    /// else). With `tls`, it also offers TLS, with a certificate for
    /// 127.0.0.1 signed by an authority of its own (`tls_dir`).
    pub fn start(parent: &Path, tls: bool) -> Result<Cluster> {
        let bin = server_bin()?;
        let port = free_port()?;
        let dir = parent.join(format!("pg-{port}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let user = if is_root() {
            let user = ["postgres", "nobody"]
                .into_iter()
                .find(|u| Command::new("id").arg(u).output().is_ok_and(|o| o.status.success()))
                .ok_or("running as root with neither a postgres nor a nobody user to run PostgreSQL as")?;
            run(Command::new("chown").args(["-R", user]).arg(&dir))?;
            Some(user.to_owned())
        } else {
            None
        };
        let cluster = Cluster {
            dir,
            bin,
            user,
            port,
            tls,
        };
        step(&format!(
            "starting a throwaway PostgreSQL on 127.0.0.1:{port}"
        ));
        run(cluster
            .command("initdb")
            .arg("-D")
            .arg(cluster.data())
            .args(["-U", "weft", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .arg("--no-instructions"))?;
        let mut options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=400 \
             -c shared_buffers=128MB",
            cluster.dir.display()
        );
        if tls {
            cluster.certificates()?;
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={0}/server.crt -c ssl_key_file={0}/server.key \
                 -c ssl_ca_file={0}/ca.pem",
                cluster.dir.join("tls").display()
            ));
            cluster.certificate_logins()?;
        }
        run(cluster
            .command("pg_ctl")
            .arg("-D")
            .arg(cluster.data())
            .arg("-l")
            .arg(cluster.dir.join("server.log"))
            .args(["-o", &options, "-w", "start"]))?;
        // For the test that restarts the database under a host.
        let restart = format!(
            "#!/bin/sh\nexec {} -D '{}' -l '{}' -o '{options}' -m fast -w restart\n",
            cluster
                .command_line("pg_ctl")
                .iter()
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" "),
            cluster.data().display(),
            cluster.dir.join("server.log").display(),
        );
        std::fs::write(cluster.restart_script(), restart)
            .map_err(|e| format!("writing the restart script: {e}"))?;
        run(Command::new("chmod")
            .arg("+x")
            .arg(cluster.restart_script()))?;
        Ok(cluster)
    }

    /// Where the TLS files are: `ca.pem` (the authority that signed the
    /// server's certificate and the clients' it trusts), `other-ca.pem`
    /// (one that did not), the server's own, and client certificates with
    /// their keys: `client` (for the role `weft_cert`), `stranger` (the
    /// same name, signed by `other-ca`), `other-user` (for `weft`).
    pub fn tls_dir(&self) -> Option<PathBuf> {
        self.tls.then(|| self.dir.join("tls"))
    }

    /// Makes the authorities, the server's certificate (for 127.0.0.1
    /// only: a test names the server `localhost` to be refused by
    /// `verify-full`) and the clients' (see `tls_dir`) with `openssl`,
    /// installed when absent.
    fn certificates(&self) -> Result {
        let dir = self.dir.join("tls");
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        if Command::new("openssl").arg("version").output().is_err() {
            step("installing openssl (apt) for the PostgreSQL TLS test");
            super::apt_install(&["openssl"])?;
        }
        let openssl = |args: &[&str]| run(Command::new("openssl").args(args).current_dir(&dir));
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        for ca in ["ca", "other-ca"] {
            let (key, pem, subject) = (
                format!("{ca}.key"),
                format!("{ca}.pem"),
                format!("/CN=weft test {ca}"),
            );
            let mut args = vec!["req", "-x509", "-days", "3650", "-subj", &subject];
            args.extend(ec);
            args.extend([
                "-keyout",
                &key,
                "-out",
                &pem,
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ]);
            openssl(&args)?;
        }
        // `name`.key and `name`.crt for `subject`, signed by `ca`.
        let issue = |name: &str, subject: &str, usage: &str, ca: &str| -> Result {
            let (key, csr, ext, crt) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.ext"),
                format!("{name}.crt"),
            );
            let mut args = vec!["req", "-new", "-subj", subject];
            args.extend(ec);
            args.extend(["-keyout", &key, "-out", &csr]);
            openssl(&args)?;
            std::fs::write(
                dir.join(&ext),
                format!("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n{usage}\n"),
            )
            .map_err(|e| format!("writing {ext}: {e}"))?;
            let (ca_pem, ca_key) = (format!("{ca}.pem"), format!("{ca}.key"));
            openssl(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca_pem,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-days",
                "3650",
                "-extfile",
                &ext,
                "-out",
                &crt,
            ])?;
            // The server reads its key only if it owns it and nobody else
            // may; libpq and weft ask the same of a client's.
            run(Command::new("chmod").arg("600").arg(dir.join(&key)))
        };
        issue(
            "server",
            "/CN=127.0.0.1",
            "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1",
            "ca",
        )?;
        // Client certificates for the role `weft_cert`, which pg_hba.conf
        // lets in by certificate only: one the server trusts, one from an
        // authority it does not, and one for another user.
        let client = "extendedKeyUsage=clientAuth";
        issue("client", "/CN=weft_cert", client, "ca")?;
        issue("stranger", "/CN=weft_cert", client, "other-ca")?;
        issue("other-user", "/CN=weft", client, "ca")?;
        if let Some(user) = &self.user {
            run(Command::new("chown").args(["-R", user]).arg(&dir))?;
        }
        Ok(())
    }

    /// The role `weft_cert` (created by the test that uses it) comes in
    /// over TCP only with TLS and a client certificate the cluster's
    /// authority signed for it (its Unix socket is trusted, as every
    /// role's); every other role is trusted as before.
    fn certificate_logins(&self) -> Result {
        let hba = self.data().join("pg_hba.conf");
        let trusted =
            std::fs::read_to_string(&hba).map_err(|e| format!("reading {}: {e}", hba.display()))?;
        std::fs::write(
            &hba,
            format!(
                "hostssl all weft_cert 127.0.0.1/32 cert\n\
                 host all weft_cert 0.0.0.0/0 reject\n{trusted}"
            ),
        )
        .map_err(|e| format!("writing {}: {e}", hba.display()))
    }

    /// A script that restarts the cluster (fast shutdown: every connection
    /// ends) and returns once it accepts connections again.
    pub fn restart_script(&self) -> PathBuf {
        self.dir.join("restart.sh")
    }

    /// The words that run `tool` (as the cluster's user when we are root).
    fn command_line(&self, tool: &str) -> Vec<String> {
        let path = self.bin.join(tool).to_string_lossy().into_owned();
        match &self.user {
            Some(user) => vec![
                "runuser".into(),
                "-u".into(),
                user.clone(),
                "--".into(),
                path,
            ],
            None => vec![path],
        }
    }

    /// The address of the cluster, without a database.
    pub fn url(&self) -> String {
        format!("postgres://weft@127.0.0.1:{}", self.port)
    }

    /// The cluster's `psql`, for the tests that talk to it directly.
    pub fn psql(&self) -> PathBuf {
        self.bin.join("psql")
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        match &self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

/// The directory holding `initdb` and `pg_ctl`: on PATH, or the newest
/// `/usr/lib/postgresql/N/bin`; installs the distribution's package when
/// neither has them.
fn server_bin() -> Result<PathBuf> {
    if let Some(dir) = find_server_bin() {
        return Ok(dir);
    }
    step("installing postgresql (apt) for the PostgreSQL store tests");
    super::apt_install(&["postgresql"])?;
    find_server_bin().ok_or_else(|| "postgresql was installed but initdb is nowhere".into())
}

fn find_server_bin() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p).find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
    });
    if let Some(dir) = on_path {
        // A symlink on PATH (Debian's /usr/local/bin links): the real
        // directory, so both tools come from one version.
        return Some(
            std::fs::canonicalize(dir.join("initdb"))
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
                .unwrap_or(dir),
        );
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((n, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}
