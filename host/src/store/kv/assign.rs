//! Which host runs which partition of a store of several (PostgreSQL).
//!
//! The assignment is a function of the live hosts and the cluster format
//! they speak ([`FORMAT`]: evenly, each host its share or one more, or
//! rendezvous hashing alone while a host of an older release counts), so
//! every host computes the same one from the same membership, and a host
//! joining or leaving moves little besides its share. A host plays its part in rounds ([`Partitions::step`]): it takes
//! the partitions assigned to it whose lease is free or expired (a live
//! lease is never taken: the holder gives it up first), names those it
//! holds that are assigned elsewhere now (its caller drains their work,
//! then [`Partitions::release`]s them), and those it lost (fenced).
//!
//! Churn is damped: another host counts as live once it has been
//! registered for `settle` (a host that restarts in a rolling upgrade does
//! not pull partitions to itself the moment it appears) and while its row
//! is younger than its lease (`weft_hosts.seen_at`, refreshed every quarter
//! lease) or it holds a live lease (a host that stood still for less than
//! its lease moves nothing). A host always counts itself.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::lease::Fence;
use super::pg::{pg_err, pool_err, Pg};
use crate::store::StoreError;

/// FNV-1a of `bytes`, then a 64-bit finalizer (FNV alone spreads short,
/// similar names poorly). Fixed forever: hosts of different releases must
/// agree on every value made from it.
fn mix(bytes: impl IntoIterator<Item = u8>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// A host's weight with a partition: [`mix`] of its id, a zero byte and
/// the partition (little-endian).
fn weight(host: &str, part: u32) -> u64 {
    mix(host.bytes().chain([0]).chain(part.to_le_bytes()))
}

/// The partition an execution id (or a schedule's name) belongs to unless
/// the directory says otherwise (a child is made in its parent's): where a
/// start, a signal and every other request naming it are sent: [`mix`] of
/// the name, modulo the partitions. Ids already made keep it.
pub fn home(name: &str, partitions: u32) -> u32 {
    if partitions <= 1 {
        return 0;
    }
    (mix(name.bytes()) % u64::from(partitions)) as u32
}

/// The cluster format this release speaks, written in its host row
/// (`weft_hosts.format`, schema version 9): how hosts sharing a store of
/// several partitions compute what they must agree on. The store runs at
/// the lowest format of the hosts that count in the assignment (a host of
/// a release before formats speaks 0), so hosts of two releases in a
/// rolling upgrade compute the same assignment: the newer ones keep the
/// older way until the last older host has left.
/// - 0: each partition to the live host whose weight with it is highest
///   (rendezvous hashing alone; 8 partitions over 3 hosts may give one 4).
/// - 1: the same weights, each host's share bounded ([`even`]).
pub(crate) const FORMAT: i32 = 1;

/// How the partitions are assigned at a cluster format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Way {
    /// Format 0: each partition to the live host whose weight with it is
    /// highest, even or not.
    Rendezvous,
    /// Format 1 and later: [`even`].
    Even,
}

impl Way {
    pub(crate) fn of(format: i32) -> Self {
        if format >= 1 {
            Self::Even
        } else {
            Self::Rendezvous
        }
    }
}

/// The host each of `partitions` partitions is assigned to, among `live`,
/// at the cluster `format` (`None`: no live host).
pub(crate) fn assignment<'h>(
    live: &[&'h str],
    partitions: u32,
    format: i32,
) -> Vec<Option<&'h str>> {
    if Way::of(format) == Way::Even {
        return even(live, partitions);
    }
    (0..partitions)
        .map(|part| {
            live.iter()
                .copied()
                .max_by_key(|host| (weight(host, part), *host))
        })
        .collect()
}

