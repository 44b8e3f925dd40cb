//! Files and batches: what is known of each in SQLite (`batches.db`), the
//! files' bytes on disk beside it (`files/`), and each batch's own working
//! files (`work/{batch}/`: the masked file as sent, the placeholders of each
//! line). The directory is created readable by its owner only: it holds the
//! clients' input as they wrote it, personal data included, until the file
//! is deleted.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// A store failure.
#[derive(Debug, Error)]
pub enum StoreError {
    /// SQLite.
    #[error("batch store: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The file system.
    #[error("batch store: {path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// What.
        source: std::io::Error,
    },
    /// A stored document that does not read back.
    #[error("batch store: {0}")]
    Corrupt(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A file a client uploaded, or a batch's results.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FileInfo {
    /// `file-…`.
    pub id: String,
    /// The key that owns it.
    pub key_id: String,
    /// `batch`, `batch_output` (results) or `batch_error` (failures).
    pub purpose: String,
    /// The name it was uploaded under.
    pub filename: String,
    /// Its size.
    pub bytes: u64,
    /// When, Unix seconds.
    pub created_at: i64,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
}

impl FileInfo {
    /// A new file's description (`id` made here).
    pub fn new(key_id: &str, purpose: &str, filename: &str, bytes: &[u8], created_at: i64) -> Self {
        Self::with_id(new_file_id(), key_id, purpose, filename, bytes, created_at)
    }

    /// A file's description under an id chosen before (a batch's results,
    /// written again the same after a restart).
    pub fn with_id(
        id: String,
        key_id: &str,
        purpose: &str,
        filename: &str,
        bytes: &[u8],
        created_at: i64,
    ) -> Self {
        Self {
            id,
            key_id: key_id.to_owned(),
            purpose: purpose.to_owned(),
            filename: filename.to_owned(),
            bytes: bytes.len() as u64,
            created_at,
            sha256: hex::encode(Sha256::digest(bytes)),
        }
    }

    /// OpenAI's file object.
    pub fn object(&self) -> Value {
        json!({
            "id": self.id,
            "object": "file",
            "bytes": self.bytes,
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": null,
            "status_details": null,
        })
    }
}

/// Where a batch is, as OpenAI names it.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    /// Being checked.
    Validating,
    /// The upstream refused it.
    Failed,
    /// Running upstream.
    InProgress,
    /// Results being gathered.
    Finalizing,
    /// Done; results ready.
    Completed,
    /// Did not finish within its window.
    Expired,
    /// A cancel was asked for.
    Cancelling,
    /// Cancelled.
    Cancelled,
}

impl BatchStatus {
    /// The name OpenAI uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Validating => "validating",
            Self::Failed => "failed",
            Self::InProgress => "in_progress",
            Self::Finalizing => "finalizing",
            Self::Completed => "completed",
            Self::Expired => "expired",
            Self::Cancelling => "cancelling",
            Self::Cancelled => "cancelled",
        }
    }

    /// Reads an upstream's status.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Validating,
            Self::Failed,
            Self::InProgress,
            Self::Finalizing,
            Self::Completed,
            Self::Expired,
            Self::Cancelling,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|b| b.as_str() == s)
    }

    /// Whether the batch will not change upstream any more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Failed | Self::Completed | Self::Expired | Self::Cancelled
        )
    }
}

/// What is known of one batch.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Batch {
    /// `batch_…` (Proviso's; the upstream's is [`Batch::upstream_batch_id`]).
    pub id: String,
    /// The key that created it.
    pub key_id: String,
    /// Its team.
    pub team: String,
    /// The endpoint every line calls.
    pub endpoint: String,
    /// The client's input file.
    pub input_file_id: String,
    /// `24h`.
    pub completion_window: String,
    /// When it was created, Unix seconds.
    pub created_at: i64,
    /// As the client sees it.
    pub status: BatchStatus,
    /// The model every line names.
    pub model: String,
    /// The declared purpose.
    pub purpose: Option<String>,
    /// The upstream it was sent to.
    pub upstream: String,
    /// The model name there.
    pub upstream_model: String,
    /// The upstream's batch id.
    pub upstream_batch_id: Option<String>,
    /// Where the batch is upstream (the client sees `finalizing` while an
    /// ended batch's lines are being recorded).
    pub upstream_status: Option<BatchStatus>,
    /// The masked file's id upstream.
    pub upstream_input_file_id: Option<String>,
    /// The results file (placeholders restored), once recorded.
    pub output_file_id: Option<String>,
    /// The failures file, once recorded.
    pub error_file_id: Option<String>,
    /// Requests in the batch.
    pub total: u64,
    /// Requests answered with success.
    pub completed: u64,
    /// Requests that failed.
    pub failed: u64,
    /// The client's metadata (kept here, not sent upstream).
    pub metadata: Option<Value>,
    /// Why it failed, when it did (OpenAI's `errors` object).
    pub errors: Option<Value>,
    /// When it started running upstream, Unix seconds.
    pub in_progress_at: Option<i64>,
    /// When its results began to be gathered.
    pub finalizing_at: Option<i64>,
    /// When it completed.
    pub completed_at: Option<i64>,
    /// When it failed.
    pub failed_at: Option<i64>,
    /// When it expired.
    pub expired_at: Option<i64>,
    /// When a cancel was asked for.
    pub cancelling_at: Option<i64>,
    /// When it was cancelled.
    pub cancelled_at: Option<i64>,
    /// When it expires if not done.
    pub expires_at: Option<i64>,
    /// The ledger record of its submission.
    pub submitted_record: Option<String>,
    /// Lines recorded in the ledger so far, in input order (where recording
    /// goes on after a restart).
    pub recorded_lines: u64,
    /// Every line is recorded and the results are written.
    pub recorded: bool,
    /// Tokens used, summed over the lines (`usage` object).
    pub usage: Option<Value>,
}

