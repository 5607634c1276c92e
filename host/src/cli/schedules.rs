//! `weft schedule ...`: schedules over `/v1/schedules`.

use anyhow::{anyhow, Context, Result};
use clap::{Args, Subcommand};

use super::client::{enc, Client};
use super::deploy::table;
use super::time::{duration_ms, instant_ms, span, when};
use super::{Conn, InputArgs};
use crate::api::dto::{
    BackfillRequest, BackfillResponse, ClockInfo, CreateSchedule, PauseRequest, ScheduleDetail,
    ScheduleList, TriggerRequest,
};
use crate::model::schedule::{
    ActionKind, IntervalSpec, OverlapPolicy, Schedule, ScheduleAction, SchedulePolicies,
    ScheduleSpec, DEFAULT_CATCHUP_MS,
};

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Create a schedule: from flags, or from the JSON of `POST /v1/schedules`
    /// (`--file`).
    Create {
        name: String,
        #[command(flatten)]
        def: Definition,
        #[command(flatten)]
        conn: Conn,
    },
    /// Change a schedule: the flags given replace those settings (`--cron`
    /// or `--every` its times; `--file` the whole schedule); the others and
    /// where it stands are kept.
    Update {
        name: String,
        #[command(flatten)]
        def: Definition,
        #[command(flatten)]
        conn: Conn,
    },
    /// Show a schedule: spec, policies, state, running executions, the last
    /// 10 actions and the next 10 times.
    Describe {
        name: String,
        /// Print the JSON the API answers.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        conn: Conn,
    },
    /// List the schedules.
    List {
        /// Print the JSON the API answers.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        conn: Conn,
    },
    /// Stop taking scheduled actions (the times in between are dropped).
    Pause {
        name: String,
        /// Why (shown by describe).
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        conn: Conn,
    },
    /// Take scheduled actions again, from now on.
    Unpause {
        name: String,
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        conn: Conn,
    },
    /// Take the action now, paused or not (through the overlap policy).
    Trigger {
        name: String,
        /// This action's overlap policy (default: the schedule's).
        #[arg(long, value_enum)]
        overlap: Option<Overlap>,
        /// Makes a retry safe: a trigger with this id acts once.
        #[arg(long)]
        request_id: Option<String>,
        #[command(flatten)]
        conn: Conn,
    },
    /// Take the actions of the times the spec names in a past range (at
    /// most 1,000), each through the overlap policy.
    Backfill {
        name: String,
        /// The range's first time: a date, an RFC 3339 time, or a duration
        /// ago (`3d`).
        #[arg(long)]
        start: String,
        /// The range's last time (default: now).
        #[arg(long)]
        end: Option<String>,
        #[arg(long, value_enum)]
        overlap: Option<Overlap>,
        /// Makes a retry safe: a backfill with this id acts once.
        #[arg(long)]
        request_id: Option<String>,
        #[command(flatten)]
        conn: Conn,
    },
    /// Delete a schedule; what it started runs on.
    Delete {
        name: String,
        #[command(flatten)]
        conn: Conn,
    },
}

