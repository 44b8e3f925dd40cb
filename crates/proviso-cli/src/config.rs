//! The configuration file: one TOML document composed from each crate's
//! section. Unknown keys are errors naming the key and the line.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use proviso_gateway::config::{ModelConfig, ServerConfig, UpstreamConfig};
use serde::{Deserialize, Serialize};

use crate::{EXIT_USAGE, Exit};

/// The whole file.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the ledger and key store live by default.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// `[server]`
    #[serde(default)]
    pub server: ServerConfig,
    /// `[ledger]`
    #[serde(default)]
    pub ledger: LedgerSection,
    /// `[keys]`
    #[serde(default)]
    pub keys: KeysSection,
    /// `[log]`
    #[serde(default)]
    pub log: LogSection,
    /// `[[upstreams]]`
    #[serde(default)]
    pub upstreams: Vec<UpstreamConfig>,
    /// `[[models]]`
    #[serde(default)]
    pub models: Vec<ModelConfig>,
    /// `[policy]`
    #[serde(default)]
    pub policy: proviso_policy::PolicyConfig,
    /// `[quotas]`
    #[serde(default)]
    pub quotas: proviso_gateway::quota::QuotaConfig,
    /// `[admin]`
    #[serde(default)]
    pub admin: proviso_gateway::admin::AdminConfig,
    /// `[redact]`
    #[serde(default)]
    pub redact: proviso_gateway::redaction::RedactSection,
    /// `[index]`
    #[serde(default)]
    pub index: IndexSection,
    /// `[monitor]`
    #[serde(default)]
    pub monitor: proviso_monitor::MonitorConfig,
    /// `[batch]`
    #[serde(default)]
    pub batch: proviso_gateway::config::BatchConfig,
}

/// `[index]`
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IndexSection {
    /// Where index segments live; default `<data_dir>/index`.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Whether `proviso serve` indexes recorded outputs as they are
    /// committed (off the request path).
    #[serde(default = "default_true")]
    pub follow: bool,
    /// How often the follower looks for new records, milliseconds.
    #[serde(default = "default_follow_ms")]
    pub follow_interval_ms: u64,
    /// Most bytes of ledger segments the follower merges into one; larger
    /// runs are left as they are (`proviso index rebuild` makes one).
    #[serde(default = "default_merge_max_bytes")]
    pub merge_max_bytes: u64,
}

fn default_true() -> bool {
    true
}
fn default_follow_ms() -> u64 {
    2000
}
fn default_merge_max_bytes() -> u64 {
    16 * 1024 * 1024
}

impl Default for IndexSection {
    fn default() -> Self {
        Self {
            dir: None,
            follow: true,
            follow_interval_ms: default_follow_ms(),
            merge_max_bytes: default_merge_max_bytes(),
        }
    }
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("./proviso-data")
}

/// `[ledger]`
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerSection {
    /// The SQLite file; default `<data_dir>/ledger.db`.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// A PostgreSQL URL: the ledger shared by every replica, in place of
    /// the SQLite file.
    #[serde(default)]
    pub url: Option<proviso_gateway::env::EnvString>,
    /// This replica's name in the shared ledger's queue (default: host
    /// name and process id).
    #[serde(default)]
    pub replica: Option<String>,
    /// Longest a PostgreSQL statement may run, milliseconds.
    #[serde(default = "default_statement_timeout")]
    pub statement_timeout_ms: u64,
    /// The Ed25519 key that signs checkpoints (`PRIVATE+KEY+…`), usually
    /// `${ENV}`.
    #[serde(default)]
    pub checkpoint_key: Option<proviso_gateway::env::EnvString>,
    /// A file holding that key instead.
    #[serde(default)]
    pub checkpoint_key_file: Option<PathBuf>,
    /// The log's name in its checkpoints (default: the key's name).
    #[serde(default)]
    pub checkpoint_origin: Option<String>,
    /// Where `proviso serve` publishes signed checkpoints.
    #[serde(default)]
    pub publish_dir: Option<PathBuf>,
    /// Where `proviso serve` POSTs signed checkpoints (a witness, a log
    /// of the auditor's).
    #[serde(default)]
    pub publish_url: Option<proviso_gateway::env::EnvString>,
    /// Sent as `Authorization: Bearer …` with each POST.
    #[serde(default)]
    pub publish_token: Option<proviso_gateway::env::EnvString>,
    /// How often it publishes one when the log has grown, milliseconds.
    #[serde(default = "default_publish_interval")]
    pub publish_interval_ms: u64,
    /// Write a Merkle checkpoint every this many records.
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: u64,
    /// Most records per commit.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    /// Most records held in memory while the ledger cannot be written.
    #[serde(default = "default_max_backlog")]
    pub max_backlog: usize,
    /// Most bytes of records held in memory while the ledger cannot be
    /// written (or queued for the writer).
    #[serde(default = "default_max_backlog_bytes")]
    pub max_backlog_bytes: usize,
    /// How often `proviso serve` checkpoints the SQLite write-ahead log
    /// while records keep arriving, milliseconds (0: only when idle).
    #[serde(default = "default_wal_checkpoint_interval")]
    pub wal_checkpoint_interval_ms: u64,
    /// Bound on the write-ahead log, bytes: above it the writer restarts the
    /// log once the background checkpoint has caught up (never waiting for
    /// readers).
    #[serde(default = "default_wal_max_bytes")]
    pub wal_max_bytes: u64,
}

