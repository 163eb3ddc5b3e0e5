//! The embedded backend: one SQLite file (WAL mode) holding the system of record, the
//! key-value tables and the stream log, so `stratus up` needs nothing installed.
//!
//! SQLite is a library, not a server: a statement is a function call that takes a few
//! microseconds. So the adapters call it directly on the calling thread (rusqlite), and a
//! port method's statements run as one short synchronous critical section — no
//! statement waits on another thread. (sqlx's SQLite driver runs each connection on a
//! worker thread of its own and hands every statement across a channel: two context
//! switches a statement, which held order placement to about 900 a second on two cores;
//! see ARCHITECTURE.md.)
//!
//! **Writes are group-committed by one writer thread.** The file has one writer
//! connection, owned by a thread of its own. A write is a closure sent to that thread
//! over a channel. The thread takes every write waiting, runs each in a savepoint of one
//! `BEGIN IMMEDIATE` transaction — rolled back to its savepoint if it fails, so a failed
//! write leaves no trace — commits them together, and only then answers each caller.
//! While it commits, the writes that arrive gather in the channel for the next group.
//! Under load one commit (its WAL frames, written once) carries many writes; alone, a
//! write is committed at once. No task ever waits on a lock the committer holds: the
//! async callers only await their answer, so the runtime's threads go on serving requests
//! and reads while a commit is written. A caller hears of its write only after the
//! commit, so nothing is acknowledged that a crash could lose.
//!
//! Readers take a connection of their own from a small free list: in WAL mode they see
//! the last committed state — never the writer's open transaction — without waiting for
//! the writer. Checkpoints run on a thread of their own too (see [`Db::open`]).

mod kv;
mod migrate;
mod records;
mod stream;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

pub use kv::SqliteKv;
pub use records::SqliteRecords;
pub use stream::SqliteStream;

use crate::error::{ErrorKind, StoreError, StoreResult};

/// How often the checkpointer copies the WAL back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);
/// WAL pages after which the writer checkpoints itself: a backstop should the
/// checkpointer fall behind (normally it keeps the WAL far shorter).
const WRITER_CHECKPOINT_PAGES: u32 = 50_000;
/// What the WAL file is cut back to when it is reset.
const WAL_KEPT_BYTES: i64 = 64 << 20;
/// Idle reader connections kept open (more may exist while many reads run at once).
const IDLE_READERS: usize = 8;
/// Prepared statements each connection keeps compiled.
const STATEMENT_CACHE: usize = 128;
/// The most writes one commit carries (a bound on how long one group holds the file).
const MAX_GROUP: usize = 1024;

/// One SQLite file, migrated (see the module docs).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    db: Db,
}

/// The handles to one file: the writer thread's queue and the free readers.
#[derive(Clone)]
pub(crate) struct Db(Arc<Inner>);

struct Inner {
    /// Writes for the writer thread. The thread ends when the last handle is dropped.
    writes: mpsc::Sender<Box<dyn Job>>,
    readers: Mutex<Vec<Connection>>,
    path: PathBuf,
}

/// One write waiting for the writer thread.
trait Job: Send {
    /// Runs the write on the writer's connection, inside its savepoint; whether it
    /// succeeded, and how to tell its caller once the group's commit is settled.
    fn stage(self: Box<Self>, conn: &Connection) -> (bool, Box<dyn Settle>);
    /// Answers the caller without running the write: its group's transaction (or its
    /// savepoint in it) could not be opened.
    fn refuse(self: Box<Self>, why: StoreError);
}

/// A staged write's caller, told how the commit went.
trait Settle: Send {
    fn settle(self: Box<Self>, committed: Result<(), StoreError>);
}

struct WriteJob<F, T> {
    write: F,
    answer: oneshot::Sender<StoreResult<T>>,
}

struct Staged<T> {
    out: StoreResult<T>,
    answer: oneshot::Sender<StoreResult<T>>,
}

impl<F, T> Job for WriteJob<F, T>
where
    F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    T: Send + 'static,
{
    fn stage(self: Box<Self>, conn: &Connection) -> (bool, Box<dyn Settle>) {
        let WriteJob { write, answer } = *self;
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write(conn)))
            .unwrap_or_else(|_| Err(StoreError::internal("a write panicked; rolled back")));
        (out.is_ok(), Box::new(Staged { out, answer }))
    }

    fn refuse(self: Box<Self>, why: StoreError) {
        // A caller that stopped waiting has nothing left to hear.
        let _ = self.answer.send(Err(why));
    }
}

