//! `proviso audit --report F.html`: one self-contained page a compliance
//! reviewer can read: the verdict, rates per input file, a histogram of
//! similarity, and the top matches with the matched text highlighted beside
//! the reference output it came from.

use std::collections::HashMap;
use std::fmt::Write as _;

use proviso_audit::{Flagged, Summary};

/// A flagged document with its text, for the report.
pub struct Shown {
    /// What the audit found.
    pub flagged: Flagged,
    /// The document's text.
    pub text: String,
    /// The text of the best-matching reference, when it could be found.
    pub reference_text: Option<String>,
    /// The byte ranges of that text the document's spans are matched
    /// with, in order.
    pub reference_spans: Vec<(usize, usize)>,
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            c => o.push(c),
        }
    }
    o
}

/// The document with matched byte ranges marked.
fn highlighted(text: &str, spans: &[(usize, usize)]) -> String {
    let mut out = String::new();
    let mut last = 0;
    for &(a, b) in spans {
        let (a, b) = (a.min(text.len()), b.min(text.len()));
        if a >= b || a < last || !text.is_char_boundary(a) || !text.is_char_boundary(b) {
            continue;
        }
        out.push_str(&esc(&text[last..a]));
        out.push_str("<mark>");
        out.push_str(&esc(&text[a..b]));
        out.push_str("</mark>");
        last = b;
    }
    out.push_str(&esc(&text[last..]));
    out
}

/// Writes the page.
pub fn render(summary: &Summary, shown: &[Shown], command: &str) -> String {
    let mut h = String::new();
    let verdict = if summary.flagged == 0 {
        "No provider output found"
    } else {
        "Provider output found"
    };
    let _ = write!(
        h,
        "<!doctype html><html lang=en><meta charset=utf-8><title>Proviso audit report</title><style>\
         body{{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}}\
         table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}\
         .pair{{display:grid;grid-template-columns:1fr 1fr;gap:1em}}.pair pre{{white-space:pre-wrap;background:#f7f7f7;padding:8px;max-height:24em;overflow:auto}}\
         mark{{background:#ffd54f}}.bar{{background:#5c6bc0;height:14px;display:inline-block}}.bad{{color:#b71c1c}}</style>\
         <h1>Proviso audit report</h1><p><b>{verdict}</b>. <code>{}</code></p>",
        esc(command)
    );
    let (wl, wh) = summary.wilson;
    let (cl, ch) = summary.clopper_pearson;
    let _ = write!(
        h,
        "<table><tr><th>documents read</th><td>{}</td></tr><tr><th>documents audited{}</th><td>{}</td></tr>\
         <tr><th>bytes audited</th><td>{}</td></tr><tr><th>flagged</th><td>{}</td></tr>\
         <tr><th>flagged rate</th><td>{:.4}% (95% Wilson {:.4}–{:.4}%, Clopper–Pearson {:.4}–{:.4}%)</td></tr>\
         <tr><th>token-weighted rate</th><td>{:.4}%</td></tr><tr><th>bad inputs</th><td class=bad>{}</td></tr></table>",
        summary.documents,
        if summary.sampled {
            " (uniform sample)"
        } else {
            ""
        },
        summary.audited,
        summary.bytes,
        summary.flagged,
        summary.rate * 100.0,
        wl * 100.0,
        wh * 100.0,
        cl * 100.0,
        ch * 100.0,
        summary.token_weighted_rate * 100.0,
        summary.errors.len()
    );
    h.push_str("<h2>By input file</h2><table><tr><th>file</th><th>audited</th><th>flagged</th><th>rate</th></tr>");
    for (f, (n, k)) in &summary.by_file {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{n}</td><td>{k}</td><td>{:.3}%</td></tr>",
            esc(f),
            *k as f64 * 100.0 / (*n).max(1) as f64
        );
    }
    h.push_str("</table><h2>Similarity of flagged documents</h2><p>Share of each document inside matched runs.</p><table>");
    let mut hist: HashMap<usize, usize> = HashMap::new();
    for s in shown {
        *hist
            .entry(((s.flagged.covered * 10.0) as usize).min(9))
            .or_default() += 1;
    }
    let max = hist.values().copied().max().unwrap_or(1).max(1);
    for b in 0..10 {
        let n = hist.get(&b).copied().unwrap_or(0);
        let _ = write!(
            h,
            "<tr><td>{}–{}%</td><td><span class=bar style=\"width:{}px\"></span> {n}</td></tr>",
            b * 10,
            b * 10 + 10,
            n * 300 / max
        );
    }
    h.push_str("</table>");
    if !summary.errors.is_empty() {
        h.push_str("<h2>Bad input</h2><table><tr><th>file</th><th>line</th><th>problem</th></tr>");
        for e in summary.errors.iter().take(200) {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&e.file),
                e.line,
                esc(&e.error)
            );
        }
        h.push_str("</table>");
    }
    let _ = write!(h, "<h2>Top matches ({} shown)</h2>", shown.len());
    for s in shown {
        let f = &s.flagged;
        let origin = f.references.first().map(|r| {
            let a = &r.attribution;
            match &a.record_id {
                Some(id) => format!(
                    "ledger record {id} (key {}, team {}, model {}, {})",
                    a.key_id.as_deref().unwrap_or("?"),
                    a.team.as_deref().unwrap_or("?"),
                    a.model.as_deref().unwrap_or("?"),
                    a.time.as_deref().unwrap_or("?")
                ),
                None => format!("{} row {}", a.source, a.row.unwrap_or(0)),
            }
        });
        let _ = write!(
            h,
            "<h3>{}:{} — {} match, longest run {} tokens, {:.0}% covered, Jaccard {:.2}</h3><p>from {}</p>\
             <div class=pair><div><b>training document</b><pre>{}</pre></div><div><b>reference output</b><pre>{}</pre></div></div>",
            esc(&f.file),
            f.line,
            esc(&f.kind),
            f.longest_run,
            f.covered * 100.0,
            f.jaccard,
            esc(&origin.unwrap_or_default()),
            highlighted(&s.text, &f.spans),
            s.reference_text.as_deref().map_or_else(
                || esc("(the reference text is not available)"),
                |t| highlighted(t, &s.reference_spans)
            )
        );
    }
    h.push_str("</html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlights_and_escapes() {
        assert_eq!(
            highlighted("a <b> c", &[(2, 5)]),
            "a <mark>&lt;b&gt;</mark> c"
        );
        assert_eq!(highlighted("abc", &[(5, 9)]), "abc");
    }
}
