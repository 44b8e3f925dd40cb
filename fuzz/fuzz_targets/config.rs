//! Configuration text: the policy (rules and packs, then built), the
//! monitor's section (checked), quotas and the gateway's server section.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(p) = toml::from_str::<proviso_policy::PolicyConfig>(text) {
        if let Ok(policy) = proviso_policy::Policy::new(p) {
            let req = proviso_policy::Request::new("team", "key_x", "gpt-4o", "openai", "openai");
            let _ = policy.explain(&req);
        }
    }
    if let Ok(m) = toml::from_str::<proviso_monitor::MonitorConfig>(text) {
        let _ = proviso_monitor::Monitor::new(m);
    }
    let _ = toml::from_str::<proviso_gateway::quota::QuotaConfig>(text);
    if let Ok(s) = toml::from_str::<proviso_gateway::config::ServerConfig>(text) {
        for c in &s.trusted_proxies {
            let _ = proviso_gateway::config::Cidr::parse(c);
        }
    }
});
