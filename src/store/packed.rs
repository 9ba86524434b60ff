//! Packed trees: an ordered index of many small entries kept in few sled keys.
//!
//! sled 0.34 splits a leaf page once it holds 16 keys, whatever their size, and keeps a record
//! of every page in memory: an index with one sled key per order costs some 35 MiB of RAM per
//! million orders, whether it is read or not. A packed tree stores its entries sorted in
//! *buckets* of up to [`BUCKET_BYTES`], one sled key each, so that an index of a million small
//! entries takes a few tens of thousands of keys.
//!
//! Layout, in one sled tree:
//! - `b<low>` → a bucket: every entry whose key is in `[low, high)`, sorted, and `high` (the
//!   next bucket's `low`; none for the last). The first bucket's `low` is empty: the buckets
//!   cover every key, each key exactly one bucket.
//! - `f<low>` → nothing: the fences, read at open into an in-memory directory of the buckets
//!   (sled transactions offer point reads only, so a write finds its bucket there).
//! - `!ready` → marks a tree that was filled from an older layout (see [`Packed::fill`]).
//!
//! Writes go through [`PackedTx`] inside the caller's sled transaction (sled runs one
//! transaction at a time, and the directory is only changed inside one). A bucket that grows
//! past [`BUCKET_BYTES`] splits in two; an insert at a bucket's edge (newest-first keys always
//! land at the front) splits there, so that buckets filled in key order stay full. A bucket
//! that empties stays (entries are rarely removed: an order's index keys change only when its
//! number, e-mail or placement does). A directory entry left by a transaction that aborted
//! after a split points at no bucket: it is dropped when met.
//!
//! Reads ([`Packed::iter_from`], [`Packed::get`]) walk the buckets in key order outside any
//! transaction; a split committed while a walk runs is met again on its next bucket, so a walk
//! yields each key once and in order (it skips what it has passed).

use std::ops::Bound;
use std::sync::{Arc, Mutex};

use sled::transaction::{TransactionalTree, UnabortableTransactionError};

use super::{Result, StoreError};

/// A bucket splits once its encoding is larger than this.
pub const BUCKET_BYTES: usize = 2048;

const BUCKET: u8 = b'b';
const FENCE: u8 = b'f';
/// Marks a tree filled from an older layout.
pub const READY: &[u8] = b"!ready";

type TxResult<T> = std::result::Result<T, UnabortableTransactionError>;

/// One bucket: its entries (sorted by key) and its upper fence.
#[derive(Debug, Clone, PartialEq, Default)]
struct Bucket {
    high: Option<Vec<u8>>,
    entries: Vec<(Vec<u8>, Vec<u8>)>,
}