impl<T: Send + 'static> Settle for Staged<T> {
    fn settle(self: Box<Self>, committed: Result<(), StoreError>) {
        let answer = match (self.out, committed) {
            (Err(e), _) => Err(e),
            (Ok(_), Err(e)) => Err(e),
            (Ok(value), Ok(())) => Ok(value),
        };
        let _ = self.answer.send(answer);
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.0.path).finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while the readers' free list is locked (a push or a pop), so a
    // poisoned lock still guards a consistent list.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn configure(conn: &Connection) -> StoreResult<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA temp_store = memory;",
    )?;
    Ok(())
}

/// The writer thread (see the module docs): takes every write waiting, stages them in
/// one transaction, commits, answers. Returns when every handle to the file is gone.
fn write_loop(conn: Connection, writes: mpsc::Receiver<Box<dyn Job>>) {
    let mut waiting: Vec<Box<dyn Job>> = Vec::new();
    loop {
        if waiting.is_empty() {
            match writes.recv() {
                Ok(job) => waiting.push(job),
                Err(mpsc::RecvError) => return,
            }
        }
        while waiting.len() < MAX_GROUP {
            match writes.try_recv() {
                Ok(job) => waiting.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let e = StoreError::from(e);
            for job in waiting.drain(..) {
                job.refuse(e.clone());
            }
            continue;
        }
        let mut jobs = std::mem::take(&mut waiting).into_iter();
        let mut staged: Vec<Box<dyn Settle>> = Vec::new();
        let mut any_ok = false;
        let mut broken: Option<StoreError> = None;
        for job in jobs.by_ref() {
            if let Err(e) = conn.execute_batch("SAVEPOINT write") {
                let e = StoreError::from(e);
                job.refuse(e.clone());
                broken = Some(e);
                break;
            }
            let (ok, settle) = job.stage(&conn);
            let settled = if ok {
                conn.execute_batch("RELEASE write")
            } else {
                conn.execute_batch("ROLLBACK TO write; RELEASE write")
            };
            staged.push(settle);
            if let Err(e) = settled {
                broken = Some(StoreError::from(e));
                break;
            }
            if conn.is_autocommit() {
                // SQLite rolled the whole transaction back by itself (it does on a full
                // disk or an I/O error): nothing of the group can commit.
                broken = Some(StoreError::new(
                    ErrorKind::Unavailable,
                    "the transaction was rolled back by SQLite",
                ));
                break;
            }
            any_ok |= ok;
        }
        // Writes not yet run when the group broke go into the next group.
        waiting.extend(jobs);
        let committed = match broken {
            Some(e) => Err(e),
            None if any_ok => conn.execute_batch("COMMIT").map_err(StoreError::from),
            None => conn.execute_batch("ROLLBACK").map_err(StoreError::from),
        };
        if committed.is_err() && !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for settle in staged {
            settle.settle(committed.clone());
        }
    }
}

impl Db {
    fn open(path: &Path) -> StoreResult<Db> {
        owner_only(path)?;
        let writer = Connection::open(path).map_err(|e| {
            StoreError::new(
                ErrorKind::Unavailable,
                format!("cannot open {}: {e}", path.display()),
            )
        })?;
        // WAL + NORMAL: a commit survives a process crash; an OS crash may lose the last
        // transactions, never corrupt the file.
        writer.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        writer.execute_batch("PRAGMA synchronous = NORMAL;")?;
        writer.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)?;
        // Under steady load the WAL is never reset (a reader is always inside it), so it
        // grows; when it is next reset, in a lull, it is cut back to this size.
        writer.pragma_update(None, "journal_size_limit", WAL_KEPT_BYTES)?;
        configure(&writer)?;
        // Orders, fills and kv items are keyed by random ids, so writes touch pages all
        // over the file: the writer's larger page cache keeps them off the read system
        // call. (A reader's cache is dropped whenever the file has changed since its last
        // read, so readers keep the default. Nor do they map the file: it grows all the
        // time under load, and remapping it cost more than the copies it saved.)
        writer.execute_batch("PRAGMA cache_size = -32768;")?;
        migrate::run(&writer)?;
        let (writes, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || write_loop(writer, queue))
            .map_err(|e| StoreError::internal(format!("cannot start the writer: {e}")))?;
        let db = Db(Arc::new(Inner {
            writes,
            readers: Mutex::new(Vec::new()),
            path: path.to_owned(),
        }));
        db.start_checkpointer(path)?;
        Ok(db)
    }

    /// Checkpoints from a thread of its own. SQLite's automatic checkpoint runs inside
    /// the commit that crosses the threshold — copying the WAL and `fsync`ing the file
    /// while the writer waits, every write behind it. A passive checkpoint on another
    /// connection does the same work beside the writer. The thread ends when the last
    /// handle to the file is dropped.
    fn start_checkpointer(&self, path: &Path) -> StoreResult<()> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let db: Weak<Inner> = Arc::downgrade(&self.0);
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(CHECKPOINT_EVERY);
                    if db.strong_count() == 0 {
                        return;
                    }
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "SQLite checkpoint failed; retrying");
                    }
                }
            })
            .map_err(|e| StoreError::internal(format!("cannot start the checkpointer: {e}")))?;
        Ok(())
    }

    fn reader(&self) -> StoreResult<Connection> {
        if let Some(conn) = lock(&self.0.readers).pop() {
            return Ok(conn);
        }
        let conn = Connection::open_with_flags(
            &self.0.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        configure(&conn)?;
        conn.execute_batch("PRAGMA query_only = ON;")?;
        Ok(conn)
    }

    /// Runs `f` on a reader: it sees the last committed state.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let conn = self.reader()?;
        let out = f(&conn);
        let mut idle = lock(&self.0.readers);
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        out
    }

    /// Runs `f` as one write on the writer thread: all of its statements commit
    /// together, or — if it returns `Err` — none of them do. Returns after the commit.
    pub(crate) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(WriteJob { write: f, answer });
        self.0
            .writes
            .send(job)
            .map_err(|_| StoreError::internal("the SQLite writer stopped"))?;
        answered
            .await
            .unwrap_or_else(|_| Err(StoreError::internal("the SQLite writer stopped")))
    }
}