/// Format 1: every host runs `partitions / hosts` partitions or one more.
/// Each (host, partition) pair is taken in order of weight, highest first
/// (ties: the host id, then the partition, ascending); the partition goes
/// to the pair's host unless it has one already or that host is full. A
/// host is full at `partitions / hosts`, and the first `partitions %
/// hosts` hosts to reach that may take one more. Since the weights are
/// fixed, a host joining or leaving moves its share and at most about as
/// many again (mostly a few more: 256 partitions, a tenth host joining,
/// 32 moved for its share of 26).
/// Fixed forever: hosts of every release of format 1 must compute the
/// same assignment.
fn even<'h>(live: &[&'h str], partitions: u32) -> Vec<Option<&'h str>> {
    let mut hosts = live.to_vec();
    hosts.sort_unstable();
    hosts.dedup();
    let mut owners = vec![None; partitions as usize];
    if hosts.is_empty() {
        return owners;
    }
    let n = hosts.len() as u32;
    let (share, mut extra) = (partitions / n, partitions % n);
    let mut pairs: Vec<(u64, usize, u32)> = hosts
        .iter()
        .enumerate()
        .flat_map(|(h, host)| (0..partitions).map(move |part| (weight(host, part), h, part)))
        .collect();
    pairs.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut counts = vec![0u32; hosts.len()];
    let mut left = partitions;
    for (_, h, part) in pairs {
        if left == 0 {
            break;
        }
        let owner = &mut owners[part as usize];
        if owner.is_some() || counts[h] > share {
            continue;
        }
        if counts[h] == share {
            if extra == 0 {
                continue;
            }
            extra -= 1;
        }
        counts[h] += 1;
        *owner = Some(hosts[h]);
        left -= 1;
    }
    owners
}

/// What a round found changed for this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// This host holds the partition now, at this lease generation.
    Gained(u32, i64),
    /// The partition is assigned to another host now (named): this one
    /// drains its work there, then releases it.
    Moving(u32, String),
    /// This host lost the partition (another host took it, or a newer
    /// weft migrated the database past this one): it writes nothing more
    /// there. With the fence that says why.
    Lost(u32, Fence),
}

/// The partitions one host holds, and its part in the assignment.
pub struct Partitions {
    /// This host's view of the store (membership, the shared connections).
    pg: Arc<Pg>,
    /// The partitions held, each by its own lease.
    held: BTreeMap<u32, Arc<Pg>>,
    /// Partitions assigned to this host and not taken yet (their lease
    /// live elsewhere), kept across rounds: one lease session each, and
    /// what it saw of the holder (a holder whose sessions vanished gets a
    /// grace period from when that was first seen).
    waiting: BTreeMap<u32, Arc<Pg>>,
    /// How long another host must have been registered to count as live.
    settle: Duration,
    /// Whether the last round found something about to change for this
    /// host (see [`Partitions::soon`]).
    soon: bool,
    /// The cluster format of the last round (see [`FORMAT`]).
    format: Option<i32>,
}

impl Partitions {
    pub fn new(pg: Arc<Pg>, settle: Duration) -> Self {
        Self {
            pg,
            held: BTreeMap::new(),
            waiting: BTreeMap::new(),
            settle,
            soon: false,
            format: None,
        }
    }

    /// Whether the last round found a change under way that the next one
    /// may see through: a partition assigned here still held by another
    /// host (its lease not expired yet, or its holder draining it), or
    /// another live host gone quiet (not seen for half a lease: paused,
    /// cut off or dead; it leaves the assignment once its lease has
    /// passed). Its caller plays the next round sooner, so a partition is
    /// taken close to the moment it can be, not up to a round later.
    pub fn soon(&self) -> bool {
        self.soon
    }

    /// A partition this host holds.
    pub fn held(&self, part: u32) -> Option<&Arc<Pg>> {
        self.held.get(&part)
    }

