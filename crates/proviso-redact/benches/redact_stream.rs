//! Throughput of redaction in blocks (what `proviso redact` does with a
//! file): the file read in 64 KiB pieces into a [`BlockRedactor`] with every
//! type and the default actions, output discarded, the best of three or
//! more passes (a second in all at least) after a first pass
//! that loads the numbering plans and compiles the patterns.
//! Prints JSON: bytes, seconds, MB/s, findings. Usage: redact_stream FILE

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: failing loudly is right

use std::io::Read;
use std::time::Instant;

use proviso_redact::{BlockRedactor, RedactConfig, Redactor, Session};

fn pass(r: &Redactor, path: &str) -> (usize, usize) {
    let mut f = std::fs::File::open(path).unwrap();
    let mut blocks = BlockRedactor::new(r, None);
    let mut session = Session::default();
    let mut buf = vec![0u8; 64 << 10];
    let mut held = Vec::new();
    let (mut out, mut found) = (0, 0);
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        held.extend_from_slice(&buf[..n]);
        let upto = match std::str::from_utf8(&held) {
            Ok(_) => held.len(),
            Err(e) => e.valid_up_to(),
        };
        let piece = std::str::from_utf8(&held[..upto]).unwrap().to_owned();
        held.drain(..upto);
        let o = blocks.push(&piece, &mut session);
        out += o.text.len();
        found += o.findings.len();
    }
    let o = blocks.finish(&mut session);
    (out + o.text.len(), found + o.findings.len())
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: redact_stream FILE");
    let bytes = std::fs::metadata(&path).unwrap().len() as f64;
    let r = Redactor::new(RedactConfig::default()).unwrap();
    let first = Instant::now();
    let (_, findings) = pass(&r, &path);
    // Enough passes for a second at least (a small file's single
    // pass is a few milliseconds, too short to time alone), three at least.
    let reps = ((1.0 / first.elapsed().as_secs_f64()).ceil() as usize).clamp(3, 200);
    let best = (0..reps)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(pass(&r, &path));
            t.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min);
    println!(
        "{{\"bytes\": {bytes}, \"seconds\": {best}, \"mb_per_s\": {}, \"findings\": {findings}}}",
        bytes / 1e6 / best
    );
}