fn put_len(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn take_len(bytes: &[u8], at: &mut usize) -> Option<usize> {
    let mut n = 0usize;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        n |= ((byte & 0x7f) as usize) << shift;
        if byte & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

fn take_bytes(bytes: &[u8], at: &mut usize) -> Option<Vec<u8>> {
    let n = take_len(bytes, at)?;
    let out = bytes.get(*at..*at + n)?.to_vec();
    *at += n;
    Some(out)
}

impl Bucket {
    /// `[high + 1 or 0, high]` then `[key len, key, value len, value]` per entry.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.size());
        match &self.high {
            None => out.push(0),
            Some(h) => {
                put_len(&mut out, h.len() + 1);
                out.extend_from_slice(h);
            }
        }
        for (k, v) in &self.entries {
            put_len(&mut out, k.len());
            out.extend_from_slice(k);
            put_len(&mut out, v.len());
            out.extend_from_slice(v);
        }
        out
    }

    fn decode(bytes: &[u8]) -> Result<Bucket> {
        let bad = || StoreError::Decode("a packed index bucket is damaged".into());
        let mut at = 0;
        let high = match take_len(bytes, &mut at).ok_or_else(bad)? {
            0 => None,
            n => {
                let h = bytes.get(at..at + n - 1).ok_or_else(bad)?.to_vec();
                at += n - 1;
                Some(h)
            }
        };
        let mut entries = Vec::new();
        while at < bytes.len() {
            let k = take_bytes(bytes, &mut at).ok_or_else(bad)?;
            let v = take_bytes(bytes, &mut at).ok_or_else(bad)?;
            entries.push((k, v));
        }
        Ok(Bucket { high, entries })
    }

    /// The encoded size, near enough (lengths count one byte each below 128).
    fn size(&self) -> usize {
        let high = self.high.as_ref().map_or(1, |h| h.len() + 2);
        high + self
            .entries
            .iter()
            .map(|(k, v)| k.len() + v.len() + 2 + (k.len() >> 7) + (v.len() >> 7))
            .sum::<usize>()
    }

    fn covers(&self, low: &[u8], key: &[u8]) -> bool {
        low <= key && self.high.as_deref().is_none_or(|h| key < h)
    }
}

fn tagged(tag: u8, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.push(tag);
    k.extend_from_slice(key);
    k
}

/// A damaged bucket, or fences that do not chain: a storage fault.
fn damaged() -> UnabortableTransactionError {
    UnabortableTransactionError::Storage(sled::Error::Unsupported(
        "a packed index bucket is damaged".into(),
    ))
}

fn decode_tx(bytes: &[u8]) -> TxResult<Bucket> {
    Bucket::decode(bytes).map_err(|_| damaged())
}

/// The `low` of every bucket, sorted (a plain vector: some 60 bytes a bucket, where a
/// `BTreeSet` of vectors takes about 100; a split moves the tail, which is cheap next to its
/// writes).
#[derive(Debug, Default)]
struct Directory(Vec<Box<[u8]>>);

impl Directory {
    fn insert(&mut self, low: &[u8]) {
        if let Err(i) = self.0.binary_search_by(|l| l.as_ref().cmp(low)) {
            self.0.insert(i, low.into());
        }
    }

    fn remove(&mut self, low: &[u8]) {
        if let Ok(i) = self.0.binary_search_by(|l| l.as_ref().cmp(low)) {
            self.0.remove(i);
        }
    }

    /// The greatest `low` not above `key`.
    fn floor(&self, key: &[u8]) -> Option<Vec<u8>> {
        let after = self.0.partition_point(|l| l.as_ref() <= key);
        after.checked_sub(1).map(|i| self.0[i].to_vec())
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

/// A packed tree. Cheap to clone.
#[derive(Clone)]
pub struct Packed {
    tree: sled::Tree,
    /// The `low` of every bucket (and, briefly, of a bucket an aborted transaction made).
    lows: Arc<Mutex<Directory>>,
}

impl Packed {
    /// A packed tree over `tree`; reads its fences into the directory.
    pub fn open(tree: sled::Tree) -> Result<Packed> {
        let mut lows = Vec::new();
        for entry in tree.scan_prefix([FENCE]) {
            let (k, _) = entry?;
            lows.push(k[1..].into()); // in key order
        }
        let lows = Directory(lows);
        Ok(Packed {
            tree,
            lows: Arc::new(Mutex::new(lows)),
        })
    }

    /// The sled tree, to take part in a transaction (then wrap it with [`Packed::in_tx`]).
    pub fn tree(&self) -> &sled::Tree {
        &self.tree
    }

    /// Writes to this tree inside a transaction over [`Packed::tree`].
    pub fn in_tx<'a>(&'a self, tx: &'a TransactionalTree) -> PackedTx<'a> {
        PackedTx { packed: self, tx }
    }

    /// Whether the tree was filled from an older layout (or started in this one: see `fill`).
    pub fn is_ready(&self) -> Result<bool> {
        Ok(self.tree.contains_key(READY)?)
    }

    /// How many buckets the tree has (sled keys, less the fences).
    pub fn buckets(&self) -> usize {
        self.lows.lock().expect("directory lock").len()
    }

    /// Replaces the tree's content by `entries` (sorted by key, unique) and marks it ready, in
    /// one atomic batch: the way an older layout is carried over. Buckets are filled full.
    pub fn fill(
        &self,
        entries: impl IntoIterator<Item = Result<(Vec<u8>, Vec<u8>)>>,
    ) -> Result<()> {
        let mut batch = sled::Batch::default();
        for entry in self.tree.iter() {
            batch.remove(entry?.0);
        }
        let mut lows = Vec::new();
        let mut low: Vec<u8> = Vec::new();
        let mut bucket = Bucket::default();
        let mut last: Option<Vec<u8>> = None;
        for entry in entries {
            let (k, v) = entry?;
            if last.as_ref().is_some_and(|l| *l >= k) {
                return Err(StoreError::Decode(
                    "packed index fill: entries out of order".into(),
                ));
            }
            last = Some(k.clone());
            if !bucket.entries.is_empty() && bucket.size() + k.len() + v.len() + 2 > BUCKET_BYTES {
                bucket.high = Some(k.clone());
                batch.insert(tagged(BUCKET, &low), bucket.encode());
                batch.insert(tagged(FENCE, &low), &[][..]);
                lows.push(std::mem::replace(&mut low, k.clone()).into());
                bucket = Bucket::default();
            }
            bucket.entries.push((k, v));
        }
        if !bucket.entries.is_empty() || !low.is_empty() {
            batch.insert(tagged(BUCKET, &low), bucket.encode());
            batch.insert(tagged(FENCE, &low), &[][..]);
            lows.push(low.into());
        }
        batch.insert(READY, &[1u8][..]);
        self.tree.apply_batch(batch)?;
        *self.lows.lock().expect("directory lock") = Directory(lows);
        Ok(())
    }

    /// Marks an empty tree ready (a new store needs no carrying over).
    pub fn mark_ready(&self) -> Result<()> {
        self.tree.insert(READY, &[1u8][..])?;
        Ok(())
    }

    /// The value of `key`, read outside any transaction.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.iter_from(Bound::Included(key.to_vec())).next() {
            Some(Ok((k, v))) if k == key => Ok(Some(v)),
            Some(Err(e)) => Err(e),
            _ => Ok(None),
        }
    }

    /// Every entry whose key starts with `prefix`, in key order.
    pub fn scan_prefix<'a>(
        &'a self,
        prefix: &'a [u8],
    ) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>)>> + 'a {
        self.iter_from(Bound::Included(prefix.to_vec()))
            .take_while(move |e| e.as_ref().map_or(true, |(k, _)| k.starts_with(prefix)))
    }

    /// Every entry from `start` on, in key order.
    pub fn iter_from(&self, start: Bound<Vec<u8>>) -> Iter {
        let first = match &start {
            Bound::Unbounded => tagged(BUCKET, b""),
            Bound::Included(k) | Bound::Excluded(k) => {
                // The bucket that covers `k`: the last one whose `low` is not above it.
                match self
                    .tree
                    .range(tagged(BUCKET, b"")..=tagged(BUCKET, k))
                    .next_back()
                {
                    Some(Ok((low, _))) => low.to_vec(),
                    Some(Err(e)) => {
                        return Iter {
                            buckets: None,
                            pending: Vec::new().into_iter(),
                            start,
                            failed: Some(e.into()),
                        };
                    }
                    None => tagged(BUCKET, b""),
                }
            }
        };
        Iter {
            buckets: Some(self.tree.range(first..)),
            pending: Vec::new().into_iter(),
            start,
            failed: None,
        }
    }
}

