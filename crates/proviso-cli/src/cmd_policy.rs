//! `proviso policy check | lint`

use std::process::ExitCode;

use proviso_gateway::caller::ask;
use proviso_gateway::config::{GatewayConfig, UpstreamConfig};
use proviso_gateway::upstream::Upstreams;
use proviso_policy::{Known, Policy, lint};
use proviso_types::{KeyId, UnixMillis};
use serde_json::json;

use crate::config::Config;
use crate::{EXIT_USAGE, Exit};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Explain, rule by rule, the decision a request would get. Exit 0 if
    /// allowed, 1 if refused.
    Check {
        /// The key id (`key_…`).
        #[arg(long)]
        key: String,
        /// The declared purpose (default: the key's).
        #[arg(long)]
        purpose: Option<String>,
        /// The model the client would ask for.
        #[arg(long)]
        model: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Find unknown purposes and names, unreachable, shadowed and redundant
    /// rules. Exit 0 if clean, 1 if anything was found.
    Lint {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn setup(cfg: &Config) -> anyhow::Result<(Policy, Upstreams)> {
    let policy = Policy::new(cfg.policy.clone()).map_err(|e| Exit(EXIT_USAGE, e.to_string()))?;
    let mut upstreams = cfg.upstreams.clone();
    if upstreams.is_empty() {
        upstreams.push(UpstreamConfig::default_openai(None));
    }
    let gw = GatewayConfig {
        upstreams,
        models: cfg.models.clone(),
        ..GatewayConfig::default()
    };
    let ups = Upstreams::from_config(&gw).map_err(|e| Exit(EXIT_USAGE, e.to_string()))?;
    Ok((policy, ups))
}

pub fn run(cfg: &Config, cmd: Command) -> anyhow::Result<ExitCode> {
    let (policy, upstreams) = setup(cfg)?;
    match cmd {
        Command::Check {
            key,
            purpose,
            model,
            json,
        } => {
            let store = crate::key_store::open(cfg)?;
            let k = store
                .get(&KeyId(key.clone()))?
                .ok_or_else(|| Exit(EXIT_USAGE, format!("no key with id {key}")))?;
            let deployments = upstreams.resolve(&model);
            if deployments.is_empty() {
                return Err(Exit(
                    1,
                    format!("model {model:?} is not served by any configured upstream"),
                )
                .into());
            }
            let ev = policy.evaluate_explained(&ask(&k, purpose.as_deref(), &model), deployments);
            let state = k.effective_state(UnixMillis::now());
            let allowed = ev.allowed() && state.is_usable();
            if json {
                let per: Vec<_> = ev.decisions.iter().map(|(d, dec)| json!({"upstream": d.upstream.name, "upstream_model": d.model, "decision": dec})).collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "allowed": allowed, "key": k.id, "key_state": state, "team": k.team,
                        "purpose": ev.purpose, "model": model, "key_scope_error": ev.scope_error, "deployments": per,
                    }))?
                );
            } else {
                println!(
                    "key {} (team {}, {state}), purpose {}, model {model}",
                    k.id,
                    k.team,
                    ev.purpose.as_deref().unwrap_or("(none declared)")
                );
                if !state.is_usable() {
                    println!("  key: REFUSED: the key is {state}");
                }
                match &ev.scope_error {
                    Some(e) => println!("  key scope: REFUSED: {e}"),
                    None => println!(
                        "  key scope: ok (purposes [{}], models [{}])",
                        list_or_any(&k.purposes),
                        list_or_any(&k.models)
                    ),
                }
                for (d, dec) in &ev.decisions {
                    println!(
                        "  deployment {} ({}, model {}):",
                        d.upstream.name,
                        d.upstream.kind_name(),
                        d.model
                    );
                    for t in &dec.trace {
                        let mark = if t.matched { "MATCH" } else { "  -  " };
                        println!(
                            "    {mark} {:<40} {:<11} {}",
                            t.rule,
                            format!("{:?}", t.effect).to_lowercase(),
                            t.why
                        );
                    }
                    let verdict = if dec.allowed { "ALLOWED" } else { "DENIED" };
                    println!("    => {verdict} by {}: {}", dec.rule, dec.reason);
                    if let Some(r) = &dec.reference {
                        println!("       reference: {r}");
                    }
                }
                println!("decision: {}", if allowed { "allowed" } else { "refused" });
            }
            Ok(if allowed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Lint { json } => {
            let teams = crate::key_store::open(cfg)
                .ok()
                .and_then(|s| s.list().ok())
                .map(|ks| {
                    let mut t: Vec<String> = ks.into_iter().map(|k| k.team).collect();
                    t.sort();
                    t.dedup();
                    t
                })
                .unwrap_or_default();
            let known = Known {
                upstreams: cfg.upstreams.iter().map(|u| u.name.clone()).collect(),
                models: upstreams.model_names().to_vec(),
                teams,
            };
            let found = lint(&policy, &known);
            if json {
                println!("{}", serde_json::to_string_pretty(&found)?);
            } else {
                for f in &found {
                    println!(
                        "{:<16} {:<36} {}",
                        format!("{:?}", f.kind).to_lowercase(),
                        f.rule,
                        f.message
                    );
                }
                println!("{} rules, {} findings", policy.rules().len(), found.len());
            }
            Ok(if found.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

fn list_or_any(v: &[String]) -> String {
    if v.is_empty() {
        "any".into()
    } else {
        v.join(", ")
    }
}
