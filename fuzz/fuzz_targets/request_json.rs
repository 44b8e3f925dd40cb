//! A request body as the gateway receives it: parsed and checked as the
//! parse stage does, then its prompt counted in tokens (the quota stage)
//! and every string masked (the desensitize stage).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use proviso_gateway::pipeline::{desensitize, parse};
use proviso_gateway::upstream::Endpoint;
use proviso_redact::{RedactConfig, Redactor};

fn redactor() -> &'static Redactor {
    static R: OnceLock<Redactor> = OnceLock::new();
    R.get_or_init(|| Redactor::new(RedactConfig::default()).expect("the built-in patterns compile"))
}

fuzz_target!(|data: &[u8]| {
    for endpoint in [Endpoint::Chat, Endpoint::Completions, Endpoint::Embeddings] {
        if let Ok(p) = parse::check(endpoint, data) {
            let _ = proviso_tokens::prompt_tokens(endpoint.path(), &p.body);
            let _ = proviso_tokens::completion_allowance(&p.body, 4096);
            let (masked, session, _) = desensitize::mask_body(redactor(), p.body, None);
            let text = serde_json::Value::Object(masked).to_string();
            let _ = session.restore(&text);
        }
    }
});