/// Entries of a packed tree in key order (see [`Packed::iter_from`]).
pub struct Iter {
    buckets: Option<sled::Iter>,
    pending: std::vec::IntoIter<(Vec<u8>, Vec<u8>)>,
    /// Entries not after this are skipped (the start, then the last entry yielded).
    start: Bound<Vec<u8>>,
    failed: Option<StoreError>,
}

/// Whether `key` comes after `start`.
fn passes(start: &Bound<Vec<u8>>, key: &[u8]) -> bool {
    match start {
        Bound::Unbounded => true,
        Bound::Included(s) => key >= s.as_slice(),
        Bound::Excluded(s) => key > s.as_slice(),
    }
}

impl Iterator for Iter {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.failed.take() {
            self.buckets = None;
            return Some(Err(e));
        }
        loop {
            for (k, v) in self.pending.by_ref() {
                if passes(&self.start, &k) {
                    self.start = Bound::Excluded(k.clone());
                    return Some(Ok((k, v)));
                }
            }
            let (key, value) = match self.buckets.as_mut()?.next()? {
                Ok(kv) => kv,
                Err(e) => {
                    self.buckets = None;
                    return Some(Err(e.into()));
                }
            };
            if key.first() != Some(&BUCKET) {
                self.buckets = None; // past the buckets: the fences follow
                return None;
            }
            match Bucket::decode(&value) {
                Ok(b) => self.pending = b.entries.into_iter(),
                Err(e) => {
                    self.buckets = None;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Where a full bucket splits after an insert at `at`, and the right part's `low`: at the
/// insert when keys arrive in order, so that the part they left stays full. An insert at an
/// edge is one (newest-first keys land at the front); so is one that extends a run of keys
/// sharing a prefix, at the run's start or end (the newest entry of a status partition, the
/// next order of an e-mail address): it goes with the neighbour it shares more of its key
/// with. A run growing at its start inside a bucket starts the right part, whose `low` is
/// then just above the left part's last key, so that the keys still to come (between the two)
/// land in the run's bucket, not beside the entries before it. Else halfway.
fn split_point(entries: &[(Vec<u8>, Vec<u8>)], at: usize) -> (usize, Vec<u8>) {
    let n = entries.len();
    let at_key = |i: usize| (i, entries[i].0.clone());
    if at == 0 {
        return at_key(1);
    }
    if at == n - 1 {
        return at_key(n - 1);
    }
    let shared = |other: &[u8]| {
        let key = &entries[at].0;
        key.iter().zip(other).take_while(|(a, b)| a == b).count()
    };
    let (left, right) = (shared(&entries[at - 1].0), shared(&entries[at + 1].0));
    match left.cmp(&right) {
        std::cmp::Ordering::Less => {
            let mut above = entries[at - 1].0.clone();
            above.push(0); // the least key after it
            (at, above)
        }
        std::cmp::Ordering::Greater => at_key(at + 1),
        std::cmp::Ordering::Equal => at_key(n / 2),
    }
}

/// Writes to a packed tree inside a sled transaction (see [`Packed::in_tx`]).
pub struct PackedTx<'a> {
    packed: &'a Packed,
    tx: &'a TransactionalTree,
}

impl PackedTx<'_> {
    /// The bucket that covers `key`, with its `low`; none in an empty tree.
    fn locate(&self, key: &[u8]) -> TxResult<Option<(Vec<u8>, Bucket)>> {
        let mut lows = self.packed.lows.lock().expect("directory lock");
        loop {
            let Some(low) = lows.floor(key) else {
                return Ok(None);
            };
            let Some(bytes) = self.tx.get(tagged(BUCKET, &low))? else {
                lows.remove(&low); // left by an aborted transaction
                continue;
            };
            let mut low = low;
            let mut bucket = decode_tx(&bytes)?;
            // A split this directory has not seen yet: follow the fences to the right.
            while !bucket.covers(&low, key) {
                let next = match bucket.high.clone() {
                    Some(high) => self.tx.get(tagged(BUCKET, &high))?.map(|b| (high, b)),
                    None => None,
                };
                let Some((high, bytes)) = next else {
                    return Err(damaged());
                };
                lows.insert(&high);
                bucket = decode_tx(&bytes)?;
                low = high;
            }
            return Ok(Some((low, bucket)));
        }
    }

    fn store(&self, low: &[u8], bucket: &Bucket) -> TxResult<()> {
        self.tx.insert(tagged(BUCKET, low), bucket.encode())?;
        Ok(())
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> TxResult<Option<Vec<u8>>> {
        Ok(self.locate(key)?.and_then(|(_, b)| {
            b.entries
                .binary_search_by(|(k, _)| k.as_slice().cmp(key))
                .ok()
                .map(|i| b.entries[i].1.clone())
        }))
    }

    /// Sets `key` to `value`.
    pub fn insert(&self, key: &[u8], value: &[u8]) -> TxResult<()> {
        let Some((low, mut bucket)) = self.locate(key)? else {
            let first = Bucket {
                high: None,
                entries: vec![(key.to_vec(), value.to_vec())],
            };
            self.store(b"", &first)?;
            self.tx.insert(tagged(FENCE, b""), &[][..])?;
            self.packed.lows.lock().expect("directory lock").insert(b"");
            return Ok(());
        };
        let at = match bucket
            .entries
            .binary_search_by(|(k, _)| k.as_slice().cmp(key))
        {
            Ok(i) => {
                if bucket.entries[i].1 == value {
                    return Ok(());
                }
                bucket.entries[i].1 = value.to_vec();
                i
            }
            Err(i) => {
                bucket.entries.insert(i, (key.to_vec(), value.to_vec()));
                i
            }
        };
        let n = bucket.entries.len();
        if bucket.size() <= BUCKET_BYTES || n < 2 {
            return self.store(&low, &bucket);
        }
        let (cut, right_low) = split_point(&bucket.entries, at);
        let right_entries = bucket.entries.split_off(cut);
        let right = Bucket {
            high: bucket.high.take(),
            entries: right_entries,
        };
        bucket.high = Some(right_low.clone());
        self.store(&low, &bucket)?;
        self.store(&right_low, &right)?;
        self.tx.insert(tagged(FENCE, &right_low), &[][..])?;
        self.packed
            .lows
            .lock()
            .expect("directory lock")
            .insert(&right_low);
        Ok(())
    }

    /// Removes `key` (nothing when it is absent).
    pub fn remove(&self, key: &[u8]) -> TxResult<()> {
        let Some((low, mut bucket)) = self.locate(key)? else {
            return Ok(());
        };
        if let Ok(i) = bucket
            .entries
            .binary_search_by(|(k, _)| k.as_slice().cmp(key))
        {
            bucket.entries.remove(i);
            self.store(&low, &bucket)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rand::{Rng, SeedableRng};
    use sled::transaction::ConflictableTransactionError;

    use super::*;

    fn tree() -> (sled::Db, Packed) {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let p = Packed::open(db.open_tree("p").unwrap()).unwrap();
        (db, p)
    }

    fn put(p: &Packed, k: &[u8], v: &[u8]) {
        p.tree()
            .transaction(|t| {
                p.in_tx(t).insert(k, v)?;
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .unwrap();
    }

    fn del(p: &Packed, k: &[u8]) {
        p.tree()
            .transaction(|t| {
                p.in_tx(t).remove(k)?;
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .unwrap();
    }

    fn all(p: &Packed, start: Bound<Vec<u8>>) -> Vec<(Vec<u8>, Vec<u8>)> {
        p.iter_from(start).map(Result::unwrap).collect()
    }

    fn key(i: u64) -> Vec<u8> {
        format!("key-{i:08}").into_bytes()
    }

    #[test]
    fn buckets_encode_and_decode() {
        let b = Bucket {
            high: Some(b"zz".to_vec()),
            entries: vec![(b"a".to_vec(), vec![7; 300]), (vec![], vec![])],
        };
        assert_eq!(Bucket::decode(&b.encode()).unwrap(), b);
        let last = Bucket::default();
        assert_eq!(Bucket::decode(&last.encode()).unwrap(), last);
        assert!(Bucket::decode(&[5, 1]).is_err());
    }

    #[test]
    fn it_behaves_like_an_ordered_map_under_random_writes() {
        let (_db, p) = tree();
        let mut model = BTreeMap::new();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..6000 {
            let k = key(rng.gen_range(0..1500));
            if rng.gen_bool(0.2) {
                del(&p, &k);
                model.remove(&k);
            } else {
                let v = vec![rng.r#gen::<u8>(); rng.gen_range(0..40)];
                put(&p, &k, &v);
                model.insert(k, v);
            }
        }
        let want: Vec<_> = model.clone().into_iter().collect();
        assert_eq!(all(&p, Bound::Unbounded), want);
        assert!(p.buckets() > 10, "it split: {} buckets", p.buckets());
        for probe in [0, 1, 700, 1499, 1500] {
            let k = key(probe);
            assert_eq!(p.get(&k).unwrap(), model.get(&k).cloned());
            let from: Vec<_> = model
                .range::<Vec<u8>, _>((Bound::Excluded(k.clone()), Bound::Unbounded))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            assert_eq!(all(&p, Bound::Excluded(k)), from);
        }
        // Reopened, the directory comes back from the fences.
        let again = Packed::open(p.tree().clone()).unwrap();
        assert_eq!(again.buckets(), p.buckets());
        put(&again, &key(5000), b"x");
        assert_eq!(again.get(&key(5000)).unwrap(), Some(b"x".to_vec()));
    }

    #[test]
    fn keys_in_order_fill_their_buckets() {
        for descending in [false, true] {
            let (_db, p) = tree();
            for i in 0..4000u64 {
                let i = if descending { 4000 - i } else { i };
                put(&p, &key(i), &[1; 30]);
            }
            // 4000 entries of ~44 bytes: ~86 full buckets; half-full ones would make ~170.
            assert!(p.buckets() < 100, "{} buckets", p.buckets());
            assert_eq!(all(&p, Bound::Unbounded).len(), 4000);
        }
    }

    #[test]
    fn runs_growing_inside_the_tree_fill_their_buckets() {
        // Two partitions, each growing at its front (newest first), and a run growing at its
        // end in the middle of the tree: the pattern of the status partitions and terms.
        let (_db, p) = tree();
        put(&p, b"a", b"");
        put(&p, b"z", b"");
        for i in 0..3000u64 {
            for part in ["m", "q"] {
                put(&p, format!("{part}{:08}", 10_000 - i).as_bytes(), &[1; 30]);
            }
            put(&p, format!("r{i:08}").as_bytes(), &[1; 30]);
        }
        // 9000 entries of ~41 bytes: ~185 full buckets; split halfway, ~360; at the insert
        // but with the run beside what came before it, ~310.
        assert!(p.buckets() < 200, "{} buckets", p.buckets());
        assert_eq!(all(&p, Bound::Unbounded).len(), 9002);
    }

    #[test]
    fn a_prefix_scan_yields_its_keys_only() {
        let (_db, p) = tree();
        for w in ["apple", "apricot", "banana", "ap", "a", "b"] {
            put(&p, w.as_bytes(), b"");
        }
        let keys: Vec<_> = p
            .scan_prefix(b"ap")
            .map(|e| String::from_utf8(e.unwrap().0).unwrap())
            .collect();
        assert_eq!(keys, ["ap", "apple", "apricot"]);
    }

    #[test]
    fn a_split_made_by_an_aborted_transaction_leaves_no_trace() {
        let (_db, p) = tree();
        for i in 0..200 {
            put(&p, &key(i), &[0; 20]);
        }
        let before = all(&p, Bound::Unbounded);
        // Splits and then aborts: its directory entries point at nothing.
        let r = p.tree().transaction(|t| {
            for i in 1000..1200 {
                p.in_tx(t).insert(&key(i), &[0; 20])?;
            }
            Err::<(), _>(ConflictableTransactionError::Abort(()))
        });
        assert!(r.is_err());
        assert_eq!(all(&p, Bound::Unbounded), before);
        for i in 1000..1200 {
            put(&p, &key(i), &[1; 20]);
        }
        assert_eq!(all(&p, Bound::Unbounded).len(), 400);
        assert_eq!(p.get(&key(1100)).unwrap(), Some(vec![1; 20]));
    }

    #[test]
    fn a_stale_directory_finds_buckets_through_the_fences() {
        let (_db, p) = tree();
        for i in 0..300 {
            put(&p, &key(i), &[0; 20]);
        }
        // A second handle whose directory knows only the first bucket.
        let stale = Packed {
            tree: p.tree().clone(),
            lows: Arc::new(Mutex::new(Directory(vec![Box::default()]))),
        };
        put(&stale, &key(250), b"new");
        assert_eq!(p.get(&key(250)).unwrap(), Some(b"new".to_vec()));
        assert_eq!(all(&p, Bound::Unbounded).len(), 300);
    }

    #[test]
    fn fill_carries_sorted_entries_over_atomically() {
        let (_db, p) = tree();
        put(&p, b"old", b"gone");
        let entries: Vec<_> = (0..1000).map(|i| (key(i), vec![2; 25])).collect();
        p.fill(entries.clone().into_iter().map(Ok)).unwrap();
        assert!(p.is_ready().unwrap());
        assert_eq!(all(&p, Bound::Unbounded), entries);
        put(&p, &key(5), b"changed");
        assert_eq!(p.get(&key(5)).unwrap(), Some(b"changed".to_vec()));
        let unsorted = [(key(2), vec![]), (key(1), vec![])];
        assert!(p.fill(unsorted.into_iter().map(Ok)).is_err());
    }
}