/// Makes the database file readable and writable by its owner only (0600), creating it
/// empty if it is missing: it holds password hashes, sealed broker credentials and every
/// account's money, like the secret kept beside it. SQLite gives its `-wal` and `-shm`
/// files the database file's permissions.
fn owner_only(path: &Path) -> StoreResult<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let failed = |e: std::io::Error| {
            StoreError::new(
                ErrorKind::Unavailable,
                format!("cannot open {}: {e}", path.display()),
            )
        };
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(failed)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(failed)?;
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            let side = std::path::PathBuf::from(side);
            if side.exists() {
                std::fs::set_permissions(&side, std::fs::Permissions::from_mode(0o600))
                    .map_err(failed)?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies the migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        Ok(SqliteStore {
            db: Db::open(path)?,
        })
    }

    /// A key-value table named `table` in this file.
    pub fn kv(&self, table: &str) -> SqliteKv {
        SqliteKv::new(self.db.clone(), table)
    }

    /// The system of record (accounts, ledger, outbox, checkpoints, snapshots). Outbox
    /// events wait in the outbox for a relay.
    pub fn records(&self) -> SqliteRecords {
        SqliteRecords::new(self.db.clone(), None)
    }

    /// The system of record whose outbox events are appended to this file's stream log
    /// (with `shards` shards per stream, as [`SqliteStore::stream`]) in the transaction
    /// that writes them. The log is in the same file, so the event reaches its stream
    /// exactly when the rows that caused it commit — the relay has nothing left to do,
    /// and no relay can publish an event twice. (An event committed twice is appended
    /// twice: delivery is at-least-once, and every consumer applies an event id once.)
    pub fn records_publishing_to(&self, shards: usize) -> SqliteRecords {
        SqliteRecords::new(self.db.clone(), Some(shards.max(1)))
    }

    /// The stream log, with `shards` shards per stream.
    pub fn stream(&self, shards: usize) -> SqliteStream {
        SqliteStream::new(self.db.clone(), shards)
    }
}
