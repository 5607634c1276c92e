//! The `weft` command line. Every command except `server`, `dev`,
//! `replay`, `new` and `build` is a client of the HTTP API.

mod client;
mod deploy;
mod executions;
mod interact;
mod project;
mod replay;
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
    name = "weft",
    version,
    about = "A durable workflow host for WebAssembly components"
)]
pub struct Cli {
    /// The host to talk to.
    #[arg(
        long,
        global = true,
        env = "WEFT_SERVER",
        default_value = "http://127.0.0.1:7700"
    )]
    server: String,
    /// The API token: the one the host requires (client commands), or the one
    /// it will require (`server`, `dev`).
    #[arg(long, global = true, env = "WEFT_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the host on a data directory.
    Server {
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
    /// stands (its SDK and the WIT package are written into it).
    New {
        name: String,
        #[arg(long, value_enum)]
        lang: project::Lang,
        #[arg(long, value_enum, default_value = "workflow")]
        kind: project::Kind,
        /// Where to create it (default: ./NAME).
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
    /// Show a module: its kind, what it serves, the doors opened for it.
    DescribeModule {
        hash: String,
        #[arg(long)]
        json: bool,
    },
    /// Start an execution.
    Start {
        workflow_type: String,
        #[arg(long)]
        id: Option<String>,
        /// JSON input.
        #[arg(long, allow_hyphen_values = true)]
        input: Option<String>,
        /// Makes a retried start safe: a start with a request id seen in the
        /// last 24 hours prints the execution that request started (running
        /// or closed) instead of starting another.
        #[arg(long)]
        request_id: Option<String>,
        /// allow-duplicate (default), allow-duplicate-failed-only or reject-duplicate.
        #[arg(long, value_parser = parse_reuse, default_value = "allow-duplicate")]
        id_reuse_policy: IdReusePolicy,
        /// Wait for the result and print it.
        #[arg(long)]
        wait: bool,
    },
    /// Ask an execution to cancel: it sees a cancellation at its next wait
    /// and may clean up before it ends as cancelled.
    Cancel {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// End an execution at once; no workflow code runs.
    Terminate {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Print an execution's result.
    Result {
        id: String,
        #[arg(long)]
        wait: bool,
    },
    /// Show an execution.
    Describe {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// List executions.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long = "type")]
        workflow_type: Option<String>,
    },
    /// Print an execution's event history (`--json`: the format `weft replay` reads).
    History {
        id: String,
        /// Which run (default: the current one).
        #[arg(long)]
        run: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// Replay an exported history against a module, offline.
    Replay {
        #[arg(long)]
        history: PathBuf,
        #[arg(long)]
        module: PathBuf,
    },
    /// Send a signal (recorded when this returns). With `--start TYPE`,
    /// start the execution ID first if it does not exist.
    Signal {
        id: String,
        name: String,
        #[arg(long, allow_hyphen_values = true)]
        input: Option<String>,
        /// Signal-with-start: the workflow type to start ID as.
        #[arg(long)]
        start: Option<String>,
        /// Input of the started execution (with `--start`).
        #[arg(long, requires = "start", allow_hyphen_values = true)]
        start_input: Option<String>,
    },
    /// Ask a running or closed execution a read-only question.
    Query {
        id: String,
        name: String,
        #[arg(long, allow_hyphen_values = true)]
        input: Option<String>,
    },
    /// Send an update and print its result (exit 1 if it failed or was
    /// rejected, 3 if it is still running).
    Update {
        id: String,
        name: String,
        #[arg(long, allow_hyphen_values = true)]
        input: Option<String>,
        /// Makes a retry safe: an update id is applied once.
        #[arg(long)]
        update_id: Option<String>,
        /// Return once the update is accepted.
        #[arg(long)]
        no_wait: bool,
    },
    /// Print an update's result.
    UpdateResult {
        id: String,
        update_id: String,
        #[arg(long)]
        wait: bool,
    },
    /// Run an execution again from event N: later events are discarded (and
    /// kept in the history as such); events 0..=N must replay on the module.
    Reset {
        id: String,
        #[arg(long)]
        to_event: u64,
        /// Run on this version from now on (number or module hash).
        #[arg(long)]
        version: Option<String>,
        #[arg(long)]
        reason: Option<String>,
        /// Drop the signals received after the point instead of recording
        /// them again after the reset (the default, as Temporal does).
        #[arg(long)]
        exclude_signals: bool,
    },
    /// List a workflow type's versions and what runs on each.
    Versions {
        workflow_type: String,
        #[arg(long)]
        json: bool,
    },
    /// Make a version the one new executions start on (roll forward or back).
    SetCurrent {
        workflow_type: String,
        /// Version number (`2`, `v2`) or module hash.
        version: String,
    },
    /// Move running and stalled executions to a version, each one only if
    /// its history replays cleanly against it (exit 1 if any did not).
    Upgrade {
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
        #[arg(long)]
        json: bool,
    },
    /// Read or move the host's clock (moving needs `--manual-clock`).
    Clock {
        #[command(subcommand)]
        action: Option<ClockAction>,
    },
}

#[derive(Debug, Subcommand)]
enum ClockAction {
    /// Move time forward: DURATION in milliseconds (`90000`) or as
    /// `500ms`, `90s`, `1m`, `2h`, `30d`, `1h30m`.
    Advance {
        #[arg(value_parser = parse_duration, value_name = "DURATION")]
        ms: u64,
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

/// Runs the command; the result is the process exit code.
pub async fn run(cli: Cli) -> Result<i32> {
    let client = Client::new(&cli.server, cli.token.as_deref());
    match cli.command {
        Command::Server { data, host } => {
            server::run(data, &host, cli.token.clone()).await.map(|_| 0)
        }
        Command::Dev { host } => {
            let dir = tempfile::Builder::new().prefix("weft-dev-").tempdir()?;
            eprintln!(
                "weft dev: throwaway data directory {}",
                dir.path().display()
            );
            server::run(dir.path().to_path_buf(), &host, cli.token.clone())
                .await
                .map(|_| 0)
        }
        Command::Deploy {
            file,
            name,
            env,
            dirs,
            http,
            replace_activities,
        } => deploy::run(&client, &file, name, env, dirs, http, replace_activities).await,
        Command::DescribeModule { hash, json } => deploy::describe(&client, &hash, json).await,
        Command::New {
            name,
            lang,
            kind,
            dir,
        } => project::new(&name, lang, kind, dir),
        Command::Build { dir, out } => project::build(&dir, out),
        Command::Start {
            workflow_type,
            id,
            input,
            request_id,
            id_reuse_policy,
            wait,
        } => {
            let args = executions::StartArgs {
                workflow_type,
                id,
                input,
                request_id,
                id_reuse_policy,
                wait,
            };
            executions::start(&client, args).await
        }
        Command::Cancel { id, reason } => {
            executions::end(&client, &id, "cancel", reason).await?;
            println!("cancellation of {id} requested");
            Ok(0)
        }
        Command::Terminate { id, reason } => {
            executions::end(&client, &id, "terminate", reason).await?;
            println!("{id} terminated");
            Ok(0)
        }
        Command::Result { id, wait } => executions::result(&client, &id, wait).await,
        Command::Describe { id, json } => executions::describe(&client, &id, json).await,
        Command::List {
            status,
            workflow_type,
        } => executions::list(&client, status, workflow_type).await,
        Command::History { id, run, json } => executions::history(&client, &id, run, json).await,
        Command::Replay { history, module } => replay::run(&history, &module).await,
        Command::Signal {
            id,
            name,
            input,
            start,
            start_input,
        } => interact::signal(&client, &id, &name, input, start.map(|t| (t, start_input))).await,
        Command::Query { id, name, input } => interact::query(&client, &id, &name, input).await,
        Command::Update {
            id,
            name,
            input,
            update_id,
            no_wait,
        } => interact::update(&client, &id, &name, input, update_id, no_wait).await,
        Command::UpdateResult {
            id,
            update_id,
            wait,
        } => interact::update_result(&client, &id, &update_id, wait).await,
        Command::Reset {
            id,
            to_event,
            version,
            reason,
            exclude_signals,
        } => versions::reset(&client, &id, to_event, version, reason, exclude_signals).await,
        Command::Versions {
            workflow_type,
            json,
        } => versions::list(&client, &workflow_type, json).await,
        Command::SetCurrent {
            workflow_type,
            version,
        } => versions::set_current(&client, &workflow_type, &version).await,
        Command::Upgrade {
            workflow_type,
            to,
            dry_run,
            ids,
            json,
        } => versions::upgrade(&client, &workflow_type, &to, dry_run, ids, json).await,
        Command::Clock { action } => {
            let info: crate::api::dto::ClockInfo = match action {
                None => client.get("/v1/clock").await?,
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
    }
}