fn default_publish_interval() -> u64 {
    10_000
}

fn default_statement_timeout() -> u64 {
    10_000
}

fn default_wal_checkpoint_interval() -> u64 {
    10
}
fn default_wal_max_bytes() -> u64 {
    4 * 1024 * 1024
}

fn default_checkpoint_every() -> u64 {
    1024
}
fn default_max_batch() -> usize {
    512
}
fn default_max_backlog_bytes() -> usize {
    256 * 1024 * 1024
}
fn default_max_backlog() -> usize {
    100_000
}

impl Default for LedgerSection {
    fn default() -> Self {
        Self {
            path: None,
            url: None,
            replica: None,
            statement_timeout_ms: default_statement_timeout(),
            checkpoint_key: None,
            checkpoint_key_file: None,
            checkpoint_origin: None,
            publish_dir: None,
            publish_url: None,
            publish_token: None,
            publish_interval_ms: default_publish_interval(),
            checkpoint_every: default_checkpoint_every(),
            max_batch: default_max_batch(),
            max_backlog: default_max_backlog(),
            max_backlog_bytes: default_max_backlog_bytes(),
            wal_checkpoint_interval_ms: default_wal_checkpoint_interval(),
            wal_max_bytes: default_wal_max_bytes(),
        }
    }
}

/// `[keys]`
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeysSection {
    /// The key store; default `<data_dir>/keys.db`.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// A PostgreSQL URL: keys shared by every replica, in place of the
    /// SQLite file.
    #[serde(default)]
    pub url: Option<proviso_gateway::env::EnvString>,
}

/// `[log]`
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// `text` or `json`.
    #[serde(default = "default_format")]
    pub format: String,
    /// A `tracing` filter, e.g. `info` or `proviso_gateway=debug`;
    /// `RUST_LOG` overrides it.
    #[serde(default = "default_level")]
    pub level: String,
}

fn default_format() -> String {
    "text".into()
}
fn default_level() -> String {
    "info".into()
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            format: default_format(),
            level: default_level(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: default_data_dir(),
            server: ServerConfig::default(),
            ledger: LedgerSection::default(),
            keys: KeysSection::default(),
            log: LogSection::default(),
            upstreams: Vec::new(),
            models: Vec::new(),
            policy: proviso_policy::PolicyConfig::default(),
            quotas: proviso_gateway::quota::QuotaConfig::default(),
            admin: proviso_gateway::admin::AdminConfig::default(),
            redact: proviso_gateway::redaction::RedactSection::default(),
            index: IndexSection::default(),
            monitor: proviso_monitor::MonitorConfig::default(),
            batch: proviso_gateway::config::BatchConfig::default(),
        }
    }
}

impl Config {
    /// The ledger file.
    pub fn ledger_path(&self) -> PathBuf {
        self.ledger
            .path
            .clone()
            .unwrap_or_else(|| self.data_dir.join("ledger.db"))
    }