impl ScheduleCommand {
    pub(super) fn conn(&self) -> &Conn {
        match self {
            Self::Create { conn, .. }
            | Self::Update { conn, .. }
            | Self::Describe { conn, .. }
            | Self::List { conn, .. }
            | Self::Pause { conn, .. }
            | Self::Unpause { conn, .. }
            | Self::Trigger { conn, .. }
            | Self::Backfill { conn, .. }
            | Self::Delete { conn, .. } => conn,
        }
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Overlap {
    Skip,
    BufferOne,
    BufferAll,
    CancelOther,
    TerminateOther,
    AllowAll,
}

impl From<Overlap> for OverlapPolicy {
    fn from(o: Overlap) -> Self {
        match o {
            Overlap::Skip => Self::Skip,
            Overlap::BufferOne => Self::BufferOne,
            Overlap::BufferAll => Self::BufferAll,
            Overlap::CancelOther => Self::CancelOther,
            Overlap::TerminateOther => Self::TerminateOther,
            Overlap::AllowAll => Self::AllowAll,
        }
    }
}

/// What a schedule is, from flags or a file.
#[derive(Debug, Clone, Args)]
pub struct Definition {
    /// The whole schedule as JSON (the body of `POST /v1/schedules` without
    /// its name); the other definition flags are then refused.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["workflow", "cron", "every"])]
    file: Option<std::path::PathBuf>,
    /// The workflow type each action starts.
    #[arg(long, value_name = "TYPE")]
    workflow: Option<String>,
    #[command(flatten)]
    input: InputArgs,
    /// Start this version of the type (default: its current one).
    #[arg(long)]
    version: Option<u32>,
    /// Started ids are `PREFIX-<time>` (default: the schedule's name).
    #[arg(long)]
    id_prefix: Option<String>,
    /// A cron string (repeatable): `"0 2 * * *"`, 6 fields with seconds
    /// first, 7 with the year last, or `@daily`, `@hourly`, ...
    #[arg(long)]
    cron: Vec<String>,
    /// An interval (repeatable): `15m`, or `1h/5m` (every hour, 5 past).
    #[arg(long)]
    every: Vec<String>,
    /// Skip the times this cron string matches (repeatable).
    #[arg(long)]
    exclude_cron: Vec<String>,
    /// The IANA time zone of cron strings (default UTC): `Europe/Berlin`.
    #[arg(long)]
    time_zone: Option<String>,
    /// Delay each action by up to this much (stable per time): `30s`.
    #[arg(long, value_parser = super::parse_duration, value_name = "DURATION")]
    jitter: Option<u64>,
    /// No action before this time (a date or RFC 3339 time).
    #[arg(long)]
    start_at: Option<String>,
    /// No action after this time.
    #[arg(long)]
    end_at: Option<String>,
    /// When a time comes while an earlier action runs (default skip).
    #[arg(long, value_enum)]
    overlap: Option<Overlap>,
    /// After an outage, act on times at most this old (default 365d, at
    /// least 10s).
    #[arg(long, value_parser = super::parse_duration, value_name = "DURATION")]
    catchup_window: Option<u64>,
    /// Pause when a started execution fails, times out or is terminated.
    #[arg(long)]
    pause_on_failure: bool,
    /// Create it paused.
    #[arg(long)]
    paused: bool,
    /// A note (why it is paused, or anything).
    #[arg(long)]
    note: Option<String>,
    /// Take at most this many scheduled actions.
    #[arg(long)]
    remaining_actions: Option<u64>,
    /// Time each started execution out (across continue-as-new).
    #[arg(long, value_parser = super::parse_duration, value_name = "DURATION")]
    execution_timeout: Option<u64>,
    /// Time each run of a started execution out.
    #[arg(long, value_parser = super::parse_duration, value_name = "DURATION")]
    run_timeout: Option<u64>,
    /// A search attribute each started execution starts with, NAME=VALUE
    /// (repeatable; as `weft start` takes them; on update, the ones given
    /// replace all).
    #[arg(long = "search-attribute", value_name = "NAME=VALUE")]
    search_attributes: Vec<String>,
    /// A memo field each started execution starts with, NAME=VALUE (repeatable).
    #[arg(long, value_name = "NAME=VALUE")]
    memo: Vec<String>,
}

/// A schedule's bound: a date or RFC 3339 time, or a duration from now
/// (`--end-at 30d` is thirty days ahead, not ago).
fn ahead_ms(text: &str, now_ms: u64) -> Result<u64> {
    match duration_ms(text) {
        Ok(d) if !text.contains('-') => Ok(now_ms.saturating_add(d)),
        _ => instant_ms(text, now_ms),
    }
}

fn interval(text: &str) -> Result<IntervalSpec> {
    let (every, offset) = match text.split_once('/') {
        Some((e, o)) => (e, Some(o)),
        None => (text, None),
    };
    Ok(IntervalSpec {
        every_ms: duration_ms(every).with_context(|| format!("--every {text}"))?,
        offset_ms: offset
            .map(duration_ms)
            .transpose()
            .with_context(|| format!("--every {text}"))?
            .unwrap_or(0),
    })
}

impl Definition {
    /// The current schedule with the flags given changed (`--cron` or
    /// `--every` replace its times; `--file` replaces it whole).
    fn merge(self, current: Schedule, now_ms: u64) -> Result<Schedule> {
        if self.file.is_some() {
            return self.schedule(now_ms);
        }
        let mut s = current;
        if let Some(w) = self.workflow {
            s.action.workflow_type = w;
        }
        if let Some(text) = self.input.text()? {
            s.action.input = serde_json::from_str(&text).context("--input is not JSON")?;
        }
        if self.version.is_some() {
            s.action.version = self.version;
        }
        if self.id_prefix.is_some() {
            s.action.id_prefix = self.id_prefix;
        }
        if self.execution_timeout.is_some() {
            s.action.execution_timeout_ms = self.execution_timeout;
        }
        if self.run_timeout.is_some() {
            s.action.run_timeout_ms = self.run_timeout;
        }
        if !self.search_attributes.is_empty() {
            s.action.search_attributes =
                super::executions::named_values("--search-attribute", self.search_attributes)?;
        }
        if !self.memo.is_empty() {
            s.action.memo = super::executions::named_values("--memo", self.memo)?;
        }
        if !self.cron.is_empty() || !self.every.is_empty() {
            s.spec.cron = self.cron;
            s.spec.intervals = self
                .every
                .iter()
                .map(|e| interval(e))
                .collect::<Result<_>>()?;
            s.spec.calendars.clear();
        }
        if !self.exclude_cron.is_empty() {
            s.spec.exclude_cron = self.exclude_cron;
        }
        if self.time_zone.is_some() {
            s.spec.time_zone = self.time_zone;
        }
        if let Some(j) = self.jitter {
            s.spec.jitter_ms = j;
        }
        if let Some(t) = &self.start_at {
            s.spec.start_at_ms = Some(ahead_ms(t, now_ms)?);
        }
        if let Some(t) = &self.end_at {
            s.spec.end_at_ms = Some(ahead_ms(t, now_ms)?);
        }
        if let Some(o) = self.overlap {
            s.policies.overlap = o.into();
        }
        if let Some(c) = self.catchup_window {
            s.policies.catchup_window_ms = c;
        }
        if self.pause_on_failure {
            s.policies.pause_on_failure = true;
        }
        if self.remaining_actions.is_some() {
            s.remaining_actions = self.remaining_actions;
        }
        Ok(s)
    }

    fn schedule(self, now_ms: u64) -> Result<Schedule> {
        if let Some(path) = &self.file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--file: cannot read {}", path.display()))?;
            return serde_json::from_str(&text)
                .with_context(|| format!("--file {}: not a schedule", path.display()));
        }
        let workflow = self.workflow.ok_or_else(|| {
            anyhow!("--workflow TYPE is required: the workflow type each action starts")
        })?;
        if self.cron.is_empty() && self.every.is_empty() {
            return Err(anyhow!(
                "say when: --cron \"0 2 * * *\" or --every 15m (or the whole schedule with --file)"
            ));
        }
        let input = match self.input.text()? {
            None => serde_json::Value::Null,
            Some(text) => serde_json::from_str(&text).context("--input is not JSON")?,
        };
        let at = |t: &Option<String>| t.as_deref().map(|t| ahead_ms(t, now_ms)).transpose();
        Ok(Schedule {
            spec: ScheduleSpec {
                cron: self.cron,
                intervals: self
                    .every
                    .iter()
                    .map(|e| interval(e))
                    .collect::<Result<_>>()?,
                calendars: Vec::new(),
                exclude_cron: self.exclude_cron,
                exclude_calendars: Vec::new(),
                start_at_ms: at(&self.start_at)?,
                end_at_ms: at(&self.end_at)?,
                jitter_ms: self.jitter.unwrap_or(0),
                time_zone: self.time_zone,
            },
            action: ScheduleAction {
                workflow_type: workflow,
                input,
                version: self.version,
                id_prefix: self.id_prefix,
                execution_timeout_ms: self.execution_timeout,
                run_timeout_ms: self.run_timeout,
                search_attributes: super::executions::named_values(
                    "--search-attribute",
                    self.search_attributes,
                )?,
                memo: super::executions::named_values("--memo", self.memo)?,
            },
            policies: SchedulePolicies {
                overlap: self.overlap.map(Into::into).unwrap_or_default(),
                catchup_window_ms: self.catchup_window.unwrap_or(DEFAULT_CATCHUP_MS),
                pause_on_failure: self.pause_on_failure,
            },
            paused: self.paused,
            note: self.note,
            remaining_actions: self.remaining_actions,
        })
    }
}

/// What became of the action a trigger queued at `at`, as the schedule
/// says within a few seconds: started (which execution), skipped (why), or
/// still waiting behind a running one.
async fn trigger_outcome(client: &Client, name: &str, at: u64) -> String {
    let look = format!("`weft schedule describe {name}` shows what became of it");
    let mut running = false;
    for _ in 0..30 {
        // The action is queued whatever this read meets (a handover, a
        // deletion): never an error, so nobody triggers again.
        let Ok(d) = client.get::<ScheduleDetail>(&path(name, "")).await else {
            return format!("queued at {} ({look})", super::time::when(at));
        };
        running = !d.state.running.is_empty();
        let ours = |kind: ActionKind, nominal: u64| kind == ActionKind::Trigger && nominal == at;
        if let Some(a) = d.state.recent.iter().find(|a| ours(a.kind, a.nominal_ms)) {
            return match &a.execution {
                Some(id) => format!("started execution {id}"),
                None => a.outcome.clone(),
            };
        }
        if !d.state.pending.iter().any(|p| ours(p.kind, p.nominal_ms)) {
            return format!("taken at {} ({look})", super::time::when(at));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    match running {
        true => format!("waiting for the running execution to end (its overlap policy; {look})"),
        false => format!("queued at {} ({look})", super::time::when(at)),
    }
}

fn path(name: &str, rest: &str) -> String {
    format!("/v1/schedules/{}{rest}", enc(name))
}

pub async fn run(client: &Client, command: ScheduleCommand) -> Result<i32> {
    match command {
        ScheduleCommand::Create { name, def, .. } => {
            let now = client.get::<ClockInfo>("/v1/clock").await?.now_ms;
            let s = def.schedule(now)?;
            let body = CreateSchedule {
                name,
                spec: s.spec,
                action: s.action,
                policies: s.policies,
                paused: s.paused,
                note: s.note,
                remaining_actions: s.remaining_actions,
            };
            let d: ScheduleDetail = client.post_json("/v1/schedules", &body).await?;
            println!("schedule {} created", d.name);
            print_next(&d);
        }
        ScheduleCommand::Update { name, def, .. } => {
            // What the flags name, over the definition as it is: read,
            // changed and written under the token read, again if another
            // change came in between (never over it). `--file` replaces
            // the whole definition: no token.
            let mut def = def;
            def.input = def.input.read_once()?;
            let whole = def.file.is_some();
            let mut attempt = 0;
            let d: ScheduleDetail = loop {
                attempt += 1;
                let now = client.get::<ClockInfo>("/v1/clock").await?.now_ms;
                let current: ScheduleDetail = client.get(&path(&name, "")).await?;
                let merged = def.clone().merge(
                    Schedule {
                        spec: current.spec,
                        action: current.action,
                        policies: current.policies,
                        paused: current.state.paused,
                        note: current.state.note,
                        remaining_actions: None,
                    },
                    now,
                )?;
                let token = match whole {
                    true => String::new(),
                    false => format!("?conflict_token={}", enc(&current.conflict_token)),
                };
                match client.put_json(&path(&name, &token), &merged).await {
                    Err(e)
                        if attempt < 5 && e.to_string().contains("changed since it was read") =>
                    {
                        continue
                    }
                    answer => break answer?,
                }
            };
            println!("schedule {} updated", d.name);
            print_next(&d);
        }
        ScheduleCommand::Describe { name, json, .. } => {
            let d: ScheduleDetail = client.get(&path(&name, "")).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                describe(&d);
            }
        }
        ScheduleCommand::List { json, .. } => {
            let list: ScheduleList = client.get("/v1/schedules").await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(0);
            }
            let mut t = table(&["NAME", "WORKFLOW", "STATE", "NEXT", "RUNNING", "ACTIONS"]);
            for d in &list.schedules {
                t.add_row([
                    d.name.clone(),
                    d.action.workflow_type.clone(),
                    if d.state.paused { "paused" } else { "active" }.to_owned(),
                    match d.next_times.first() {
                        _ if d.state.paused => "(paused)".to_owned(),
                        Some(n) => when(n.at_ms),
                        None => "-".to_owned(),
                    },
                    d.state.running.len().to_string(),
                    d.state.actions_taken.to_string(),
                ]);
            }
            println!("{t}");
            for u in &list.unreadable {
                println!(
                    "schedule {} cannot be read and takes no action: {} (repair it, or delete it with `weft schedule delete {}`)",
                    u.name, u.error, u.name
                );
            }
        }
        ScheduleCommand::Pause { name, note, .. } => {
            let d: ScheduleDetail = client
                .post_json(&path(&name, "/pause"), &PauseRequest { note })
                .await?;
            println!("schedule {} paused", d.name);
        }
        ScheduleCommand::Unpause { name, note, .. } => {
            let d: ScheduleDetail = client
                .post_json(&path(&name, "/unpause"), &PauseRequest { note })
                .await?;
            println!("schedule {} unpaused", d.name);
            print_next(&d);
        }
        ScheduleCommand::Trigger {
            name,
            overlap,
            request_id,
            ..
        } => {
            let body = TriggerRequest {
                overlap: overlap.map(Into::into),
                request_id,
            };
            let d: ScheduleDetail = client.post_json(&path(&name, "/trigger"), &body).await?;
            match d.trigger_ms {
                _ if d.duplicate => println!(
                    "schedule {}: triggered with this request id already (no new action)",
                    d.name
                ),
                Some(at) => println!(
                    "schedule {}: action triggered: {}",
                    d.name,
                    trigger_outcome(client, &name, at).await
                ),
                None => println!("schedule {}: action triggered", d.name),
            }
        }
        ScheduleCommand::Backfill {
            name,
            start,
            end,
            overlap,
            request_id,
            ..
        } => {
            let now = client.get::<ClockInfo>("/v1/clock").await?.now_ms;
            let body = BackfillRequest {
                start_ms: instant_ms(&start, now)?,
                end_ms: end.map(|e| instant_ms(&e, now)).transpose()?.unwrap_or(now),
                overlap: overlap.map(Into::into),
                request_id,
            };
            let r: BackfillResponse = client.post_json(&path(&name, "/backfill"), &body).await?;
            if r.duplicate {
                println!(
                    "schedule {}: already backfilled by an earlier request with this id \
                     (nothing queued)",
                    r.schedule.name
                );
                return Ok(0);
            }
            println!("schedule {}: {} times queued", r.schedule.name, r.queued);
            let policy = body.overlap.unwrap_or(r.schedule.policies.overlap);
            if r.queued > 1 && matches!(policy, OverlapPolicy::Skip | OverlapPolicy::BufferOne) {
                println!(
                    "(they come at once: under overlap {}, those that find an earlier one \
                     running are skipped; --overlap buffer-all runs each in turn)",
                    policy.as_str()
                );
            }
        }
        ScheduleCommand::Delete { name, .. } => {
            client.delete(&path(&name, "")).await?;
            println!("schedule {name} deleted");
        }
    }
    Ok(0)
}

fn print_next(d: &ScheduleDetail) {
    match d.next_times.first() {
        Some(n) => println!("next: {}", when(n.at_ms)),
        None => println!("next: none (its spec names no later time)"),
    }
}

fn describe(d: &ScheduleDetail) {
    let a = &d.action;
    println!("schedule:    {}", d.name);
    println!(
        "action:      start {}{} with input {}",
        a.workflow_type,
        a.version.map(|v| format!(" v{v}")).unwrap_or_default(),
        a.input
    );
    let s = &d.spec;
    let mut when_text: Vec<String> = s.cron.iter().map(|c| format!("cron {c:?}")).collect();
    when_text.extend(s.intervals.iter().map(|i| {
        format!(
            "every {:#}{}",
            jiff::SignedDuration::from_millis(i.every_ms as i64),
            if i.offset_ms > 0 {
                format!(
                    " (offset {:#})",
                    jiff::SignedDuration::from_millis(i.offset_ms as i64)
                )
            } else {
                String::new()
            }
        )
    }));
    if !s.calendars.is_empty() {
        when_text.push(format!("{} calendars", s.calendars.len()));
    }
    println!(
        "spec:        {} in {}{}",
        when_text.join(", "),
        s.time_zone.as_deref().unwrap_or("UTC"),
        if s.jitter_ms > 0 {
            format!(
                ", jitter up to {:#}",
                jiff::SignedDuration::from_millis(s.jitter_ms as i64)
            )
        } else {
            String::new()
        }
    );
    println!(
        "policies:    overlap {}, catch-up window {:#}, pause on failure: {}",
        d.policies.overlap.as_str(),
        span(d.policies.catchup_window_ms),
        if d.policies.pause_on_failure {
            "yes"
        } else {
            "no"
        }
    );
    if !s.exclude_cron.is_empty() || !s.exclude_calendars.is_empty() {
        println!(
            "except:      {}{}",
            s.exclude_cron
                .iter()
                .map(|c| format!("cron {c:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            if s.exclude_calendars.is_empty() {
                String::new()
            } else {
                format!(" and {} calendars", s.exclude_calendars.len())
            }
        );
    }
    if s.start_at_ms.is_some() || s.end_at_ms.is_some() {
        println!(
            "between:     {} and {}",
            s.start_at_ms.map_or_else(|| "any time".to_owned(), when),
            s.end_at_ms.map_or_else(|| "any time".to_owned(), when)
        );
    }
    if let Some(p) = &a.id_prefix {
        println!("ids:         {p}-<time>");
    }
    if let Some(t) = a.execution_timeout_ms {
        println!("timeout:     each execution {}", span(t));
    }
    if let Some(t) = a.run_timeout_ms {
        println!("run timeout: each run {}", span(t));
    }
    for (name, value) in a.search_attributes.iter().flatten() {
        println!("search:      {name} = {value}");
    }
    for (name, value) in a.memo.iter().flatten() {
        println!("memo:        {name} = {value}");
    }
    let st = &d.state;
    println!(
        "state:       {}{}",
        if st.paused { "paused" } else { "active" },
        st.note
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default()
    );
    println!(
        "actions:     {} taken, {} skipped by the overlap policy, {} missed (older than the \
         catch-up window), {} waiting{}",
        st.actions_taken,
        st.skipped_overlap,
        st.missed_catchup,
        st.pending.len(),
        st.remaining_actions
            .map(|n| format!(", {n} remaining"))
            .unwrap_or_default()
    );
    println!(
        "running:     {}",
        if st.running.is_empty() {
            "none".to_owned()
        } else {
            st.running.join(", ")
        }
    );
    if !st.recent.is_empty() {
        println!("recent actions:");
        let mut t = table(&["TIME", "KIND", "EXECUTION", "OUTCOME"]);
        for r in &st.recent {
            t.add_row([
                when(r.nominal_ms),
                format!("{:?}", r.kind).to_lowercase(),
                r.execution.clone().unwrap_or_else(|| "-".into()),
                r.outcome.clone(),
            ]);
        }
        println!("{t}");
    }
    println!("next times:");
    if d.next_times.is_empty() {
        println!("  none");
    }
    for n in &d.next_times {
        println!("  {}", when(n.at_ms));
    }
}
