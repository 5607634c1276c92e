//! Listing executions a page at a time.

use super::{Engine, EngineError};
use crate::model::{ExecutionId, ExecutionRecord, ExecutionStatus};

/// The most executions one page holds.
pub const MAX_PAGE: usize = 1_000;

/// Which executions a list shows.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: Option<ExecutionStatus>,
    pub workflow_type: Option<String>,
    /// Only ids starting with this.
    pub id_prefix: Option<String>,
    /// Started at or after / before (ms since the Unix epoch).
    pub started_after_ms: Option<u64>,
    pub started_before_ms: Option<u64>,
    /// Closed at or after / before; either excludes open executions.
    pub closed_after_ms: Option<u64>,
    pub closed_before_ms: Option<u64>,
    /// A list query in Temporal's filter syntax over the system and custom
    /// search attributes (see `query.rs`), ANDed with the fields above.
    pub query: Option<String>,
    /// Page size (1 to [`MAX_PAGE`]).
    pub limit: usize,
    /// Where the previous page ended (its `next_cursor`).
    pub cursor: Option<String>,
}

/// A page of executions, newest first.
#[derive(Debug, Clone)]
pub struct ListPage {
    pub records: Vec<ExecutionRecord>,
    pub next_cursor: Option<String>,
}

impl Engine {
    /// One page of the executions `filter` selects, newest first, and the
    /// cursor of the next page if there is one.
    pub fn list_page(&self, filter: &ListFilter) -> Result<ListPage, EngineError> {
        let after = filter
            .cursor
            .as_deref()
            .map(|c| {
                c.split_once('.')
                    .and_then(|(ms, id)| Some((ms.parse::<u64>().ok()?, id.to_owned())))
                    .ok_or_else(|| {
                        EngineError::BadRequest(format!(
                            "cursor {c:?} is not one this host gave: pass `next_cursor` from the \
                             previous page as it is"
                        ))
                    })
            })
            .transpose()?;
        let limit = filter.limit.clamp(1, MAX_PAGE);
        let selects = self.selects(filter)?;
        // Filter on the records' heads, in the store's order; read whole
        // records only for the page.
        let heads = self.inner.store.execution_heads_page(
            after.as_ref(),
            filter.status,
            filter.id_prefix.as_deref(),
            limit + 1,
            |r| selects(r),
        )?;
        let more = heads.len() > limit;
        let mut records = Vec::with_capacity(heads.len());
        for head in heads.iter().take(limit) {
            // Deleted between the two reads: left out of the page.
            if let Some(r) = self.inner.store.execution(&head.id)? {
                records.push(r);
            }
        }
        let next_cursor = more.then(|| {
            let last = &heads[limit - 1];
            format!("{}.{}", last.created_at_ms, last.id)
        });
        Ok(ListPage {
            records,
            next_cursor,
        })
    }
}

impl Engine {
    /// How many executions `filter` selects (its page and cursor aside).
    pub fn count(&self, filter: &ListFilter) -> Result<usize, EngineError> {
        let by_status_only = filter.workflow_type.is_none()
            && filter.id_prefix.is_none()
            && filter.started_after_ms.is_none()
            && filter.started_before_ms.is_none()
            && filter.closed_after_ms.is_none()
            && filter.closed_before_ms.is_none()
            && filter.query.as_deref().is_none_or(|q| q.trim().is_empty());
        if by_status_only {
            // Kept by the store: no record is read.
            return Ok(self
                .inner
                .store
                .execution_counts()?
                .into_iter()
                .filter(|(s, _)| filter.status.is_none_or(|want| want == *s))
                .map(|(_, n)| n as usize)
                .sum());
        }
        let selects = self.selects(filter)?;
        Ok(self
            .inner
            .store
            .execution_heads()?
            .iter()
            .filter(|r| selects(r))
            .count())
    }

    /// The test `filter` puts to each execution's head (all of it but the
    /// page and the cursor).
    fn selects(
        &self,
        filter: &ListFilter,
    ) -> Result<impl Fn(&crate::store::ExecutionHead) -> bool, EngineError> {
        let within = |t: Option<u64>, after: Option<u64>, before: Option<u64>| match t {
            Some(t) => after.is_none_or(|a| t >= a) && before.is_none_or(|b| t < b),
            None => after.is_none() && before.is_none(),
        };
        let query = filter
            .query
            .as_deref()
            .filter(|q| !q.trim().is_empty())
            .map(|q| self.parse_query(q))
            .transpose()?;
        let workflow_type = filter
            .workflow_type
            .as_deref()
            .map(str::parse::<crate::model::TypeName>)
            .transpose()?;
        let filter = filter.clone();
        Ok(move |r: &crate::store::ExecutionHead| {
            filter.status.is_none_or(|s| s == r.status)
                && workflow_type.as_ref().is_none_or(|t| *t == r.workflow_type)
                && filter
                    .id_prefix
                    .as_deref()
                    .is_none_or(|p| r.id.as_str().starts_with(p))
                && within(
                    Some(r.created_at_ms),
                    filter.started_after_ms,
                    filter.started_before_ms,
                )
                && within(
                    r.closed_at_ms,
                    filter.closed_after_ms,
                    filter.closed_before_ms,
                )
                && query.as_ref().is_none_or(|q| q.matches(r))
        })
    }
}

impl Engine {
    /// What runs now, for the gauges of `/metrics`.
    pub fn metrics_snapshot(&self) -> Result<crate::metrics::Snapshot, EngineError> {
        let in_memory: std::collections::HashSet<ExecutionId> = self
            .inner
            .actors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        // Kept by the store as it is written: a scrape costs the same with
        // a million executions kept as with ten.
        let mut counts: std::collections::BTreeMap<&'static str, usize> = self
            .inner
            .store
            .execution_counts()?
            .into_iter()
            .map(|(status, n)| (status.as_str(), n as usize))
            .collect();
        // Sleeping: running and not in memory.
        let awake = self.inner.store.running_among(in_memory.iter())?;
        let running = counts.get("running").copied().unwrap_or(0);
        counts.insert("sleeping", running.saturating_sub(awake));
        Ok(crate::metrics::Snapshot {
            executions: counts.into_iter().collect(),
            in_memory: in_memory.len(),
            pending_timers: self.inner.store.timer_count()?,
        })
    }
}
