//! Traditional Chinese and its variant characters folded to Simplified, so
//! that a copy converted from one script to the other is still a copy.
//!
//! The table comes from OpenCC's dictionaries (through the `ferrous-opencc`
//! crate, which carries them): the Taiwan and Hong Kong variants and the
//! Traditional characters, each converted to Simplified. It is applied
//! character by character, because a Chinese token is one character: a
//! conversion that maps one character to several, or a phrase to a
//! different word (`軟體` for `软件`, Taiwan usage), is not a folding of
//! characters and is left out. The table is worked out once per process,
//! on the first Chinese character tokenised.

use std::sync::OnceLock;

use ferrous_opencc::OpenCC;
use ferrous_opencc::config::BuiltinConfig;

/// The ranges of characters looked up: the unified ideographs, extension A,
/// the compatibility ideographs and the supplementary planes' extensions.
const RANGES: &[(u32, u32)] = &[
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x2FA1F),
];

/// First code point of the dense part of the table.
const DENSE_FROM: u32 = 0x3400;
/// One past the last code point of the dense part.
const DENSE_TO: u32 = 0xFB00;

struct Table {
    /// `DENSE_FROM..DENSE_TO`: the Simplified form, or 0 for none.
    dense: Vec<u32>,
    /// Beyond the dense part, sorted.
    sparse: Vec<(char, char)>,
}

fn build() -> Table {
    let mut t = Table {
        dense: vec![0; (DENSE_TO - DENSE_FROM) as usize],
        sparse: Vec::new(),
    };
    let chars: Vec<char> = RANGES
        .iter()
        .flat_map(|&(a, b)| (a..=b).filter_map(char::from_u32))
        .collect();
    // One character a line: a conversion of the whole list at once sees no
    // phrase, only characters.
    let mut joined = String::with_capacity(chars.len() * 5);
    for c in &chars {
        joined.push(*c);
        joined.push('\n');
    }
    // Variants first (Taiwan, Hong Kong), then plain Traditional: the first
    // that changes a character wins.
    for cfg in [BuiltinConfig::Tw2s, BuiltinConfig::Hk2s, BuiltinConfig::T2s] {
        // The dictionaries are part of the crate; one that would not load
        // leaves its characters unfolded rather than failing the scan.
        let Ok(cc) = OpenCC::from_config(cfg) else {
            continue;
        };
        let out = cc.convert(&joined);
        for (c, s) in chars.iter().zip(out.split('\n')) {
            let mut it = s.chars();
            let (Some(to), None) = (it.next(), it.next()) else {
                continue;
            };
            if to == *c {
                continue;
            }
            let u = *c as u32;
            if (DENSE_FROM..DENSE_TO).contains(&u) {
                let slot = &mut t.dense[(u - DENSE_FROM) as usize];
                if *slot == 0 {
                    *slot = to as u32;
                }
            } else if !t.sparse.iter().any(|(k, _)| k == c) {
                t.sparse.push((*c, to));
            }
        }
    }
    t.sparse.sort_unstable();
    t
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(build)
}

/// The Simplified form of a Han character (itself when it has none).
pub fn simplified(c: char) -> char {
    let u = c as u32;
    let t = table();
    if (DENSE_FROM..DENSE_TO).contains(&u) {
        return t
            .dense
            .get((u - DENSE_FROM) as usize)
            .and_then(|&s| char::from_u32(s).filter(|_| s != 0))
            .unwrap_or(c);
    }
    t.sparse
        .binary_search_by_key(&c, |(k, _)| *k)
        .map_or(c, |i| t.sparse[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traditional_and_variants_fold_to_simplified() {
        let fold = |s: &str| s.chars().map(simplified).collect::<String>();
        assert_eq!(fold("開放中文轉換"), "开放中文转换");
        assert_eq!(fold("頭髮乾燥"), "头发干燥");
        // Taiwan's variant of 里 (inside) and Hong Kong's of 着.
        assert_eq!(fold("這裡面"), "这里面");
        assert_eq!(fold("這裏面"), "这里面");
        assert_eq!(fold("简体不变"), "简体不变");
        assert_eq!(simplified('a'), 'a');
    }
}