/// What a new batch is made of.
#[derive(Clone, Debug)]
pub struct NewBatch {
    /// `batch_…`.
    pub id: String,
    /// The key that creates it.
    pub key_id: String,
    /// Its team.
    pub team: String,
    /// The endpoint every line calls.
    pub endpoint: String,
    /// The client's input file.
    pub input_file_id: String,
    /// `24h`.
    pub completion_window: String,
    /// Now, Unix seconds.
    pub created_at: i64,
    /// The model every line names.
    pub model: String,
    /// The declared purpose.
    pub purpose: Option<String>,
    /// Requests in it.
    pub total: u64,
    /// The client's metadata.
    pub metadata: Option<Value>,
}

impl Batch {
    /// A batch being validated, sent nowhere yet.
    pub fn new(n: NewBatch) -> Self {
        Self {
            id: n.id,
            key_id: n.key_id,
            team: n.team,
            endpoint: n.endpoint,
            input_file_id: n.input_file_id,
            completion_window: n.completion_window,
            created_at: n.created_at,
            status: BatchStatus::Validating,
            model: n.model,
            purpose: n.purpose,
            upstream: String::new(),
            upstream_model: String::new(),
            upstream_batch_id: None,
            upstream_status: None,
            upstream_input_file_id: None,
            output_file_id: None,
            error_file_id: None,
            total: n.total,
            completed: 0,
            failed: 0,
            metadata: n.metadata,
            errors: None,
            in_progress_at: None,
            finalizing_at: None,
            completed_at: None,
            failed_at: None,
            expired_at: None,
            cancelling_at: None,
            cancelled_at: None,
            expires_at: None,
            submitted_record: None,
            recorded_lines: 0,
            recorded: false,
            usage: None,
        }
    }

    /// OpenAI's batch object.
    pub fn object(&self) -> Value {
        json!({
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "model": self.model,
            "errors": self.errors,
            "input_file_id": self.input_file_id,
            "completion_window": self.completion_window,
            "status": self.status.as_str(),
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            "in_progress_at": self.in_progress_at,
            "expires_at": self.expires_at,
            "finalizing_at": self.finalizing_at,
            "completed_at": self.completed_at,
            "failed_at": self.failed_at,
            "expired_at": self.expired_at,
            "cancelling_at": self.cancelling_at,
            "cancelled_at": self.cancelled_at,
            "request_counts": {
                "total": self.total,
                "completed": self.completed,
                "failed": self.failed,
            },
            "usage": self.usage,
            "metadata": self.metadata,
        })
    }
}

/// The store. Calls block on SQLite and the disk: from async code, run
/// them on a blocking pool.
pub struct Store {
    conn: Mutex<Connection>,
    dir: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).finish()
    }
}

fn private_dir(p: &Path) -> Result<(), StoreError> {
    fs::create_dir_all(p).map_err(io(p))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(p, fs::Permissions::from_mode(0o700)).map_err(io(p))?;
    }
    Ok(())
}

/// Writes `bytes` to `path` whole or not at all (a temporary file, synced,
/// renamed over).
fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))
}