    /// One round: takes what is assigned to this host and free, and says
    /// what changed; a round that finds partitions lost says only that.
    /// Fails only if the hosts could not be read (nothing changed then); a
    /// partition that could not be taken is tried again at the next round.
    pub fn step(&mut self) -> Result<Vec<Change>, StoreError> {
        let mut changes = Vec::new();
        let lost: Vec<(u32, Fence)> = self
            .held
            .iter()
            .filter_map(|(part, pg)| Some((*part, pg.fenced().borrow().clone()?)))
            .collect();
        for (part, fence) in &lost {
            self.held.remove(part);
            changes.push(Change::Lost(*part, fence.clone()));
        }
        if !lost.is_empty() {
            // A lost partition ends the host: it takes nothing more (it
            // would exit holding what it took, and the others wait a lease
            // for it) and hands nothing over (it exits at once).
            crate::pause::point_blocking("assign-found-lost");
            return Ok(changes);
        }
        let found = self.pg.live_hosts(self.settle)?;
        let live: Vec<&str> = found.hosts.iter().map(String::as_str).collect();
        let me = self.pg.host().to_owned();
        let owners = assignment(&live, self.pg.partitions(), found.format);
        self.say_format(&found);
        for (part, owner) in (0..).zip(owners) {
            let mine = owner == Some(me.as_str());
            if !mine {
                self.waiting.remove(&part);
                // One whose hold this host cannot confirm now (it was
                // paused, or cut off) is not handed over: its renewal says
                // whether it is still this host's (handed over at a later
                // round) or was taken (lost, which ends the host).
                if self
                    .held
                    .get(&part)
                    .is_some_and(|pg| pg.hold_problem().is_none())
                {
                    changes.push(Change::Moving(part, owner.unwrap_or_default().to_owned()));
                }
                continue;
            }
            if self.held.contains_key(&part) {
                continue;
            }
            let pg = match self.waiting.get(&part) {
                Some(pg) if pg.fenced().borrow().is_none() => pg.clone(),
                _ => match self.pg.partition(part) {
                    Ok(pg) => pg,
                    Err(e) => {
                        tracing::warn!(part, error = %e, "cannot look at a partition");
                        continue;
                    }
                },
            };
            match pg.try_acquire() {
                Ok(Some(generation)) => {
                    self.waiting.remove(&part);
                    self.held.insert(part, pg);
                    changes.push(Change::Gained(part, generation));
                }
                Ok(None) => {
                    self.waiting.insert(part, pg);
                }
                Err(e) => {
                    tracing::warn!(part, error = %e, "cannot take a partition assigned to this host");
                    self.waiting.remove(&part);
                }
            }
        }
        self.soon = found.quiet || !self.waiting.is_empty();
        Ok(changes)
    }

    /// Logs the cluster format the hosts assign at when it changes (a host
    /// of an older release came or left), and at the first round if it is
    /// below this host's.
    fn say_format(&mut self, found: &LiveHosts) {
        if self.format == Some(found.format) {
            return;
        }
        let first = self.format.is_none();
        self.format = Some(found.format);
        if found.format >= FORMAT {
            if !first {
                tracing::info!(
                    format = found.format,
                    "no host of an older release counts now: the partitions are assigned as \
                     this host's format says ({:?})",
                    Way::of(found.format)
                );
            }
            return;
        }
        tracing::warn!(
            format = found.format,
            "hosts of an older release count ({}): the partitions are assigned as they do \
             ({:?}), maybe unevenly, until they leave (upgrade them)",
            found.older.join(", "),
            Way::of(found.format)
        );
    }

    /// Gives a partition up at once (its work drained): the host it is
    /// assigned to takes it at its next round.
    pub fn release(&mut self, part: u32) {
        if let Some(pg) = self.held.remove(&part) {
            pg.release();
        }
    }

    /// Gives every partition up (a graceful stop).
    pub fn release_all(&mut self) {
        self.waiting.clear();
        for (_, pg) in std::mem::take(&mut self.held) {
            pg.release();
        }
    }
}

/// The hosts that count in the assignment now (see [`Pg::live_hosts`]).
pub(crate) struct LiveHosts {
    /// By id.
    pub hosts: Vec<String>,
    /// Whether one of the others has not been seen for half a lease (its
    /// row is refreshed every quarter lease).
    pub quiet: bool,
    /// The cluster format: the lowest these hosts speak (see [`FORMAT`]).
    pub format: i32,
    /// Those that speak a lower format than this host.
    pub older: Vec<String>,
}

