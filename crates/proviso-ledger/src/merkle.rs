//! RFC 6962 Merkle tree hashing over record hashes, with a compact
//! "frontier" (one root per perfect subtree) so that appending is O(log n)
//! and the root of any prefix is available without re-reading the log.

use sha2::{Digest, Sha256};

use crate::Hash;

/// `SHA-256(0x00 || data)`: the hash of a leaf.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The Merkle tree hash of an empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The roots of the perfect subtrees that make up a tree of `size` leaves,
/// largest first: enough to append and to compute the root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<Hash>,
}

impl Frontier {
    /// Rebuilds a frontier from its stored form; `None` if `nodes` does not
    /// hold one hash per set bit of `size`.
    pub fn from_parts(size: u64, nodes: Vec<Hash>) -> Option<Self> {
        (nodes.len() == size.count_ones() as usize).then_some(Self { size, nodes })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The stored form: the subtree roots, largest first.
    pub fn nodes(&self) -> &[Hash] {
        &self.nodes
    }

    /// Appends a leaf whose data is `data` (we use record hashes).
    pub fn push(&mut self, data: &[u8]) {
        let mut h = leaf_hash(data);
        let mut s = self.size;
        while s & 1 == 1 {
            match self.nodes.pop() {
                Some(left) => h = node_hash(&left, &h),
                None => break,
            }
            s >>= 1;
        }
        self.nodes.push(h);
        self.size += 1;
    }

    /// The RFC 6962 tree hash of all leaves so far.
    pub fn root(&self) -> Hash {
        let mut it = self.nodes.iter().rev();
        let Some(last) = it.next() else {
            return empty_root();
        };
        it.fold(*last, |acc, left| node_hash(left, &acc))
    }
}

/// The RFC 6962 tree hash of `leaves`, by the recursive definition (for
/// tests and spot checks).
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaf_hash(&leaves[0]),
        n => {
            let k = split(n);
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// The largest power of two smaller than `n` (`n` > 1).
fn split(n: usize) -> usize {
    1usize << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// The RFC 6962 consistency proof (section 2.1.2) that the tree of the
/// first `m` of `leaves` is a prefix of the tree of all of them: the
/// hashes a holder of only the two roots needs to check it. Empty when
/// `m` is 0 or all of them.
pub fn consistency_proof(leaves: &[Hash], m: usize) -> Vec<Hash> {
    let mut proof = Vec::new();
    if m > 0 && m < leaves.len() {
        subproof(m, leaves, true, &mut proof);
    }
    proof
}

fn subproof(m: usize, d: &[Hash], whole: bool, out: &mut Vec<Hash>) {
    let n = d.len();
    if m == n {
        if !whole {
            out.push(root_of(d));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &d[..k], whole, out);
        out.push(root_of(&d[k..]));
    } else {
        subproof(m - k, &d[k..], false, out);
        out.push(root_of(&d[..k]));
    }
}

/// Checks a consistency proof between a tree of `m` leaves with root
/// `old_root` and one of `n` leaves with root `new_root`, by the algorithm
/// of RFC 9162 section 2.1.4.2: true when the older tree is a prefix of
/// the newer.
pub fn verify_consistency(
    m: u64,
    n: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if m > n {
        return false;
    }
    if m == n {
        return proof.is_empty() && old_root == new_root;
    }
    if m == 0 {
        // Every tree extends the empty one.
        return proof.is_empty();
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if m.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut f, mut s) = (m - 1, n - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    fr == *old_root && sr == *new_root && s == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frontier_matches_recursive_definition() {
        let leaves: Vec<Hash> = (0u8..40).map(|i| [i; 32]).collect();
        let mut f = Frontier::default();
        assert_eq!(f.root(), root_of(&[]));
        for (i, l) in leaves.iter().enumerate() {
            f.push(l);
            assert_eq!(f.root(), root_of(&leaves[..=i]), "size {}", i + 1);
            let back = Frontier::from_parts(f.size(), f.nodes().to_vec()).unwrap();
            assert_eq!(back, f);
        }
    }

    #[test]
    fn split_point_is_largest_power_of_two_below_n() {
        // n = 5: k = 4; n = 4: k = 2; n = 2: k = 1.
        let l: Vec<Hash> = (0u8..5).map(|i| [i; 32]).collect();
        let expected = node_hash(&root_of(&l[..4]), &leaf_hash(&l[4]));
        assert_eq!(root_of(&l), expected);
    }

    #[test]
    fn every_consistency_proof_checks_and_a_changed_history_does_not() {
        let leaves: Vec<Hash> = (0u8..34).map(|i| [i; 32]).collect();
        for n in 1..=leaves.len() {
            let new_root = root_of(&leaves[..n]);
            for m in 0..=n {
                let old_root = root_of(&leaves[..m]);
                let proof = consistency_proof(&leaves[..n], m);
                let (m64, n64) = (m as u64, n as u64);
                assert!(
                    verify_consistency(m64, n64, &old_root, &new_root, &proof),
                    "m {m} n {n}"
                );
                if m == 0 {
                    continue;
                }
                // Another history of the same size: the old root differs.
                let mut other = leaves[..n].to_vec();
                other[m - 1] = [0xff; 32];
                let forged_old = root_of(&other[..m]);
                assert!(
                    !verify_consistency(m64, n64, &forged_old, &new_root, &proof),
                    "m {m} n {n}: rewritten history accepted"
                );
                if m < n {
                    // A truncated log is not an extension of the old one.
                    assert!(!verify_consistency(n64, m64, &new_root, &old_root, &proof));
                    // A tampered proof fails.
                    let mut bad = proof.clone();
                    if let Some(h) = bad.last_mut() {
                        h[0] ^= 1;
                    }
                    assert!(!verify_consistency(m64, n64, &old_root, &new_root, &bad));
                }
            }
        }
    }

    #[test]
    fn consistency_proof_matches_rfc6962_shape() {
        // RFC 6962 2.1.3's example tree of 7 leaves: the proof between
        // sizes 3 and 7 is [c, d, g, l], i.e. leaf 2, leaf 3, the node over
        // leaves 0..2, and the node over leaves 4..7.
        let l: Vec<Hash> = (0u8..7).map(|i| [i; 32]).collect();
        let proof = consistency_proof(&l, 3);
        assert_eq!(
            proof,
            vec![
                leaf_hash(&l[2]),
                leaf_hash(&l[3]),
                root_of(&l[..2]),
                root_of(&l[4..7])
            ]
        );
        // Between 4 and 7: [l] only (4 is a power of two: the old root
        // itself starts the path).
        assert_eq!(consistency_proof(&l, 4), vec![root_of(&l[4..7])]);
    }

    #[test]
    fn from_parts_rejects_wrong_length() {
        assert!(Frontier::from_parts(3, vec![[0; 32]]).is_none());
    }
}
