//! `proviso keys …`: the key lifecycle. Every change is also a
//! hash-chained ledger event naming who made it and why.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use proviso_access::{
    Application, Approval, Change, KeyEvent, KeyRecord, KeyStore, NewKey, Quotas,
};
use proviso_gateway::lifecycle::{Actor, change_key};
use proviso_ledger::{LedgerStore, SqliteConfig};
use proviso_types::{KeyId, UnixMillis};
use serde_json::json;

use crate::config::Config;
use crate::{EXIT_USAGE, Exit};

/// Limits given on the command line.
#[derive(clap::Args, Default)]
pub struct QuotaArgs {
    /// Requests per minute.
    #[arg(long)]
    rpm: Option<u64>,
    /// Requests per day.
    #[arg(long)]
    rpd: Option<u64>,
    /// Tokens per minute.
    #[arg(long)]
    tpm: Option<u64>,
    /// Tokens per day.
    #[arg(long)]
    tpd: Option<u64>,
    /// Tokens per calendar month.
    #[arg(long)]
    monthly_tokens: Option<u64>,
    /// US dollars per calendar month.
    #[arg(long)]
    monthly_budget_usd: Option<f64>,
}

impl QuotaArgs {
    fn quotas(&self) -> Option<Quotas> {
        let q = Quotas {
            requests_per_minute: self.rpm,
            requests_per_day: self.rpd,
            tokens_per_minute: self.tpm,
            tokens_per_day: self.tpd,
            monthly_tokens: self.monthly_tokens,
            monthly_budget_usd: self.monthly_budget_usd,
        };
        (!q.is_unlimited()).then_some(q)
    }
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Apply for access; the key is pending until an administrator approves it.
    Apply {
        /// The team asking.
        #[arg(long)]
        team: String,
        /// Who to contact about the key.
        #[arg(long)]
        contact: String,
        /// Purposes asked for (repeat the flag).
        #[arg(long = "purpose", required = true)]
        purposes: Vec<String>,
        /// Models asked for (repeat; globs such as `gpt-4o*` allowed).
        #[arg(long = "model", required = true)]
        models: Vec<String>,
        /// Why access is needed.
        #[arg(long)]
        justification: String,
        /// A label.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        quotas: QuotaArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Approve a pending application, possibly narrowing it; prints the secret once.
    Approve {
        /// The key id.
        id: String,
        /// Purposes granted (default: all asked for).
        #[arg(long = "purpose")]
        purposes: Vec<String>,
        /// Models granted (default: all asked for).
        #[arg(long = "model")]
        models: Vec<String>,
        /// The purpose assumed when a request declares none.
        #[arg(long)]
        default_purpose: Option<String>,
        /// When the key stops working: a time (RFC 3339 or a date) or a span from now (`90d`).
        #[arg(long)]
        expires: Option<String>,
        #[command(flatten)]
        quotas: QuotaArgs,
        /// Why (recorded).
        #[arg(long, default_value = "approved")]
        reason: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Deny a pending application.
    Deny {
        /// The key id.
        id: String,
        /// Why (recorded and shown to the applicant).
        #[arg(long)]
        reason: String,
    },
    /// Issue an active key directly; prints the secret once.
    Create {
        /// The team the key belongs to.
        #[arg(long)]
        team: String,
        /// A label for the key.
        #[arg(long)]
        name: Option<String>,
        /// Purposes it may declare (repeat; default: any).
        #[arg(long = "purpose")]
        purposes: Vec<String>,
        /// Models it may use (repeat; globs allowed; default: any).
        #[arg(long = "model")]
        models: Vec<String>,
        /// The purpose assumed when a request declares none.
        #[arg(long)]
        default_purpose: Option<String>,
        /// When the key stops working: a time or a span from now (`90d`).
        #[arg(long)]
        expires: Option<String>,
        #[command(flatten)]
        quotas: QuotaArgs,
        /// Print JSON ({"id", "secret", "team", …}) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Suspend a key pending review; with --notice, it is revoked after that
    /// span unless reinstated.
    Suspend {
        /// The key id.
        id: String,
        /// Why (recorded and told to the client).
        #[arg(long)]
        reason: String,
        /// Notice period before revocation, e.g. `72h`, `7d`.
        #[arg(long)]
        notice: Option<String>,
    },
    /// Reinstate a suspended key.
    Reinstate {
        /// The key id.
        id: String,
        /// Why (recorded).
        #[arg(long, default_value = "reinstated after review")]
        reason: String,
    },
    /// Revoke a key for good.
    Revoke {
        /// The key id (`key_…`).
        id: String,
        /// Why (recorded in the ledger).
        #[arg(long, default_value = "revoked by administrator")]
        reason: String,
    },
    /// List keys and applications with state, purposes, models, quotas and use.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn actor() -> String {
    std::env::var("PROVISO_ACTOR")
        .or_else(|_| std::env::var("USER"))
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

/// `72h`, `30m`, `7d`, `45s`.
pub fn parse_span(s: &str) -> Result<Duration, Exit> {
    let s = s.trim();
    let bad = || {
        Exit(
            EXIT_USAGE,
            format!("invalid duration {s:?}: expected e.g. 30s, 15m, 72h or 7d"),
        )
    };
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs(secs))
}

fn parse_when(s: &str) -> Result<UnixMillis, Exit> {
    if let Ok(span) = parse_span(s) {
        let ms = i64::try_from(span.as_millis()).unwrap_or(i64::MAX);
        return Ok(UnixMillis(UnixMillis::now().0.saturating_add(ms)));
    }
    UnixMillis::parse(s).map_err(|e| Exit(EXIT_USAGE, format!("--expires: {e}")))
}

fn open_ledger(cfg: &Config) -> anyhow::Result<Box<dyn LedgerStore>> {
    let c = SqliteConfig {
        checkpoint_every: cfg.ledger.checkpoint_every,
        ..SqliteConfig::default()
    };
    crate::ledger_store::writer(cfg, c)
}

/// Makes one lifecycle change and records it, through the one lifecycle
/// path ([`proviso_gateway::lifecycle::change_key`]): the key store's change
/// is committed only once its ledger event is written, and undone when the
/// event cannot be written.
fn change(
    cfg: &Config,
    store: &mut KeyStore,
    event: KeyEvent,
    reason: &str,
    f: impl FnOnce(&mut KeyStore, &Change<'_>) -> Result<KeyRecord, proviso_access::AccessError>,
) -> anyhow::Result<KeyRecord> {
    let by = actor();
    let mut ledger = open_ledger(cfg)?;
    let key = change_key(
        store,
        |rec| ledger.append(&[rec]).map(|_| ()).map_err(|e| e.to_string()),
        event,
        &Actor {
            by: &by,
            reason,
            now: UnixMillis::now(),
        },
        |k: &KeyRecord| Some(k),
        f,
    )
    .with_context(|| format!("{} was not made", event.name()))?;
    // A shared ledger queues the event; chain it now, gateway or not.
    if let Err(e) = crate::ledger_store::settle(cfg) {
        tracing::warn!(error = %e, "the event is recorded and queued; the gateway's sequencer will chain it");
    }
    Ok(key)
}

fn print_secret(key: &KeyRecord, secret: &str, json: bool) {
    if json {
        println!(
            "{}",
            json!({"id": key.id, "secret": secret, "team": key.team, "name": key.name, "state": key.state, "purposes": key.purposes, "models": key.models})
        );
    } else {
        println!("{secret}");
        eprintln!(
            "key {} for team {} is active (the secret above is shown only once)",
            key.id, key.team
        );
    }
}

pub fn run(cfg: &Config, cmd: Command) -> anyhow::Result<ExitCode> {
    let mut store = crate::key_store::open(cfg)?;
    match cmd {
        Command::Apply {
            team,
            contact,
            purposes,
            models,
            justification,
            name,
            quotas,
            json,
        } => {
            let app = Application {
                team,
                contact,
                purposes,
                models,
                justification,
                name,
                quotas: quotas.quotas().unwrap_or_default(),
            };
            let reason = app.justification.clone();
            let key = change(cfg, &mut store, KeyEvent::Applied, &reason, |st, c| {
                st.apply(&app, c)
            })?;
            if json {
                println!("{}", json!({"id": key.id, "state": key.state}));
            } else {
                println!("{}", key.id);
                eprintln!("application {} is pending approval", key.id);
            }
        }
        Command::Approve {
            id,
            purposes,
            models,
            default_purpose,
            expires,
            quotas,
            reason,
            json,
        } => {
            let approval = Approval {
                purposes: (!purposes.is_empty()).then_some(purposes),
                models: (!models.is_empty()).then_some(models),
                quotas: quotas.quotas(),
                expires: expires.as_deref().map(parse_when).transpose()?,
                default_purpose,
            };
            let mut secret = String::new();
            let key = change(cfg, &mut store, KeyEvent::Approved, &reason, |st, c| {
                st.approve(&KeyId(id), &approval, c).map(|(k, s)| {
                    secret = s;
                    k
                })
            })?;
            print_secret(&key, &secret, json);
        }
        Command::Deny { id, reason } => {
            let key = change(cfg, &mut store, KeyEvent::Denied, &reason, |st, c| {
                st.deny(&KeyId(id), c)
            })?;
            eprintln!("application {} denied", key.id);
        }
        Command::Create {
            team,
            name,
            purposes,
            models,
            default_purpose,
            expires,
            quotas,
            json,
        } => {
            let new = NewKey {
                team,
                name,
                purposes,
                models,
                default_purpose,
                quotas: quotas.quotas().unwrap_or_default(),
                expires: expires.as_deref().map(parse_when).transpose()?,
            };
            let mut secret = String::new();
            let key = change(
                cfg,
                &mut store,
                KeyEvent::Created,
                "issued by administrator",
                |st, c| {
                    st.create(&new, c).map(|(k, s)| {
                        secret = s;
                        k
                    })
                },
            )?;
            print_secret(&key, &secret, json);
        }
        Command::Suspend { id, reason, notice } => {
            let notice = notice.as_deref().map(parse_span).transpose()?;
            let key = change(cfg, &mut store, KeyEvent::Suspended, &reason, |st, c| {
                st.suspend(&KeyId(id), notice, c)
            })?;
            match key.revoke_at {
                Some(t) => eprintln!("key {} suspended; revoked at {t} unless reinstated", key.id),
                None => eprintln!("key {} suspended", key.id),
            }
        }
        Command::Reinstate { id, reason } => {
            let key = change(cfg, &mut store, KeyEvent::Reinstated, &reason, |st, c| {
                st.reinstate(&KeyId(id), c)
            })?;
            eprintln!("key {} reinstated", key.id);
        }
        Command::Revoke { id, reason } => {
            let key = change(cfg, &mut store, KeyEvent::Revoked, &reason, |st, c| {
                st.revoke(&KeyId(id), c)
            })?;
            eprintln!("revoked key {} ({})", key.id, reason);
        }
        Command::List { json } => list(cfg, &store, json)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn list(cfg: &Config, store: &KeyStore, as_json: bool) -> anyhow::Result<()> {
    let keys = store.list()?;
    let usage = match crate::ledger_store::reader(cfg) {
        Ok(l) => l.usage_by_key()?,
        Err(_) => Default::default(),
    };
    let now = UnixMillis::now();
    if as_json {
        let v: Vec<serde_json::Value> = keys
            .iter()
            .map(|k| {
                let (n, t, last) = usage.get(&k.id.0).copied().unwrap_or((0, 0, UnixMillis(0)));
                let mut v = serde_json::to_value(k).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("effective_state".into(), json!(k.effective_state(now)));
                    o.insert("use".into(), json!({"requests": n, "tokens": t, "last": (n > 0).then(|| last.to_rfc3339())}));
                }
                v
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "{:<21} {:<14} {:<10} {:<28} {:<22} {:<18} {:>8} {:>10}",
        "ID", "TEAM", "STATE", "PURPOSES", "MODELS", "QUOTAS", "REQUESTS", "TOKENS"
    );
    for k in keys {
        let (n, t, _) = usage.get(&k.id.0).copied().unwrap_or((0, 0, UnixMillis(0)));
        let or_any = |v: &[String]| {
            if v.is_empty() {
                "any".to_string()
            } else {
                v.join(",")
            }
        };
        let q = &k.quotas;
        let quotas = [
            q.requests_per_minute.map(|v| format!("{v}rpm")),
            q.requests_per_day.map(|v| format!("{v}rpd")),
            q.tokens_per_minute.map(|v| format!("{v}tpm")),
            q.tokens_per_day.map(|v| format!("{v}tpd")),
            q.monthly_tokens.map(|v| format!("{v}tok/mo")),
            q.monthly_budget_usd.map(|v| format!("${v}/mo")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(",");
        println!(
            "{:<21} {:<14} {:<10} {:<28} {:<22} {:<18} {:>8} {:>10}",
            k.id,
            k.team,
            k.effective_state(now).to_string(),
            or_any(&k.purposes),
            or_any(&k.models),
            if quotas.is_empty() {
                "-".to_string()
            } else {
                quotas
            },
            n,
            t
        );
    }
    Ok(())
}