impl Pg {
    /// The hosts that count in the assignment now: this one, and every
    /// other registered for `settle` and either seen within its lease or
    /// holding a live lease. A host that stood still says it is live again
    /// only a lease later (see `Pg::join`), but while its leases hold its
    /// partitions cannot move, and the others' shares must not move around
    /// it (they handed a partition between them and back for a pause of
    /// half a lease). A fenced host deletes its row at once (see
    /// `Pg::fence`): one woken past its lease whose renewal of a partition
    /// nobody took yet succeeded does not count on its way out. A row's
    /// format holds while it was written with the row's start (a host of an
    /// older release rejoining under the same id moves the start only).
    pub(crate) fn live_hosts(&self, settle: Duration) -> Result<LiveHosts, StoreError> {
        let client = self.block(self.pool().get()).map_err(pool_err)?;
        let rows = self
            .block(client.query(
                "SELECT host_id, host_id <> $1 \
                   AND seen_at <= now() - make_interval(secs => $2::float8 / 2), \
                   CASE WHEN format_started = started_at THEN format END \
                 FROM weft_hosts \
                 WHERE host_id = $1 OR (started_at <= now() - make_interval(secs => $3) \
                   AND (seen_at > now() - make_interval(secs => $2) \
                     OR host_id IN (SELECT owner FROM weft_leases WHERE expires_at > now()))) \
                 ORDER BY host_id",
                &[
                    &self.host(),
                    &self.lease.length.as_secs_f64(),
                    &settle.as_secs_f64(),
                ],
            ))
            .map_err(pg_err)?;
        let mut live = LiveHosts {
            hosts: Vec::with_capacity(rows.len() + 1),
            quiet: false,
            format: FORMAT,
            older: Vec::new(),
        };
        for row in &rows {
            let host: String = row.get(0);
            live.quiet |= row.get::<_, bool>(1);
            let format = row.get::<_, Option<i32>>(2).unwrap_or(0);
            if host != self.host() && format < FORMAT {
                live.format = live.format.min(format);
                live.older.push(host.clone());
            }
            live.hosts.push(host);
        }
        if !live.hosts.iter().any(|h| h == self.host()) {
            // Not registered (yet, or forgotten): it counts itself.
            live.hosts.push(self.host().to_owned());
            live.hosts.sort();
        }
        Ok(live)
    }
}

#[cfg(test)]
mod tests {
    use super::assignment;

    const PINNED_HOMES: [u32; 5] = [5, 11, 11, 6, 14];

