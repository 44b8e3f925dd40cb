//! A uniform reservoir sample of the documents a scan reads (for `proviso
//! audit --sample`), seeded so that a run can be repeated.

use crate::read::Document;

/// A uniform reservoir sample of `n` documents from a stream, seeded.
pub struct Sampler {
    n: usize,
    seen: u64,
    state: u64,
    /// The sample so far.
    pub kept: Vec<Document>,
}

/// A sampler of `n` documents with `seed`.
pub fn sample(n: usize, seed: u64) -> Sampler {
    Sampler {
        n,
        seen: 0,
        state: seed ^ 0x9E37_79B9_7F4A_7C15 | 1,
        kept: Vec::with_capacity(n),
    }
}

impl Sampler {
    fn rand(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Offers one document (algorithm R).
    pub fn offer(&mut self, d: Document) {
        self.seen += 1;
        if self.kept.len() < self.n {
            self.kept.push(d);
        } else {
            let j = self.rand() % self.seen;
            if (j as usize) < self.n {
                self.kept[j as usize] = d;
            }
        }
    }

    /// Documents offered.
    pub fn seen(&self) -> u64 {
        self.seen
    }
}