    /// The Batch API's directory.
    pub fn batch_path(&self) -> PathBuf {
        self.batch
            .path
            .clone()
            .unwrap_or_else(|| self.data_dir.join("batches"))
    }

    /// The key store file.
    pub fn keys_path(&self) -> PathBuf {
        self.keys
            .path
            .clone()
            .unwrap_or_else(|| self.data_dir.join("keys.db"))
    }
}

/// Parses a config document; errors name the file, line and key.
pub fn parse(text: &str, origin: &str) -> Result<Config, Exit> {
    let cfg: Config = toml::from_str(text).map_err(|e| {
        Exit(
            EXIT_USAGE,
            format!("{origin}: {}", e.to_string().trim_end()),
        )
    })?;
    if !matches!(cfg.log.format.as_str(), "text" | "json") {
        return Err(Exit(
            EXIT_USAGE,
            format!(
                "{origin}: log.format must be \"text\" or \"json\", not {:?}",
                cfg.log.format
            ),
        ));
    }
    if let Err(e) = cfg.monitor.validate() {
        let at = line_of(text, &e.key).map_or(String::new(), |l| format!(", line {l}"));
        return Err(Exit(EXIT_USAGE, format!("{origin}{at}: {e}")));
    }
    Ok(cfg)
}

/// The line (from 1) where `[monitor]` key `dotted` (`weights.shift`) is
/// set, if it is written as `key = …` under its table.
fn line_of(text: &str, dotted: &str) -> Option<usize> {
    let (table, key) = match dotted.rsplit_once('.') {
        Some((t, k)) => (format!("monitor.{t}"), k),
        None => ("monitor".to_owned(), dotted),
    };
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if let Some(h) = l.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            current = h.trim().to_owned();
            continue;
        }
        if current == table && l.split_once('=').is_some_and(|(k, _)| k.trim() == key) {
            return Some(i + 1);
        }
    }
    None
}

/// Reads the file, or returns the defaults when there is none.
pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
    let Some(path) = path else {
        return Ok(Config::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| Exit(EXIT_USAGE, format!("{}: {e}", path.display())))
        .with_context(|| "reading the configuration")?;
    Ok(parse(&text, &path.display().to_string())?)
}

