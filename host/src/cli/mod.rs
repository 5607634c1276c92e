//! The `weft` command line. Every command except `server`, `dev`,
//! `replay`, `new` and `build` is a client of the HTTP API.

mod client;
mod cluster;
mod deploy;
mod executions;
mod interact;
mod partitions;
mod progress;
mod project;
mod replay;
mod schedules;
mod sdk;
mod server;
mod time;
mod versions;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::model::IdReusePolicy;
use client::Client;

#[derive(Debug, Parser)]
#[command(
    long_version = LONG_VERSION,
    name = "weft",
    version,
    about = "A durable workflow host for WebAssembly components"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where a client command finds its host: offered only on the commands that
/// talk to one.
#[derive(Debug, clap::Args)]
struct Conn {
    /// The host to talk to (`http://host:port`, `https://host:port`, or
    /// `host:port` for http).
    #[arg(
        long,
        global = true,
        env = "WEFT_SERVER",
        default_value = "http://127.0.0.1:7700"
    )]
    server: String,
    /// The API token the host requires.
    #[arg(long, global = true, env = "WEFT_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Authorities (PEM) to trust for an https:// host, beyond the system's.
    #[arg(long, global = true, env = "WEFT_CA_CERT", value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// The certificate (PEM) to present to a host that asks for one
    /// (its --client-ca). Give --client-key with it.
    #[arg(long, global = true, env = "WEFT_CLIENT_CERT", value_name = "FILE")]
    client_cert: Option<PathBuf>,
    /// The private key (PEM) of --client-cert.
    #[arg(long, global = true, env = "WEFT_CLIENT_KEY", value_name = "FILE")]
    client_key: Option<PathBuf>,
    /// How long each request waits for the host's answer before the
    /// command gives up (a host paused, overloaded or cut off keeps the
    /// connection open): milliseconds or `30s`, `10m`; `0` waits as long
    /// as it takes. The default outlasts the longest a host holds a
    /// request itself (an update waits up to 5 minutes for its workflow).
    #[arg(
        long,
        global = true,
        env = "WEFT_TIMEOUT",
        value_parser = parse_duration,
        value_name = "DURATION",
        default_value = "10m"
    )]
    timeout: u64,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the host: its store in the data directory (redb), or in PostgreSQL with --store.
    Server {
        /// The data directory (created if missing): the store (redb), unless
        /// --store puts it in PostgreSQL, and the compile cache.
        #[arg(long, default_value = "./weft-data")]
        data: PathBuf,
        #[command(flatten)]
        host: server::HostArgs,
    },
    /// Run the host on a throwaway data directory, for trying things.
    Dev {
        #[command(flatten)]
        host: server::HostArgs,
    },
    /// Upload a workflow or activity component.
    Deploy {
        #[command(flatten)]
        conn: Conn,
        /// The component (`.wasm`) to upload.
        file: PathBuf,
        /// Workflow type name (default: the `name` in the weft.toml of the
        /// project the file was built in, else the file's stem).
        #[arg(long)]
        name: Option<String>,
        /// Activity components only: an environment variable it sees (repeatable).
        #[arg(long = "env", value_name = "KEY=VALUE")]
        env: Vec<String>,
        /// Activity components only: a host directory it sees
        /// (HOST[:GUEST[:ro]], repeatable).
        #[arg(long = "dir", value_name = "HOST[:GUEST[:ro]]")]
        dirs: Vec<String>,
        /// Activity components only: a host it may call over HTTP
        /// (`host` or `host:port`, repeatable).
        #[arg(long = "allow-http", value_name = "HOST[:PORT]")]
        http: Vec<String>,
        /// Activity components only: take activity names another component
        /// serves together with names this one does not (refused otherwise).
        #[arg(long)]
        replace_activities: bool,
    },
    /// Create a workflow or activity project that builds and deploys as it
    /// stands: it depends on the weft SDK package (by default the one this
    /// weft carries, written by `weft sdk`) and holds the WIT package.
    New {
        /// The project's name (lowercase letters, digits and `-`).
        name: String,
        #[arg(long, value_enum)]
        lang: project::Lang,
        #[arg(long, value_enum, default_value = "workflow")]
        kind: project::Kind,
        /// Where to create it (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The SDK package to depend on: a directory holding the packages
        /// (`weft sdk --dir`'s, or a weft checkout's `guest-sdk`), or a
        /// version from the registry (default: the packages of this weft,
        /// in `$WEFT_HOME/sdk/VERSION`, written if missing).
        #[arg(long, value_name = "DIR|VERSION")]
        sdk: Option<String>,
    },
    /// Write the guest SDK packages this weft carries (a Rust crate, a
    /// Python package, an npm package) for projects to depend on by path.
    Sdk {
        /// Where (default: $WEFT_HOME/sdk/VERSION, WEFT_HOME defaulting to
        /// ~/.weft).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Build a project into a component (cargo for Rust, componentize-py
    /// for Python, componentize-js for JavaScript): NAME.wasm in the project.
    Build {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Where to write the component (default: DIR/NAME.wasm).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List the deployed modules: what each is and serves, and when it came;
    /// `weft modules prune` deletes those nothing refers to.
    Modules {
        #[command(flatten)]
        conn: Conn,
        #[command(subcommand)]
        action: Option<ModulesAction>,
        /// Print the JSON the API answers.
        #[arg(long)]
        json: bool,
    },
    /// Delete a closed execution and its history now (retention does it
    /// later on its own).
    Delete {
        #[command(flatten)]
        conn: Conn,
        /// The execution's id.
        id: String,
    },
    /// Set how long a workflow type's closed executions are kept (and its
    /// executions' start and signal request ids).
    Retention {
        #[command(flatten)]
        conn: Conn,
        /// The workflow type.
        workflow_type: String,
        /// `30d`, `12h`, milliseconds, or `default` for the host's --retention.
        duration: String,
    },
    /// The store file itself (offline: no host may be running on it).
    Store {
        #[command(subcommand)]
        action: StoreAction,
    },
    /// List the workflow types: each one's current version and what runs.
    Types {
        #[command(flatten)]
        conn: Conn,
        /// Print JSON: `[{"name", "current_version", "current_module", "versions", "running", "stalled"}]`.
        #[arg(long)]
        json: bool,
    },
    /// Show a module: its kind, what it serves, the doors opened for it.
    DescribeModule {
        #[command(flatten)]
        conn: Conn,
        /// The module's sha-256 (or a prefix of 8+ digits).
        hash: String,
        /// Print the JSON the API answers.
        #[arg(long)]
        json: bool,
    },
    /// Start an execution.
    Start {
        #[command(flatten)]
        conn: Conn,
        /// The workflow type to run (see `weft types`).
        workflow_type: String,
        /// The execution's id (default: a generated `wf_<ulid>`).
        #[arg(long)]
        id: Option<String>,
        #[command(flatten)]
        input: InputArgs,
        /// Makes a retried start safe: a start with a request id seen within
        /// the type's retention (7 days by default) prints the execution that
        /// request started (running or closed) instead of starting another.
        #[arg(long)]
        request_id: Option<String>,
        /// allow-duplicate (default), allow-duplicate-failed-only or reject-duplicate.
        #[arg(long, value_parser = parse_reuse, default_value = "allow-duplicate")]
        id_reuse_policy: IdReusePolicy,
        /// Time the execution out (terminated, no code runs) this long after
        /// its start, across continue-as-new: `30m`, `2h`, `7d`, or ms.
        #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
        execution_timeout: Option<u64>,
        /// Time each run out this long after it starts.
        #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
        run_timeout: Option<u64>,
        /// A search attribute to start with, NAME=VALUE (repeatable): VALUE
        /// as JSON when it parses (`Amount=12.5`, `Tags='["a","b"]'`), else
        /// a string (`CustomerId=c-42`); its type is the name's on the host,
        /// or the value's for a new name.
        #[arg(long = "search-attribute", value_name = "NAME=VALUE")]
        search_attributes: Vec<String>,
        /// A memo field to start with, NAME=VALUE (repeatable; JSON or a string).
        #[arg(long, value_name = "NAME=VALUE")]
        memo: Vec<String>,
        /// Wait for the result and print it.
        #[arg(long)]
        wait: bool,
        /// Print JSON: `{"id", "run"}`, and with `--wait` the result.
        #[arg(long)]
        json: bool,
    },
    /// Ask an execution to cancel: it sees a cancellation at its next wait
    /// and may clean up before it ends as cancelled.
    Cancel {
        #[command(flatten)]
        conn: Conn,
        /// The execution's id.
        id: String,
        /// Why, kept in its history.
        #[arg(long)]
        reason: Option<String>,
        /// Makes a retry safe: done once under the execution id (for its
        /// type's retention), also after it ended the execution and a
        /// start reused the id (then the new execution is left alone).
        #[arg(long)]
        request_id: Option<String>,
    },
    /// End an execution at once; no workflow code runs.
    Terminate {
        #[command(flatten)]
        conn: Conn,
        /// The execution's id.
        id: String,
        /// Why, kept in its history.
        #[arg(long)]
        reason: Option<String>,
        /// Makes a retry safe: done once under the execution id (for its
        /// type's retention), also after it ended the execution and a
        /// start reused the id (then the new execution is left alone).
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Print an execution's result (exit 1 if it failed, was cancelled or
    /// terminated, or stalled; 3 if it is still running).
    Result {
        #[command(flatten)]
        conn: Conn,
        /// The execution's id.
        id: String,
        /// Wait until it settles.
        #[arg(long)]
        wait: bool,
        /// Print the result as JSON (`{"id", "status", "output", "failure", "stall_reason"}`).
        #[arg(long)]
        json: bool,
        /// The result of this run and the runs it continued as new into,
        /// also once another execution took the id (default: the latest).
        #[arg(long)]
        run: Option<u32>,
    },
    /// Show an execution.
    Describe {
        #[command(flatten)]
        conn: Conn,
        /// The execution's id.
        id: String,
        /// Print the JSON the API answers.
        #[arg(long)]
        json: bool,
    },
    /// List executions, newest first, a page at a time.
    List(executions::ListArgs),
    /// The search attributes `weft list --query` may name, with their types:
    /// the system ones and every custom one on this host (`create` and
    /// `remove` manage the custom ones).
    SearchAttributes {
        #[command(flatten)]
        conn: Conn,
        /// Print JSON: `{"attributes": [{"name", "type", "system"}]}`.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<SearchAttributeAction>,
    },
    /// Print what an execution's workflow and activities said (their log
    /// lines and output), with where and when; `--follow` until it closes.
    Logs {
        #[command(flatten)]
        conn: Conn,
        /// The execution's id.
        id: String,
        /// Keep printing new lines until the execution has closed.
        #[arg(long, short = 'f')]
        follow: bool,
        /// Print JSON lines: `{"seq", "at_ms", "source", "level", "line"}`.
        #[arg(long)]
        json: bool,
    },
    /// Print an execution's event history (`--json`: the format `weft replay` reads).
    History {
        #[command(flatten)]
        conn: Conn,
        /// The execution's id.
        id: String,
        /// Which run (default: the current one).
        #[arg(long)]
        run: Option<u32>,
        /// Print the `weft-history/1` JSON that `weft replay` reads.
        #[arg(long)]
        json: bool,
    },
    /// Replay exported histories against a module, offline.
    #[command(group(clap::ArgGroup::new("histories").required(true)))]
    Replay {
        /// A history exported with `weft history ID --json`.
        #[arg(long, group = "histories")]
        history: Option<PathBuf>,
        /// Every `.json` history in this directory (and below it).
        #[arg(long, group = "histories")]
        dir: Option<PathBuf>,
        /// The workflow component to replay it on.
        #[arg(long)]
        module: PathBuf,
    },
    /// Send a signal (recorded when this returns). With `--start TYPE`,
    /// start the execution ID first if it does not exist.
    Signal {
        #[command(flatten)]
        conn: Conn,
        /// The execution's id.
        id: String,
        /// The signal's name.
        name: String,
        #[command(flatten)]
        input: InputArgs,
        /// Makes a retry safe: the signal is recorded once in the
        /// execution (sent again, it is reported as recorded already).
        #[arg(long)]
        request_id: Option<String>,
        /// Signal-with-start: the workflow type to start ID as.
        #[arg(long)]
        start: Option<String>,
        /// Input of the started execution (with `--start`).
        #[arg(long, requires = "start", allow_hyphen_values = true)]
        start_input: Option<String>,
        /// A search attribute the started execution starts with, NAME=VALUE
        /// (with `--start`; repeatable; see `weft start`).
        #[arg(
            long = "search-attribute",
            value_name = "NAME=VALUE",
            requires = "start"
        )]
        search_attributes: Vec<String>,
        /// A memo field it starts with, NAME=VALUE (with `--start`; repeatable).
        #[arg(long, value_name = "NAME=VALUE", requires = "start")]
        memo: Vec<String>,
    },
    /// Ask a running or closed execution a read-only question (`--at-event
    /// N`: as it stood at event N of its current run).
    Query {
        #[command(flatten)]
        conn: Conn,
        /// The execution's id.
        id: String,
        /// The query's name.
        name: String,
        #[command(flatten)]
        input: InputArgs,
        /// Answer from the state at this event (see `weft history ID`): the
        /// history up to it is replayed in a fresh instance; nothing is
        /// written.
        #[arg(long, value_name = "N")]
        at_event: Option<u64>,
    },
    /// Send an update and print its result (exit 1 if it failed or was
    /// rejected, 3 if it is still running).
    Update {
        #[command(flatten)]
        conn: Conn,
        /// The execution's id.
        id: String,
        /// The update's name.
        name: String,
        #[command(flatten)]
        input: InputArgs,
        /// Makes a retry safe: an update id is applied once.
        #[arg(long)]
        update_id: Option<String>,
        /// Return once the update is accepted.
        #[arg(long)]
        no_wait: bool,
    },
    /// Print an update's result.
    UpdateResult {
        #[command(flatten)]
        conn: Conn,
        /// The execution's id.
        id: String,
        /// The update's id.
        update_id: String,
        /// Wait until the update has finished.
        #[arg(long)]
        wait: bool,
    },
    /// Run an execution again from event N: later events are discarded (and
    /// kept in the history as such); events 0..=N must replay on the module.
    Reset {
        #[command(flatten)]
        conn: Conn,
        /// The execution's id.
        id: String,
        /// The last event to keep (see `weft history ID`).
        #[arg(long)]
        to_event: u64,
        /// Run on this version from now on (number or module hash).
        #[arg(long)]
        version: Option<String>,
        /// Why, kept in the `execution_reset` event.
        #[arg(long)]
        reason: Option<String>,
        /// Drop the signals received after the point instead of recording
        /// them again after the reset (the default, as Temporal does).
        #[arg(long)]
        exclude_signals: bool,
        /// Makes a retry safe: a reset with this id is done once.
        #[arg(long)]
        request_id: Option<String>,
    },
    /// List a workflow type's versions and what runs on each.
    Versions {
        #[command(flatten)]
        conn: Conn,
        /// The workflow type.
        workflow_type: String,
        /// Print the JSON the API answers.
        #[arg(long)]
        json: bool,
    },
    /// Make a version the one new executions start on (roll forward or back).
    SetCurrent {
        #[command(flatten)]
        conn: Conn,
        /// The workflow type.
        workflow_type: String,
        /// Version number (`2`, `v2`) or module hash.
        version: String,
    },
    /// Move running and stalled executions to a version, each one only if
    /// its history replays cleanly against it (exit 1 if any did not).
    Upgrade {
        #[command(flatten)]
        conn: Conn,
        /// The workflow type.
        workflow_type: String,
        /// Version number (`2`, `v2`) or module hash.
        #[arg(long)]
        to: String,
        /// Check and report; move nothing.
        #[arg(long)]
        dry_run: bool,
        /// Only these executions (comma-separated).
        #[arg(long, value_delimiter = ',')]
        ids: Option<Vec<String>>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The task queues this host knows of: backlog, running tasks, workers
    /// polling, last poll.
    TaskQueues {
        #[command(flatten)]
        conn: Conn,
        /// Print the JSON the API answers.
        #[arg(long)]
        json: bool,
    },
    /// The hosts on this host's store (several on one PostgreSQL database):
    /// which holds the store or each partition, which stand by, how the
    /// partitions are assigned, the hosts' addresses and versions.
    Cluster {
        #[command(flatten)]
        conn: Conn,
        /// Print the JSON the API answers.
        #[arg(long)]
        json: bool,
    },
    /// Schedules: start a workflow on a calendar or an interval.
    Schedule {
        #[command(subcommand)]
        action: schedules::ScheduleCommand,
    },
    /// Read or move the host's clock (moving needs `--manual-clock`).
    Clock {
        #[command(flatten)]
        conn: Conn,
        #[command(subcommand)]
        action: Option<ClockAction>,
    },
}

#[derive(Debug, Subcommand)]
enum SearchAttributeAction {
    /// Register a custom search attribute with its type, so that starts may
    /// give it (`weft start --search-attribute`) and queries name it before
    /// any workflow sets it. A workflow that sets a new name registers it
    /// with its value's type.
    Create {
        name: String,
        /// keyword, text, int, double, bool, datetime or keyword-list.
        #[arg(value_name = "TYPE")]
        search_type: String,
    },
    /// Forget a custom search attribute, so that it may be created again with
    /// another type (values recorded under it stay on their executions).
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
enum ModulesAction {
    /// Delete the modules nothing refers to: activity components that serve
    /// no name any more, workflow versions that are not current and that no
    /// kept execution runs on.
    Prune {
        /// Say what would go; delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
enum StoreAction {
    /// Give the pages freed by deletions back to the disk (redb reuses them
    /// anyway). Stop the host first.
    Compact {
        /// The host's data directory.
        #[arg(long, default_value = "./weft-data")]
        data: PathBuf,
    },
    /// Copy a whole store, running executions included, into an empty one:
    /// from a data directory to PostgreSQL, or back; between stores of one
    /// partition or several. Stop every host on both first. The copy lands
    /// whole or not at all.
    Migrate {
        /// The store to copy: a data directory or postgres://user@host/db.
        #[arg(long)]
        from: String,
        /// The empty store to copy into: a data directory or a PostgreSQL address.
        #[arg(long)]
        to: String,
        /// When the copy makes the PostgreSQL store (a database holding no
        /// store yet): how many partitions it has, fixed from then on (see
        /// `weft server --partitions`). Default: one, or those a database
        /// made earlier has.
        #[arg(long)]
        partitions: Option<u32>,
    },
}

/// A JSON input, given inline or read from a file.
#[derive(Debug, Clone, clap::Args)]
struct InputArgs {
    /// The JSON input (it may start with a dash: `--input -6`).
    #[arg(long, allow_hyphen_values = true, conflicts_with = "input_file")]
    input: Option<String>,
    /// Read the JSON input from this file (`-`: standard input).
    #[arg(long, value_name = "FILE")]
    input_file: Option<PathBuf>,
}

impl InputArgs {
    /// The same input, read now (a file or standard input), to be used
    /// more than once.
    fn read_once(self) -> Result<Self> {
        Ok(Self {
            input: self.text()?,
            input_file: None,
        })
    }

    /// The JSON text given, if any.
    fn text(self) -> Result<Option<String>> {
        use anyhow::Context;
        match self.input_file {
            None => Ok(self.input),
            Some(path) if path.as_os_str() == "-" => {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                    .context("cannot read the input from standard input")?;
                Ok(Some(text))
            }
            Some(path) => std::fs::read_to_string(&path)
                .with_context(|| format!("--input-file: cannot read {}", path.display()))
                .map(Some),
        }
    }
}

#[derive(Debug, Subcommand)]
enum ClockAction {
    /// Move time forward: DURATION in milliseconds (`90000`) or as
    /// `500ms`, `90s`, `1m`, `2h`, `30d`, `1h30m`.
    Advance {
        #[arg(value_parser = parse_duration, value_name = "DURATION")]
        ms: u64,
    },
    /// Time skipping: once no workflow task and no activity attempt runs,
    /// move time to the next timer, retry backoff or schedule trigger.
    Skip {
        /// Not further than this from now.
        #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
        at_most: Option<u64>,
    },
}

fn parse_duration(s: &str) -> Result<u64, String> {
    time::duration_ms(s).map_err(|e| e.to_string())
}

fn parse_reuse(s: &str) -> Result<IdReusePolicy, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|_| {
        format!("{s:?}: use allow-duplicate, allow-duplicate-failed-only or reject-duplicate")
    })
}

impl Command {
    /// Where the host is, for the commands that talk to one.
    fn conn(&self) -> Option<&Conn> {
        match self {
            Command::List(args) => Some(&args.conn),
            Command::SearchAttributes { conn, .. } => Some(conn),
            Command::Schedule { action } => Some(action.conn()),
            Command::TaskQueues { conn, .. } => Some(conn),
            Command::Cluster { conn, .. } => Some(conn),
            Command::Deploy { conn, .. } => Some(conn),
            Command::Modules { conn, .. } => Some(conn),
            Command::Delete { conn, .. } => Some(conn),
            Command::Retention { conn, .. } => Some(conn),
            Command::Types { conn, .. } => Some(conn),
            Command::DescribeModule { conn, .. } => Some(conn),
            Command::Start { conn, .. } => Some(conn),
            Command::Cancel { conn, .. } => Some(conn),
            Command::Terminate { conn, .. } => Some(conn),
            Command::Result { conn, .. } => Some(conn),
            Command::Describe { conn, .. } => Some(conn),
            Command::Logs { conn, .. } => Some(conn),
            Command::History { conn, .. } => Some(conn),
            Command::Signal { conn, .. } => Some(conn),
            Command::Query { conn, .. } => Some(conn),
            Command::Update { conn, .. } => Some(conn),
            Command::UpdateResult { conn, .. } => Some(conn),
            Command::Reset { conn, .. } => Some(conn),
            Command::Versions { conn, .. } => Some(conn),
            Command::SetCurrent { conn, .. } => Some(conn),
            Command::Upgrade { conn, .. } => Some(conn),
            Command::Clock { conn, .. } => Some(conn),
            Command::Server { .. }
            | Command::Dev { .. }
            | Command::New { .. }
            | Command::Sdk { .. }
            | Command::Build { .. }
            | Command::Replay { .. }
            | Command::Store { .. } => None,
        }
    }
}

impl Cli {
    /// Whether the command is a client of a host (not the host itself).
    pub fn is_client(&self) -> bool {
        !matches!(self.command, Command::Server { .. } | Command::Dev { .. })
    }

    /// What is logged unless `WEFT_LOG` says otherwise: a host's work
    /// (`info`); for a store command, only what goes wrong (the lease a
    /// copy takes is not a host's news).
    pub fn default_log(&self) -> &'static str {
        match self.command {
            Command::Store { .. } => "warn",
            _ => "info",
        }
    }
}

/// `weft --version`: the build and the guest contract it provides (test
/// environments check it against their SDK's).
const LONG_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (contract weft:workflow@0.1.3)");

/// Runs the command; the result is the process exit code.
pub async fn run(cli: Cli) -> Result<i32> {
    let client = match cli.command.conn() {
        Some(c) => Client::new(
            &c.server,
            c.token.as_deref(),
            crate::api::tls::ClientTls {
                ca: c.ca_cert.as_deref(),
                cert: c.client_cert.as_deref(),
                key: c.client_key.as_deref(),
            },
            (c.timeout > 0).then(|| std::time::Duration::from_millis(c.timeout)),
        )?,
        None => return local(cli.command).await,
    };
    match cli.command {
        Command::Deploy {
            file,
            name,
            env,
            dirs,
            http,
            replace_activities,
            ..
        } => deploy::run(&client, &file, name, env, dirs, http, replace_activities).await,
        Command::DescribeModule { hash, json, .. } => deploy::describe(&client, &hash, json).await,
        Command::Modules { action, json, .. } => match action {
            None => deploy::modules(&client, json).await,
            Some(ModulesAction::Prune { dry_run }) => deploy::prune(&client, dry_run, json).await,
        },
        Command::Delete { id, .. } => {
            client
                .delete(&format!("/v1/executions/{}", client::enc(&id)))
                .await?;
            println!("{id} deleted");
            Ok(0)
        }
        Command::Retention {
            workflow_type,
            duration,
            ..
        } => {
            let retention_ms = match duration.as_str() {
                "default" => None,
                text => Some(time::duration_ms(text)?),
            };
            let info: crate::api::dto::RetentionInfo = client
                .put_json(
                    &format!(
                        "/v1/workflow-types/{}/retention",
                        client::enc(&workflow_type)
                    ),
                    &crate::api::dto::RetentionRequest { retention_ms },
                )
                .await?;
            let span = jiff::SignedDuration::from_millis(
                i64::try_from(info.retention_ms).unwrap_or(i64::MAX),
            );
            println!(
                "closed executions of {} are kept {span:#}{}; so are the start and signal \
                 request ids recorded from now on, from their record",
                info.workflow_type,
                if retention_ms.is_none() {
                    " (the host's --retention)"
                } else {
                    ""
                }
            );
            Ok(0)
        }
        Command::Types { json, .. } => deploy::types(&client, json).await,
        Command::Start {
            workflow_type,
            id,
            input,
            request_id,
            id_reuse_policy,
            execution_timeout,
            run_timeout,
            search_attributes,
            memo,
            wait,
            json,
            ..
        } => {
            let args = executions::StartArgs {
                execution_timeout_ms: execution_timeout,
                run_timeout_ms: run_timeout,
                search_attributes,
                memo,
                workflow_type,
                id,
                input: input.text()?,
                request_id,
                id_reuse_policy,
                wait,
                json,
            };
            executions::start(&client, args).await
        }
        Command::Cancel {
            id,
            reason,
            request_id,
            ..
        } => {
            if executions::end(&client, &id, "cancel", reason, request_id).await? {
                println!("cancellation of {id} was requested already by this request id");
            } else {
                println!("cancellation of {id} requested");
            }
            Ok(0)
        }
        Command::Terminate {
            id,
            reason,
            request_id,
            ..
        } => {
            if executions::end(&client, &id, "terminate", reason, request_id).await? {
                println!("{id} was terminated already by this request id");
            } else {
                println!("{id} terminated");
            }
            Ok(0)
        }
        Command::Result {
            id,
            wait,
            json,
            run,
            ..
        } => executions::result(&client, &id, run, wait, json).await,
        Command::Describe { id, json, .. } => executions::describe(&client, &id, json).await,
        Command::List(args) => executions::list(&client, args).await,
        Command::SearchAttributes { json, action, .. } => match action {
            None => executions::search_attributes(&client, json).await,
            Some(SearchAttributeAction::Create { name, search_type }) => {
                executions::create_search_attribute(&client, &name, &search_type).await
            }
            Some(SearchAttributeAction::Remove { name }) => {
                client
                    .delete(&format!("/v1/search-attributes/{}", client::enc(&name)))
                    .await?;
                println!("search attribute {name} removed");
                Ok(0)
            }
        },
        Command::History { id, run, json, .. } => {
            executions::history(&client, &id, run, json).await
        }
        Command::Logs {
            id, follow, json, ..
        } => executions::logs(&client, &id, follow, json).await,
        Command::Signal {
            id,
            name,
            input,
            start,
            start_input,
            search_attributes,
            memo,
            request_id,
            ..
        } => {
            let input = input.text()?;
            let start = start.map(|workflow_type| interact::StartWith {
                workflow_type,
                input: start_input,
                search_attributes,
                memo,
            });
            interact::signal(&client, &id, &name, input, request_id, start).await
        }
        Command::Query {
            id,
            name,
            input,
            at_event,
            ..
        } => interact::query(&client, &id, &name, input.text()?, at_event).await,
        Command::Update {
            id,
            name,
            input,
            update_id,
            no_wait,
            ..
        } => {
            let input = input.text()?;
            interact::update(&client, &id, &name, input, update_id, no_wait).await
        }
        Command::UpdateResult {
            id,
            update_id,
            wait,
            ..
        } => interact::update_result(&client, &id, &update_id, wait).await,
        Command::Reset {
            id,
            to_event,
            version,
            reason,
            exclude_signals,
            request_id,
            ..
        } => {
            let how = versions::ResetHow {
                version,
                reason,
                exclude_signals,
                request_id,
            };
            versions::reset(&client, &id, to_event, how).await
        }
        Command::Versions {
            workflow_type,
            json,
            ..
        } => versions::list(&client, &workflow_type, json).await,
        Command::SetCurrent {
            workflow_type,
            version,
            ..
        } => versions::set_current(&client, &workflow_type, &version).await,
        Command::Upgrade {
            workflow_type,
            to,
            dry_run,
            ids,
            json,
            ..
        } => versions::upgrade(&client, &workflow_type, &to, dry_run, ids, json).await,
        Command::Clock {
            action: Some(ClockAction::Skip { at_most }),
            ..
        } => {
            let limit_ms = match at_most {
                Some(ms) => {
                    let info: crate::api::dto::ClockInfo = client.get("/v1/clock").await?;
                    Some(info.now_ms.saturating_add(ms))
                }
                None => None,
            };
            let done: crate::api::dto::SkipInfo = client
                .post_json(
                    "/v1/clock/skip",
                    &crate::api::dto::SkipRequest {
                        limit_ms,
                        wait_ms: None,
                    },
                )
                .await?;
            match done.reason {
                None => println!(
                    "skipped {} to {}",
                    time::span(done.skipped_ms),
                    time::when(done.now_ms)
                ),
                Some(why) => println!("did not skip: {why} ({})", time::when(done.now_ms)),
            }
            Ok(0)
        }
        Command::Clock { action, .. } => {
            let info: crate::api::dto::ClockInfo = match action {
                None => client.get("/v1/clock").await?,
                Some(ClockAction::Skip { .. }) => unreachable!("answered above"),
                Some(ClockAction::Advance { ms }) => {
                    client
                        .post_json("/v1/clock/advance", &crate::api::dto::AdvanceRequest { ms })
                        .await?
                }
            };
            println!(
                "{} ({}; {} ms since the Unix epoch)",
                time::when(info.now_ms),
                if info.manual { "manual" } else { "system" },
                info.now_ms
            );
            Ok(0)
        }
        Command::Schedule { action } => schedules::run(&client, action).await,
        Command::TaskQueues { json, .. } => deploy::task_queues(&client, json).await,
        Command::Cluster { json, .. } => cluster::show(&client, json).await,
        Command::Server { .. }
        | Command::Dev { .. }
        | Command::New { .. }
        | Command::Sdk { .. }
        | Command::Build { .. }
        | Command::Replay { .. }
        | Command::Store { .. } => unreachable!("local commands run in `local`"),
    }
}

/// The commands that talk to no host.
async fn local(command: Command) -> Result<i32> {
    match command {
        Command::Server { data, host } => {
            server::run(data, &host).await?;
            // A graceful stop's last line (a fenced host exits with its
            // own words and code 3 before this).
            tracing::info!("weft host stopped");
            Ok(0)
        }
        Command::Dev { host } => {
            let dir = tempfile::Builder::new().prefix("weft-dev-").tempdir()?;
            eprintln!(
                "weft dev: throwaway data directory {}",
                dir.path().display()
            );
            server::run(dir.path().to_path_buf(), &host)
                .await
                .map(|_| 0)
        }
        Command::Store {
            action:
                StoreAction::Migrate {
                    from,
                    to,
                    partitions,
                },
        } => {
            let from = crate::store::Location::parse_any(&from)?;
            let to = crate::store::Location::parse_any(&to)?;
            let copied = crate::store::migrate(&from, &to, partitions)?;
            let mut table = deploy::table(&["TABLE", "ROWS"]);
            for (name, rows) in &copied.tables {
                table.add_row([name.to_string(), rows.to_string()]);
            }
            println!("{table}");
            let into = if copied.partitions > 1 {
                format!(" into {} partitions", copied.partitions)
            } else {
                String::new()
            };
            println!(
                "copied {} executions ({} events) and {} modules{into}: start the hosts on the new \
                 store",
                copied.rows("executions"),
                copied.rows("history"),
                copied.rows("modules")
            );
            Ok(0)
        }
        Command::Store {
            action: StoreAction::Compact { data },
        } => {
            let shrank = crate::store::Store::compact(&data)?;
            println!(
                "{}: {}",
                data.display(),
                if shrank {
                    "compacted"
                } else {
                    "nothing to compact"
                }
            );
            Ok(0)
        }
        Command::New {
            name,
            lang,
            kind,
            dir,
            sdk,
        } => project::new(&name, lang, kind, dir, sdk.as_deref()),
        Command::Sdk { dir } => sdk::run(dir),
        Command::Build { dir, out } => project::build(&dir, out),
        Command::Replay {
            history,
            dir,
            module,
        } => replay::run(history.as_deref(), dir.as_deref(), &module).await,
        _ => unreachable!("client commands run in `run`"),
    }
}

#[cfg(test)]
mod version_tests {
    #[test]
    fn the_long_version_names_the_contract_this_host_provides() {
        assert!(super::LONG_VERSION.ends_with(&format!(
            "(contract weft:workflow@{})",
            crate::wasm::inspect::CONTRACT_VERSION
        )));
    }
}