/// Whether `id` is safe as a file name (ids come from clients' URLs).
fn plain_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Store {
    /// Opens (creating) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        private_dir(dir)?;
        private_dir(&dir.join("files"))?;
        private_dir(&dir.join("work"))?;
        let conn = Connection::open(dir.join("batches.db"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS files (
                id TEXT PRIMARY KEY, key_id TEXT NOT NULL, created_at INTEGER NOT NULL,
                doc TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS files_by_key ON files (key_id, id);
             CREATE TABLE IF NOT EXISTS batches (
                id TEXT PRIMARY KEY, key_id TEXT NOT NULL, recorded INTEGER NOT NULL,
                doc TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS batches_by_key ON batches (key_id, id);",
        )?;
        Ok(Self {
            conn: Mutex::new(conn),
            dir: dir.to_owned(),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (each
        // statement is atomic): go on with it.
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn file_path(&self, id: &str) -> Option<PathBuf> {
        plain_id(id).then(|| self.dir.join("files").join(id))
    }

    /// Keeps a file: its bytes on disk, then its description.
    pub fn put_file(&self, info: &FileInfo, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self
            .file_path(&info.id)
            .ok_or_else(|| StoreError::Corrupt(format!("file id {:?}", info.id)))?;
        write_whole(&path, bytes)?;
        let doc = serde_json::to_string(info).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.conn().execute(
            "INSERT OR REPLACE INTO files (id, key_id, created_at, doc) VALUES (?1, ?2, ?3, ?4)",
            params![info.id, info.key_id, info.created_at, doc],
        )?;
        Ok(())
    }

    /// A file's description.
    pub fn file(&self, id: &str) -> Result<Option<FileInfo>, StoreError> {
        let doc: Option<String> = self
            .conn()
            .query_row("SELECT doc FROM files WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        doc.map(|d| serde_json::from_str(&d).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }

    /// A file's bytes.
    pub fn file_bytes(&self, id: &str) -> Result<Vec<u8>, StoreError> {
        let path = self
            .file_path(id)
            .ok_or_else(|| StoreError::Corrupt(format!("file id {id:?}")))?;
        fs::read(&path).map_err(io(&path))
    }

    /// `key`'s files, newest first, after the id `after` (the page's last),
    /// at most `limit`; only those of `purpose` if given.
    pub fn files(
        &self,
        key: &str,
        after: Option<&str>,
        limit: usize,
        purpose: Option<&str>,
    ) -> Result<Vec<FileInfo>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT doc FROM files WHERE key_id = ?1 AND (?2 IS NULL OR id < ?2) ORDER BY id DESC",
        )?;
        let rows = st.query_map(params![key, after], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for d in rows {
            let f: FileInfo =
                serde_json::from_str(&d?).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            if purpose.is_none_or(|p| p == f.purpose) {
                out.push(f);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Deletes a file (its description, then its bytes).
    pub fn delete_file(&self, id: &str) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .execute("DELETE FROM files WHERE id = ?1", [id])?;
        if let Some(p) = self.file_path(id) {
            match fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&p)(e)),
            }
        }
        Ok(n > 0)
    }

    /// Keeps a batch (new or changed).
    pub fn put_batch(&self, b: &Batch) -> Result<(), StoreError> {
        let doc = serde_json::to_string(b).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.conn().execute(
            "INSERT INTO batches (id, key_id, recorded, doc) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET recorded = excluded.recorded, doc = excluded.doc",
            params![b.id, b.key_id, b.recorded, doc],
        )?;
        Ok(())
    }

    /// A batch.
    pub fn batch(&self, id: &str) -> Result<Option<Batch>, StoreError> {
        let doc: Option<String> = self
            .conn()
            .query_row("SELECT doc FROM batches WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        doc.map(|d| serde_json::from_str(&d).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }

    /// `key`'s batches, newest first, after the id `after`, at most `limit`.
    pub fn batches(
        &self,
        key: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Batch>, StoreError> {
        self.query(
            "SELECT doc FROM batches WHERE key_id = ?1 AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3",
            params![key, after, i64::try_from(limit).unwrap_or(i64::MAX)],
        )
    }

    /// Batches whose lines are not all recorded yet (oldest first).
    pub fn unfinished(&self) -> Result<Vec<Batch>, StoreError> {
        self.query(
            "SELECT doc FROM batches WHERE recorded = 0 ORDER BY id",
            params![],
        )
    }

    fn query(&self, sql: &str, p: impl rusqlite::Params) -> Result<Vec<Batch>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare(sql)?;
        let rows = st.query_map(p, |r| r.get::<_, String>(0))?;
        rows.map(|d| serde_json::from_str(&d?).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect()
    }

    fn work_path(&self, batch: &str, name: &str) -> Result<PathBuf, StoreError> {
        if !plain_id(batch) {
            return Err(StoreError::Corrupt(format!("batch id {batch:?}")));
        }
        let d = self.dir.join("work").join(batch);
        private_dir(&d)?;
        Ok(d.join(name))
    }

    /// Keeps one of a batch's working files (`sent.jsonl`, `lines.json`).
    pub fn put_work(&self, batch: &str, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        write_whole(&self.work_path(batch, name)?, bytes)
    }

    /// One of a batch's working files.
    pub fn work(&self, batch: &str, name: &str) -> Result<Vec<u8>, StoreError> {
        let p = self.work_path(batch, name)?;
        fs::read(&p).map_err(io(&p))
    }

    /// Removes a batch's working files (the placeholders' values among
    /// them), once every line is recorded.
    pub fn drop_work(&self, batch: &str) -> Result<(), StoreError> {
        if !plain_id(batch) {
            return Ok(());
        }
        let d = self.dir.join("work").join(batch);
        match fs::remove_dir_all(&d) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&d)(e)),
        }
    }
}

/// A new file id.
pub fn new_file_id() -> String {
    format!("file-{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// A new batch id.
pub fn new_batch_id() -> String {
    format!("batch_{}", ulid::Ulid::new().to_string().to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(id: &str, key: &str) -> Batch {
        Batch::new(NewBatch {
            id: id.into(),
            key_id: key.into(),
            team: "t".into(),
            endpoint: "/v1/chat/completions".into(),
            input_file_id: "file-1".into(),
            completion_window: "24h".into(),
            created_at: 1,
            model: "m".into(),
            purpose: None,
            total: 2,
            metadata: None,
        })
    }

    #[test]
    fn files_round_trip_and_belong_to_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let a = FileInfo::new("k1", "batch", "in.jsonl", b"abc", 10);
        let b = FileInfo::new("k1", "batch_output", "out.jsonl", b"xyz!", 11);
        let c = FileInfo::new("k2", "batch", "other.jsonl", b"q", 12);
        for (f, bytes) in [(&a, &b"abc"[..]), (&b, b"xyz!"), (&c, b"q")] {
            s.put_file(f, bytes).unwrap();
        }
        assert_eq!(s.file(&a.id).unwrap().unwrap(), a);
        assert_eq!(s.file_bytes(&b.id).unwrap(), b"xyz!");
        let mine: Vec<String> = s
            .files("k1", None, 10, None)
            .unwrap()
            .into_iter()
            .map(|f| f.id)
            .collect();
        assert_eq!(mine.len(), 2);
        assert!(!mine.contains(&c.id));
        assert_eq!(
            s.files("k1", None, 10, Some("batch")).unwrap(),
            vec![a.clone()]
        );
        // Pages: after the newest, the other.
        let first = s.files("k1", None, 1, None).unwrap();
        let next = s.files("k1", Some(&first[0].id), 1, None).unwrap();
        assert_ne!(first[0].id, next[0].id);
        assert!(s.delete_file(&a.id).unwrap());
        assert!(s.file(&a.id).unwrap().is_none());
        assert!(s.file_bytes(&a.id).is_err());
        assert!(!s.delete_file(&a.id).unwrap());
        // An id from a URL never leaves the directory.
        assert!(s.file_bytes("../batches.db").is_err());
    }

    #[test]
    fn batches_round_trip_and_unfinished_ones_are_found_again() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            s.put_batch(&batch("batch_a", "k1")).unwrap();
            let mut b = batch("batch_b", "k1");
            b.recorded = true;
            s.put_batch(&b).unwrap();
            s.put_work("batch_a", "lines.json", b"[]").unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        let open: Vec<String> = s.unfinished().unwrap().into_iter().map(|b| b.id).collect();
        assert_eq!(open, ["batch_a"]);
        let mut a = s.batch("batch_a").unwrap().unwrap();
        a.status = BatchStatus::InProgress;
        s.put_batch(&a).unwrap();
        assert_eq!(
            s.batch("batch_a").unwrap().unwrap().status,
            BatchStatus::InProgress
        );
        assert_eq!(s.batches("k1", None, 10).unwrap().len(), 2);
        assert!(s.batches("k2", None, 10).unwrap().is_empty());
        assert_eq!(s.work("batch_a", "lines.json").unwrap(), b"[]");
        s.drop_work("batch_a").unwrap();
        assert!(s.work("batch_a", "lines.json").is_err());
        assert_eq!(a.object()["status"], "in_progress");
        assert_eq!(a.object()["request_counts"]["total"], 2);
    }

    #[test]
    fn statuses() {
        assert_eq!(
            BatchStatus::parse("in_progress"),
            Some(BatchStatus::InProgress)
        );
        assert_eq!(BatchStatus::parse("nope"), None);
        assert!(BatchStatus::Cancelled.is_terminal());
        assert!(!BatchStatus::Cancelling.is_terminal());
    }
}
