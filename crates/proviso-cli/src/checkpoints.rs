//! Signed checkpoints: the keys from the configuration, and publishing
//! them from `proviso serve` to a directory outside the operator's
//! database (docs/ledger.md says how an auditor keeps them out of reach).

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use proviso_gateway::config::LedgerOpener;
use proviso_ledger::{SignerKey, VerifierKey};

use crate::config::Config;
use crate::{EXIT_USAGE, Exit};

/// The signing key of `[ledger] checkpoint_key` or `checkpoint_key_file`,
/// if either is set.
pub fn signer(cfg: &Config) -> anyhow::Result<Option<SignerKey>> {
    let (text, from) = match (&cfg.ledger.checkpoint_key, &cfg.ledger.checkpoint_key_file) {
        (Some(_), Some(_)) => {
            return Err(Exit(
                EXIT_USAGE,
                "[ledger] checkpoint_key and checkpoint_key_file: set one, not both".into(),
            )
            .into());
        }
        (Some(k), None) => (k.as_str().to_owned(), "[ledger] checkpoint_key".to_owned()),
        (None, Some(p)) => (
            std::fs::read_to_string(p).map_err(|e| {
                Exit(
                    EXIT_USAGE,
                    format!("[ledger] checkpoint_key_file {}: {e}", p.display()),
                )
            })?,
            format!("[ledger] checkpoint_key_file {}", p.display()),
        ),
        (None, None) => return Ok(None),
    };
    let key = SignerKey::parse(&text).map_err(|e| Exit(EXIT_USAGE, format!("{from}: {e}")))?;
    Ok(Some(key))
}

/// The key checkpoints must be signed by: `arg` (the key, or a file
/// holding it), else the verifier of the configured signing key.
pub fn verifier(cfg: &Config, arg: Option<&str>) -> anyhow::Result<VerifierKey> {
    match arg {
        Some(a) => {
            let text = if Path::new(a).is_file() {
                std::fs::read_to_string(a).with_context(|| format!("reading --key {a}"))?
            } else {
                a.to_owned()
            };
            Ok(VerifierKey::parse(&text).map_err(|e| Exit(EXIT_USAGE, format!("--key: {e}")))?)
        }
        None => signer(cfg)?.map(|k| k.verifier()).ok_or_else(|| {
            Exit(
                EXIT_USAGE,
                "--checkpoint needs --key (the key the checkpoints are signed by)".into(),
            )
            .into()
        }),
    }
}

/// The log's name in its checkpoints: `[ledger] checkpoint_origin`, else
/// the key's name.
pub fn origin(cfg: &Config, key: &SignerKey) -> String {
    cfg.ledger
        .checkpoint_origin
        .clone()
        .unwrap_or_else(|| key.name().to_owned())
}

/// Writes `text` to a new owner-only file (refusing to replace one).
pub fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Exit(EXIT_USAGE, format!("{}: {e}", path.display())))?;
    writeln!(f, "{text}").with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Writes `note` as `<dir>/checkpoint.<size>`, never replacing one
/// already there (a different checkpoint of the same size is an alarm: the
/// log changed), and as `<dir>/checkpoint`, the newest. Each file is
/// written under a name of its own, synced, and then linked or renamed
/// into place, so a reader never sees half a file and replicas sharing the
/// directory do not trip over each other.
pub fn publish(dir: &Path, size: u64, note: &str) -> std::io::Result<()> {
    use std::sync::atomic::AtomicU64;
    static SEQ: AtomicU64 = AtomicU64::new(0);
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".checkpoint.{}.{}.tmp",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(note.as_bytes())?;
        f.sync_all()?;
    }
    let numbered = dir.join(format!("checkpoint.{size}"));
    let linked = match std::fs::hard_link(&tmp, &numbered) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            if std::fs::read_to_string(&numbered)? == note {
                Ok(())
            } else {
                Err(std::io::Error::other(format!(
                    "{} holds another checkpoint of this size: the log was changed since it was published; not replaced",
                    numbered.display()
                )))
            }
        }
        Err(e) => Err(e),
    };
    let result = linked.and_then(|()| std::fs::rename(&tmp, dir.join("checkpoint")));
    let _ = std::fs::remove_file(&tmp);
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    result
}

