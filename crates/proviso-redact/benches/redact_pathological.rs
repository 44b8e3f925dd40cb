//! Linear time on hostile text: for each recogniser, a text built to be its
//! worst case (back-to-back candidates, long runs that almost match, what a
//! validator must look around), timed at 1, 4 and 16 MB on one thread. A
//! recogniser that is linear keeps the same MB/s at every size: the last
//! column is the 16 MB rate over the 1 MB rate (1.0 is linear; a quadratic
//! one falls towards 1/16). Prints a Markdown table. Usage:
//! redact_pathological [MAX_MB]

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: failing loudly is right

use std::time::Instant;

use proviso_redact::{RedactConfig, Redactor};

fn cases() -> Vec<(&'static str, &'static str)> {
    vec![
        ("email: back-to-back addresses", "a1@ex.co"),
        ("email: one long local part", "abcdefghij."),
        ("phone: digit groups with separators", "+1 415-555-"),
        ("card: digits and spaces", "4111 1111 "),
        ("cn_resident_id: a run of digits", "1234567890"),
        ("us_ssn: dashed digits", "536-22-"),
        ("iban: letters and digits", "DE89 3704 "),
        ("ip: dotted and colon runs", "1.2.3.4.ff::"),
        ("url_credentials: schemes and userinfo", "https://u:p@"),
        ("secret: key words and values", "password=abc "),
        (
            "secret: private key headers",
            "-----BEGIN PRIVATE KEY-----\n",
        ),
        ("folded: full-width digits", "５３６－２２－"),
        ("folded: zero-width characters", "5\u{200B}"),
    ]
}

fn rate(r: &Redactor, text: &str) -> f64 {
    // Best of three, so a slow moment of the machine does not pass for
    // non-linear growth.
    (0..3)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(r.find(text, None));
            text.len() as f64 / 1e6 / t.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

fn main() {
    let max_mb: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(16);
    let sizes: Vec<usize> = [1, 4, 16].into_iter().filter(|s| *s <= max_mb).collect();
    let r = Redactor::new(RedactConfig::default()).unwrap();
    print!("| input |");
    for s in &sizes {
        print!(" {s} MB (MB/s) |");
    }
    println!(" largest / 1 MB |");
    println!("|---|{}---|", "---|".repeat(sizes.len()));
    for (name, unit) in cases() {
        let mut rates = Vec::new();
        for &mb in &sizes {
            let text = unit.repeat(mb * 1_000_000 / unit.len());
            rates.push(rate(&r, &text));
        }
        print!("| {name} (`{}`) |", unit.escape_debug());
        for x in &rates {
            print!(" {x:.1} |");
        }
        println!(" {:.2} |", rates.last().unwrap() / rates[0]);
    }
}
