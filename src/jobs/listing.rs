//! What makes the jobs list cost its page, not every stored job: counts per kind and status,
//! and list entries per status and kind, both kept in `jobs_index` in the same transaction as
//! the job ([`super::queue::JobTx::put`]).
//!
//! | prefix | key | value | for |
//! |---|---|---|---|
//! | `l` | status, 0, kind, 0, id | – | the jobs of one status and kind, newest first |
//! | `c` | kind, 0, status | u64 BE | how many jobs stand in a kind and status |
//!
//! A list filtered by status or kind merges the (status, kind) runs it needs, newest first, so
//! a page reads only its own jobs; its `totalCount` is the sum of the counts. A store written
//! before these entries existed gets them once at start (`#listed` marks it).

use std::collections::{BTreeMap, BinaryHeap};

use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::JobsError;
use super::record::{JobKind, JobRecord, JobStatus};
use crate::store::decode;

const LISTED: &[u8] = b"#listed";

fn count_key(kind: &JobKind, status: JobStatus) -> Vec<u8> {
    [
        b"c",
        kind.as_str().as_bytes(),
        &[0],
        status.as_str().as_bytes(),
    ]
    .concat()
}

fn run_prefix(status: JobStatus, kind: &JobKind) -> Vec<u8> {
    [
        b"l",
        status.as_str().as_bytes(),
        &[0],
        kind.as_str().as_bytes(),
        &[0],
    ]
    .concat()
}

/// The list entry of a job in its current state.
pub(super) fn entry(j: &JobRecord) -> Vec<u8> {
    [run_prefix(j.status, &j.kind), j.id.to_be_bytes().to_vec()].concat()
}

/// Moves a job between counts inside a transaction: `old` out, `new` in (either may be none).
pub(super) fn recount<E>(
    index: &TransactionalTree,
    old: Option<&JobRecord>,
    new: Option<&JobRecord>,
) -> Result<(), ConflictableTransactionError<E>> {
    let pair = |j: &JobRecord| (j.kind.clone(), j.status);
    if old.map(pair) == new.map(pair) {
        return Ok(());
    }
    for (j, delta) in [(old, -1i64), (new, 1)] {
        let Some(j) = j else { continue };
        let key = count_key(&j.kind, j.status);
        let now = index
            .get(&key)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map_or(0, u64::from_be_bytes);
        index.insert(key, &((now as i64 + delta).max(0) as u64).to_be_bytes())?;
    }
    Ok(())
}

/// How many jobs stand in each (kind, status).
pub(super) fn counts(index: &sled::Tree) -> Result<BTreeMap<(JobKind, JobStatus), u64>, JobsError> {
    let mut out = BTreeMap::new();
    for entry in index.scan_prefix(b"c") {
        let (key, value) = entry?;
        let text = String::from_utf8_lossy(&key[1..]).into_owned();
        let Some((kind, status)) = text.split_once('\0') else {
            continue;
        };
        let (Ok(kind), Some(status), Ok(n)) = (
            JobKind::new(kind),
            JobStatus::parse(status),
            <[u8; 8]>::try_from(value.as_ref()),
        ) else {
            continue;
        };
        out.insert((kind, status), u64::from_be_bytes(n));
    }
    Ok(out)
}

/// The (status, kind) runs a filter on `status` and `kinds` reads: every kind ever counted
/// when `kinds` is empty, every status when `status` is none.
pub(super) fn runs(
    counts: &BTreeMap<(JobKind, JobStatus), u64>,
    status: Option<JobStatus>,
    kinds: &[JobKind],
) -> Vec<(JobStatus, JobKind)> {
    counts
        .keys()
        .filter(|(k, s)| status.is_none_or(|x| x == *s) && (kinds.is_empty() || kinds.contains(k)))
        .map(|(k, s)| (*s, k.clone()))
        .collect()
}

/// Ids of the jobs in `runs` below `below` (all when none), newest first, merged across runs.
pub(super) fn newest(
    index: &sled::Tree,
    runs: &[(JobStatus, JobKind)],
    below: Option<u64>,
) -> impl Iterator<Item = Result<u64, JobsError>> + use<> {
    let mut iters: Vec<_> = runs
        .iter()
        .map(|(status, kind)| {
            let prefix = run_prefix(*status, kind);
            let end = match below {
                Some(id) => [prefix.clone(), id.to_be_bytes().to_vec()].concat(),
                None => [prefix.clone(), vec![0xff; 9]].concat(),
            };
            index.range(prefix..end).rev()
        })
        .collect();
    let mut heads = BinaryHeap::new();
    let mut failed = None;
    for (i, it) in iters.iter_mut().enumerate() {
        match next_id(it) {
            Some(Ok(id)) => heads.push((id, i)),
            Some(Err(e)) => failed = Some(e),
            None => {}
        }
    }
    std::iter::from_fn(move || {
        if let Some(e) = failed.take() {
            return Some(Err(e));
        }
        let (id, i) = heads.pop()?;
        match next_id(&mut iters[i]) {
            Some(Ok(next)) => heads.push((next, i)),
            Some(Err(e)) => failed = Some(e),
            None => {}
        }
        Some(Ok(id))
    })
}

fn next_id(
    it: &mut impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>,
) -> Option<Result<u64, JobsError>> {
    it.next().map(|e| {
        let (key, _) = e?;
        let tail = <[u8; 8]>::try_from(&key[key.len() - 8..]).expect("8 bytes");
        Ok(u64::from_be_bytes(tail))
    })
}

/// Writes the list entries and counts of every stored job, once, for a store written before
/// they were kept.
pub(super) fn build_once(jobs: &sled::Tree, index: &sled::Tree) -> Result<(), JobsError> {
    if index.contains_key(LISTED)? {
        return Ok(());
    }
    let mut counts = BTreeMap::<Vec<u8>, u64>::new();
    let mut batch = sled::Batch::default();
    for e in jobs.iter() {
        let (_, value) = e?;
        let j: JobRecord = decode(&value)?;
        batch.insert(entry(&j), &[][..]);
        *counts.entry(count_key(&j.kind, j.status)).or_default() += 1;
    }
    for (key, n) in counts {
        batch.insert(key, &n.to_be_bytes());
    }
    batch.insert(LISTED, &[1u8][..]);
    index.apply_batch(batch)?;
    Ok(())
}
