//! `proviso keys …`: every change is also a hash-chained ledger event.

use std::process::ExitCode;

use anyhow::Context as _;
use proviso_access::{KeyRecord, KeyStore, NewKey};
use proviso_ledger::{LedgerStore, Outcome, Record, RecordKind, SqliteConfig, SqliteStore};
use proviso_types::{KeyId, RecordId, UnixMillis};
use serde_json::json;

use crate::config::Config;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Create an active key; prints the secret once.
    Create {
        /// The team the key belongs to.
        #[arg(long)]
        team: String,
        /// A label for the key.
        #[arg(long)]
        name: Option<String>,
        /// Print JSON ({"id", "secret", "team", …}) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List keys (never their secrets).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key for good.
    Revoke {
        /// The key id (`key_…`).
        id: String,
        /// Why (recorded in the ledger).
        #[arg(long, default_value = "revoked by administrator")]
        reason: String,
    },
}

fn actor() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

/// Appends a key event to the ledger (safe while the gateway runs: SQLite
/// serialises the two writers and each extends the chain inside its own
/// transaction).
fn record_event(
    cfg: &Config,
    event: &str,
    key: &KeyRecord,
    reason: Option<&str>,
) -> anyhow::Result<()> {
    let path = cfg.ledger_path();
    let mut store = SqliteStore::open(
        &path,
        SqliteConfig {
            checkpoint_every: cfg.ledger.checkpoint_every,
            ..SqliteConfig::default()
        },
    )
    .with_context(|| format!("opening the ledger {}", path.display()))?;
    let detail = json!({"by": actor(), "reason": reason, "name": key.name, "state": key.state});
    let rec = Record {
        id: RecordId::new(),
        time: UnixMillis::now(),
        kind: RecordKind::Event,
        key_id: Some(key.id.clone()),
        team: Some(key.team.clone()),
        endpoint: event.to_owned(),
        model: None,
        upstream: None,
        upstream_model: None,
        status: 0,
        outcome: Outcome::Ok,
        stream: false,
        request: String::new(),
        output: String::new(),
        response: None,
        finish_reason: None,
        usage: None,
        latency_ms: 0,
        ttfb_ms: None,
        error_code: None,
        error: None,
        detail: Some(detail.to_string()),
    };
    store
        .append(&[rec])
        .context("recording the key event in the ledger")?;
    Ok(())
}

pub fn run(cfg: &Config, cmd: Command) -> anyhow::Result<ExitCode> {
    let path = cfg.keys_path();
    let mut store = KeyStore::open(&path)
        .with_context(|| format!("opening the key store {}", path.display()))?;
    match cmd {
        Command::Create { team, name, json } => {
            let (key, secret) = store.create(&NewKey { team, name })?;
            record_event(cfg, "key.created", &key, None)?;
            if json {
                println!(
                    "{}",
                    json!({"id": key.id, "secret": secret, "team": key.team, "name": key.name, "state": key.state})
                );
            } else {
                println!("{secret}");
                eprintln!(
                    "created key {} for team {} (the secret above is shown only once)",
                    key.id, key.team
                );
            }
        }
        Command::List { json } => {
            let keys = store.list()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&keys)?);
            } else {
                println!(
                    "{:<22} {:<16} {:<10} {:<25} NAME",
                    "ID", "TEAM", "STATE", "CREATED"
                );
                for k in keys {
                    println!(
                        "{:<22} {:<16} {:<10} {:<25} {}",
                        k.id,
                        k.team,
                        k.state,
                        k.created.to_rfc3339(),
                        k.name.as_deref().unwrap_or("")
                    );
                }
            }
        }
        Command::Revoke { id, reason } => {
            let key = store.revoke(&KeyId(id), &reason)?;
            record_event(cfg, "key.revoked", &key, Some(&reason))?;
            eprintln!("revoked key {} ({})", key.id, reason);
        }
    }
    Ok(ExitCode::SUCCESS)
}