    fn owners<'h>(live: &[&'h str], partitions: u32) -> Vec<&'h str> {
        owners_at(live, partitions, 0)
    }

    fn owners_at<'h>(live: &[&'h str], partitions: u32, format: i32) -> Vec<&'h str> {
        assignment(live, partitions, format)
            .into_iter()
            .map(|o| o.expect("an owner"))
            .collect()
    }

    /// Every partition has an owner, the same whatever order the hosts are
    /// listed in, spread over the hosts; a host leaving moves only its own
    /// partitions, one joining only those it gains.
    /// Where ids live is pinned: ids already made keep their partition in
    /// every later release.
    #[test]
    fn an_ids_home_partition_is_fixed() {
        let homes: Vec<u32> = ["order-1", "order-2", "a", "", "sweeper/child-7"]
            .iter()
            .map(|id| super::home(id, 16))
            .collect();
        assert_eq!(homes, PINNED_HOMES, "the home of an id changed");
        assert_eq!(super::home("order-1", 1), 0);
        let mut seen = [0u32; 4];
        for n in 0..4_000 {
            seen[super::home(&format!("exec-{n}"), 4) as usize] += 1;
        }
        assert!(seen.iter().all(|c| (800..1_200).contains(c)), "{seen:?}");
    }

    #[test]
    fn the_assignment_is_a_function_of_the_live_hosts_and_moves_little() {
        let three = ["host-a", "host-b", "host-c"];
        let a = owners(&three, 64);
        assert_eq!(a, owners(&["host-c", "host-a", "host-b"], 64), "order");
        for host in three {
            let n = a.iter().filter(|o| **o == host).count();
            assert!((10..=34).contains(&n), "{host} has {n} of 64");
        }
        let two = owners(&["host-a", "host-b"], 64);
        for (part, (before, after)) in a.iter().zip(&two).enumerate() {
            if *before != "host-c" {
                assert_eq!(
                    before, after,
                    "partition {part} moved though its host stayed"
                );
            }
        }
        let four = owners(&["host-a", "host-b", "host-c", "host-d"], 64);
        for (part, (before, after)) in a.iter().zip(&four).enumerate() {
            if *after != "host-d" {
                assert_eq!(
                    before, after,
                    "partition {part} moved to a host that was there"
                );
            }
        }
        assert!(four.contains(&"host-d"));
        assert_eq!(assignment(&[], 4, 0), vec![None; 4]);
        assert_eq!(owners(&["solo"], 3), vec!["solo"; 3]);
    }

    /// Format 1 (issue 17): rendezvous
    /// hashing alone gave one of three hosts 7 of 16 partitions (host-a,
    /// host-b, host-c below: 4, 7 and 5). Each host now runs its share or one more,
    /// whatever order the hosts are listed in, and a host joining or
    /// leaving moves little more than its share.
    #[test]
    fn the_even_assignment_gives_each_host_its_share_and_moves_little() {
        let three = ["host-a", "host-b", "host-c"];
        let count = |owners: &[&str], host: &str| owners.iter().filter(|o| **o == host).count();
        let before = owners_at(&three, 16, 0);
        assert_eq!(
            three.map(|h| count(&before, h)),
            [4, 7, 5],
            "rendezvous alone: {before:?}"
        );
        for (partitions, hosts) in [(8, 3), (64, 3), (16, 5), (4, 4), (3, 5), (4096, 7)] {
            let live: Vec<String> = (0..hosts).map(|h| format!("host-{h}")).collect();
            let live: Vec<&str> = live.iter().map(String::as_str).collect();
            let even = owners_at(&live, partitions, 1);
            let share = partitions as usize / hosts;
            for host in &live {
                let n = count(&even, host);
                assert!(
                    n == share || n == share + 1,
                    "{host} has {n} of {partitions} over {hosts}"
                );
            }
        }
        let a = owners_at(&three, 64, 1);
        let moved = |x: &[&str], y: &[&str]| x.iter().zip(y).filter(|(p, q)| p != q).count();
        // host-c leaves: its 21 or 22 must move; a few more may.
        let two = owners_at(&["host-a", "host-b"], 64, 1);
        let must = count(&a, "host-c");
        assert!(
            moved(&a, &two) <= must + 8,
            "{} moved for {must}",
            moved(&a, &two)
        );
        // host-d joins: it takes its 16; a few more may move.
        let four = owners_at(&["host-a", "host-b", "host-c", "host-d"], 64, 1);
        assert_eq!(count(&four, "host-d"), 16);
        assert!(
            moved(&a, &four) <= 16 + 8,
            "{} moved for 16",
            moved(&a, &four)
        );
        assert_eq!(owners_at(&["solo"], 3, 1), vec!["solo"; 3]);
        assert_eq!(assignment(&[], 4, 1), vec![None; 4]);
    }

    /// The even assignment is fixed: hosts of every release of format 1
    /// compute the same (these owners must never change).
    #[test]
    fn the_even_assignment_is_fixed() {
        let three = ["host-a", "host-b", "host-c"];
        assert_eq!(owners_at(&three, 8, 1), EVEN_8_OVER_3);
        // The end-to-end tests' hosts.
        assert_eq!(
            owners_at(&["a", "b", "c"], 8, 1),
            ["a", "a", "b", "b", "b", "c", "c", "a"]
        );
        assert_eq!(owners_at(&["c", "d"], 4, 1), ["d", "c", "d", "c"]);
        assert_eq!(owners_at(&["a", "b"], 4, 1), ["a", "a", "b", "b"]);
    }

    const EVEN_8_OVER_3: [&str; 8] = [
        "host-c", "host-a", "host-c", "host-b", "host-c", "host-b", "host-b", "host-a",
    ];

    /// The weights are fixed: hosts of every release compute the same
    /// assignment (these values, checked against an independent
    /// computation of FNV-1a and the finalizer, must never change).
    #[test]
    fn the_weights_are_fixed() {
        let fixed = [
            super::weight("host-a", 0),
            super::weight("host-a", 1),
            super::weight("host-b", 0),
        ];
        assert_eq!(fixed, WEIGHTS, "the weight function changed");
    }

    const WEIGHTS: [u64; 3] = [
        1_362_566_994_442_412_294,
        5_416_390_602_698_137_481,
        9_437_159_854_270_849_552,
    ];

    /// Two hosts on a store of four partitions: the first, alone, takes
    /// every one; once the second counts, the first names the partitions
    /// now assigned to it (which the second cannot take while their leases
    /// are live) and releases them, and the second takes them; when the
    /// second stops, the first takes them back. Each partition is held by
    /// the host the assignment names.
    #[test]
    fn hosts_take_their_partitions_and_hand_over_the_others_on_postgres() {
        use super::{Change, Partitions};
        use std::sync::atomic::AtomicU64;
        use std::sync::Arc;
        use std::time::Duration;
        let Some(url) = crate::store::tests::fresh_postgres_url("assign") else {
            return;
        };
        let connect = |host: &str| {
            let pg = super::Pg::connect(&url, true, host, Duration::from_secs(10), 4).unwrap();
            pg.join(
                "http://127.0.0.1:1",
                "0",
                "0",
                false,
                Arc::new(AtomicU64::new(0)),
            )
            .unwrap();
            Partitions::new(pg, Duration::ZERO)
        };
        let mut a = connect("host-a");
        let mut gained: Vec<u32> = a
            .step()
            .unwrap()
            .into_iter()
            .map(|c| match c {
                Change::Gained(part, 1) => part,
                other => panic!("{other:?}"),
            })
            .collect();
        gained.sort();
        assert_eq!(gained, vec![0, 1, 2, 3], "alone, it takes every partition");
        assert_eq!(a.step().unwrap(), vec![], "nothing more to do");

        let mut b = connect("host-b");
        let owners = assignment(&["host-a", "host-b"], 4, super::FORMAT);
        let to_b: Vec<u32> = (0..4)
            .filter(|p| owners[*p as usize] == Some("host-b"))
            .collect();
        assert!(!to_b.is_empty() && to_b.len() < 4, "{owners:?}");
        assert_eq!(b.step().unwrap(), vec![], "a live lease is not taken");
        let moving = a.step().unwrap();
        assert_eq!(
            moving,
            to_b.iter()
                .map(|p| Change::Moving(*p, "host-b".into()))
                .collect::<Vec<_>>()
        );
        for part in &to_b {
            a.release(*part);
        }
        let taken = b.step().unwrap();
        assert_eq!(
            taken,
            to_b.iter()
                .map(|p| Change::Gained(*p, 2))
                .collect::<Vec<_>>()
        );
        assert_eq!(a.step().unwrap(), vec![]);
        for part in 0..4 {
            let holder = if to_b.contains(&part) { &b } else { &a };
            assert!(holder.held(part).is_some(), "partition {part}");
        }

        // The second host stops: its partitions go back to the first.
        b.release_all();
        b.pg.leave();
        let back = a.step().unwrap();
        assert_eq!(
            back,
            to_b.iter()
                .map(|p| Change::Gained(*p, 3))
                .collect::<Vec<_>>()
        );
    }
}