/// The publisher of `proviso serve`: every `interval`, when the log has
/// grown, signs its checkpoint and writes it to `dir`; it refuses (and
/// logs an error) when the log is shorter than, or differs at the size of,
/// the checkpoint it last published.
pub struct Publisher {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Publisher {
    /// Starts it, or returns `None` when no directory or key is set.
    /// `mine` says whether this replica publishes now (with a shared
    /// ledger, the one that runs the sequencer).
    pub fn start(
        cfg: &Config,
        open: LedgerOpener,
        mine: Box<dyn Fn() -> bool + Send>,
        rt: tokio::runtime::Handle,
    ) -> anyhow::Result<Option<Self>> {
        let dir = cfg.ledger.publish_dir.clone();
        let url = cfg
            .ledger
            .publish_url
            .as_ref()
            .map(|u| u.as_str().to_owned());
        if dir.is_none() && url.is_none() {
            return Ok(None);
        }
        let key = signer(cfg)?.ok_or_else(|| {
            Exit(
                EXIT_USAGE,
                "[ledger] publish_dir or publish_url is set but there is no checkpoint_key or checkpoint_key_file to sign with".into(),
            )
        })?;
        let post = match url {
            Some(url) => Some(Poster {
                url,
                token: cfg
                    .ledger
                    .publish_token
                    .as_ref()
                    .map(|t| t.as_str().to_owned()),
                client: reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .context("building the checkpoint publisher's HTTP client")?,
                rt,
            }),
            None => None,
        };
        let sinks = Sinks { dir, post };
        let origin = origin(cfg, &key);
        let every = Duration::from_millis(cfg.ledger.publish_interval_ms.max(100));
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("checkpoint-publisher".into())
            .spawn(move || run(&sinks, &key, &origin, every, &open, &s2, mine.as_ref()))
            .context("starting the checkpoint publisher")?;
        Ok(Some(Self {
            stop,
            thread: Some(thread),
        }))
    }

    /// Publishes once more (what the log holds now) and stops.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

/// An HTTP endpoint checkpoints are POSTed to.
struct Poster {
    url: String,
    token: Option<String>,
    client: reqwest::Client,
    rt: tokio::runtime::Handle,
}

impl Poster {
    fn post(&self, note: &str) -> Result<(), String> {
        let mut req = self
            .client
            .post(&self.url)
            .header("content-type", "text/plain; charset=utf-8")
            .body(note.to_owned());
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let status = self
            .rt
            .block_on(async move { req.send().await.map(|r| r.status()) })
            .map_err(|e| e.without_url().to_string())?;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the endpoint answered {status}"))
        }
    }
}

/// Where checkpoints go.
struct Sinks {
    dir: Option<std::path::PathBuf>,
    post: Option<Poster>,
}

impl Sinks {
    fn publish(&self, size: u64, note: &str) -> Result<(), String> {
        if let Some(d) = &self.dir {
            publish(d, size, note).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        if let Some(p) = &self.post {
            p.post(note)?;
        }
        Ok(())
    }
}

fn run(
    sinks: &Sinks,
    key: &SignerKey,
    origin: &str,
    every: Duration,
    open: &LedgerOpener,
    stop: &AtomicBool,
    mine: &dyn Fn() -> bool,
) {
    // The last checkpoint published here: the log must not shrink below
    // it, nor show another root at its size.
    let mut last: Option<(u64, proviso_ledger::Hash)> = sinks
        .dir
        .as_ref()
        .and_then(|d| std::fs::read_to_string(d.join("checkpoint")).ok())
        .and_then(|n| key.verifier().open(&n).ok().map(str::to_owned))
        .and_then(|t| proviso_ledger::CheckpointBody::parse(&t).ok())
        .filter(|b| b.origin == origin)
        .map(|b| (b.size, b.root));
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        if mine() {
            match (open.0)().and_then(|r| proviso_ledger::sign_current(r.as_ref(), key, origin)) {
                Ok((body, _))
                    if last.is_some_and(|(n, root)| {
                        body.size < n || (body.size == n && body.root != root)
                    }) =>
                {
                    tracing::error!(
                        size = body.size,
                        published = last.map_or(0, |l| l.0),
                        "the ledger is shorter than, or differs from, the checkpoint last published: not publishing; check it with `proviso ledger verify --checkpoint`"
                    );
                }
                Ok((body, note)) if last.is_none_or(|(n, _)| body.size > n) => {
                    match sinks.publish(body.size, &note) {
                        Ok(()) => {
                            tracing::info!(size = body.size, "checkpoint published");
                            last = Some((body.size, body.root));
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "publishing a checkpoint failed; will retry")
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "signing a checkpoint failed; will retry"),
            }
        }
        if stopping {
            return;
        }
        std::thread::park_timeout(every);
    }
}