/// Logs go to stderr, as text or JSON.
pub fn init_logging(log: &LogSection) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if log.format == "json" {
        b.json().try_init()
    } else {
        b.try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_errors_name_the_key_and_line() {
        let e = parse(
            "[monitor]\nenabled = true\n[monitor.weights]\ntemplate_reuse = 1.0\n",
            "x.toml",
        )
        .unwrap_err();
        assert!(
            e.1.contains("template_reuse") && e.1.contains("line 4"),
            "{}",
            e.1
        );
        let e = parse(
            "[monitor.weights]\nreasoning = 0.2\nshift = -0.5\n",
            "x.toml",
        )
        .unwrap_err();
        assert!(
            e.1.contains("weights.shift") && e.1.contains("line 3"),
            "{}",
            e.1
        );
        let e = parse("[monitor.thresholds]\nnotice = 0.9\n", "x.toml").unwrap_err();
        assert!(
            e.1.contains("thresholds.notice") && e.1.contains("line 2"),
            "{}",
            e.1
        );
        let e = parse("[monitor.ladder]\nsuspend = \"sometimes\"\n", "x.toml").unwrap_err();
        assert!(
            e.1.contains("line 2") && e.1.contains("sometimes"),
            "{}",
            e.1
        );
    }

    #[test]
    fn default_config_builds() {
        let c = parse("", "x.toml").unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:8080");
        assert_eq!(c.ledger_path(), PathBuf::from("./proviso-data/ledger.db"));
        assert!(c.upstreams.is_empty());
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let e = parse(
            "[server]\nlisten = \"127.0.0.1:1\"\nlistne = 3\n",
            "conf.toml",
        )
        .unwrap_err();
        assert!(e.1.contains("conf.toml"), "{}", e.1);
        assert!(e.1.contains("line 3"), "{}", e.1);
        assert!(e.1.contains("listne"), "{}", e.1);
        assert_eq!(e.0, EXIT_USAGE);
    }

    #[test]
    fn missing_env_var_names_variable_and_line() {
        let text = "[[upstreams]]\nname = \"a\"\nkind = \"openai\"\napi_key = \"${PROVISO_TEST_SURELY_UNSET}\"\n";
        let e = parse(text, "c.toml").unwrap_err();
        assert!(
            e.1.contains("PROVISO_TEST_SURELY_UNSET is not set"),
            "{}",
            e.1
        );
        assert!(e.1.contains("line 4"), "{}", e.1);
    }

    fn keys(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    out.push(k.clone());
                    if k == "teams" {
                        // A map from team names (not keys) to limit tables.
                        v.as_object()
                            .into_iter()
                            .flatten()
                            .for_each(|(_, t)| keys(t, out));
                    } else {
                        keys(v, out);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
            _ => {}
        }
    }

    /// Guards against a config key added in code but not documented.
    #[test]
    fn every_config_key_is_documented_and_in_the_example() {
        let text = "[[upstreams]]\nname = \"a\"\nkind = \"azure\"\nbase_url = \"https://x\"\n\
                    api_key = \"k\"\napi_version = \"v\"\nmodels = [\"m\"]\n\
                    [[models]]\nname = \"m\"\n[[models.deployments]]\nupstream = \"a\"\nmodel = \"d\"\n\
                    [ledger]\npath = \"l.db\"\n[keys]\npath = \"k.db\"\n\
                    [[policy.rules]]\nname = \"r\"\neffect = \"allow\"\nteams = [\"t\"]\nkeys = [\"k\"]\n\
                    purposes = [\"product\"]\nmodels = [\"m\"]\nupstreams = [\"a\"]\nupstream_kinds = [\"azure\"]\n\
                    regions = [\"eu\"]\nreference = \"x\"\nentities = [\"email\"]\n\
                    [quotas.teams.t]\nrequests_per_minute = 1\nrequests_per_day = 1\ntokens_per_minute = 1\n\
                    tokens_per_day = 1\nmonthly_tokens = 1\nmonthly_budget_usd = 1.0\n\
                    [[quotas.prices]]\nmodel = \"m\"\ninput_per_million_usd = 1.0\noutput_per_million_usd = 2.0\n\
                    [admin]\ntoken = \"0123456789abcdef\"\n\
                    [redact]\nalways = true\nentities = [\"email\"]\nthreshold = 0.5\nhmac_key = \"k\"\n\
                    mapping_key = \"00\"\n[redact.actions]\nemail = \"mask\"\n[index]\ndir = \"i\"\nfollow = true\nfollow_interval_ms = 100\nmerge_max_bytes = 1048576\n";
        let c = parse(text, "t").unwrap();
        let mut all = Vec::new();
        keys(&serde_json::to_value(&c).unwrap(), &mut all);
        let docs = include_str!("../../../docs/configuration.md");
        let example = include_str!("../../../docs/proviso.example.toml");
        for k in all {
            let documented = [
                format!("`{k}`"),
                format!("`[{k}]`"),
                format!("`[[{k}]]`"),
                format!(".{k}]]`"),
            ]
            .iter()
            .any(|p| docs.contains(p.as_str()));
            assert!(documented, "docs/configuration.md lacks `{k}`");
            assert!(
                example.contains(&format!("{k} ="))
                    || example.contains(&format!("[{k}]"))
                    || example.contains(&format!("[[{k}]]"))
                    || example.contains(&format!(".{k}]]"))
                    || example.contains(&format!(".{k}]")),
                "docs/proviso.example.toml lacks {k}"
            );
        }
    }

    #[test]
    fn full_example_parses() {
        let text = include_str!("../../../docs/proviso.example.toml");
        // SAFETY-free: the example uses ${OPENAI_API_KEY}; provide it.
        let text = text
            .replace("${OPENAI_API_KEY}", "sk-test")
            .replace("${AZURE_OPENAI_KEY}", "az")
            .replace("${PROVISO_ADMIN_TOKEN}", "0123456789abcdef")
            .replace("${PROVISO_HMAC_KEY}", "k")
            .replace("${PROVISO_MAPPING_KEY}", &"ab".repeat(32));
        let c = parse(&text, "example").unwrap();
        assert!(!c.upstreams.is_empty());
        assert!(!c.models.is_empty());
    }
}
