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
//! **Writes are group-committed.** The file has one writer connection, behind a mutex.
//! A write runs its statements inside a savepoint of the writer's open transaction
//! (`BEGIN IMMEDIATE` if none is open) — rolled back to the savepoint if it fails, so a
//! failed write leaves no trace — and then waits, without holding the lock, for the
//! commit. The committer thread commits whatever the open transaction holds as soon as
//! it holds anything: while it commits, the writes that arrive meanwhile gather in the
//! next transaction. Under load one commit (its WAL frames, written once) carries many
//! writes; alone, a write is committed at once. A write's caller hears of it only after
//! its commit, so nothing is acknowledged that a crash could lose.
//!
//! Readers take a connection of their own from a small free list: in WAL mode they see
//! the last committed state — never the writer's open transaction — without waiting for
//! the writer. Checkpoints run on a thread of their own too (see [`Db::open`]).

mod kv;
mod migrate;
mod records;
mod stream;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
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
/// Idle reader connections kept open (more may exist while many reads run at once).
const IDLE_READERS: usize = 8;
/// Prepared statements each connection keeps compiled.
const STATEMENT_CACHE: usize = 128;
/// How long the committer sleeps when there is nothing to commit before it checks
/// whether the file is still open.
const COMMITTER_IDLE: Duration = Duration::from_millis(100);

/// One SQLite file, migrated (see the module docs).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    db: Db,
}

/// The connections to one file: the writer and the free readers.
#[derive(Clone)]
pub(crate) struct Db(Arc<Inner>);

struct Inner {
    writer: Mutex<Writer>,
    /// Tells the committer that the open transaction holds a write.
    pending: Condvar,
    readers: Mutex<Vec<Connection>>,
    /// `None` for an in-memory database: its only connection is the writer, so writes
    /// commit one by one (a reader would otherwise see an uncommitted group).
    path: Option<PathBuf>,
}

struct Writer {
    conn: Connection,
    /// Whether `BEGIN IMMEDIATE` is open.
    open: bool,
    /// The writes in the open transaction, each waiting to hear how its commit went.
    group: Vec<oneshot::Sender<Result<(), StoreError>>>,
}

impl Writer {
    /// Rolls the open transaction back and tells every write in it why.
    fn abandon(&mut self, why: &StoreError) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        self.open = !self.conn.is_autocommit();
        for done in self.group.drain(..) {
            let _ = done.send(Err(why.clone()));
        }
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.0.path).finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Writes roll back to their savepoint on panic (see `Db::stage`), so a poisoned lock
    // still guards a consistent connection.
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

impl Db {
    fn open(path: &Path) -> StoreResult<Db> {
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
        configure(&writer)?;
        // Orders, fills and kv items are keyed by random ids, so writes touch pages all
        // over the file: the writer's larger page cache keeps them off the read system
        // call. (A reader's cache is dropped whenever the file has changed since its last
        // read, so readers keep the default.)
        writer.execute_batch("PRAGMA cache_size = -32768;")?;
        migrate::run(&writer)?;
        let db = Db(Arc::new(Inner {
            writer: Mutex::new(Writer {
                conn: writer,
                open: false,
                group: Vec::new(),
            }),
            pending: Condvar::new(),
            readers: Mutex::new(Vec::new()),
            path: Some(path.to_owned()),
        }));
        db.start_committer()?;
        db.start_checkpointer(path)?;
        Ok(db)
    }

    fn in_memory() -> StoreResult<Db> {
        let conn = Connection::open_in_memory()?;
        configure(&conn)?;
        migrate::run(&conn)?;
        Ok(Db(Arc::new(Inner {
            writer: Mutex::new(Writer {
                conn,
                open: false,
                group: Vec::new(),
            }),
            pending: Condvar::new(),
            readers: Mutex::new(Vec::new()),
            path: None,
        })))
    }

    /// The committer (see the module docs). It holds the file only while it commits, so
    /// it ends once the last handle is dropped.
    fn start_committer(&self) -> StoreResult<()> {
        let inner: Weak<Inner> = Arc::downgrade(&self.0);
        std::thread::Builder::new()
            .name("sqlite-commit".into())
            .spawn(move || {
                while let Some(inner) = inner.upgrade() {
                    let mut writer = lock(&inner.writer);
                    if writer.group.is_empty() {
                        writer = inner
                            .pending
                            .wait_timeout(writer, COMMITTER_IDLE)
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .0;
                    }
                    if writer.group.is_empty() {
                        continue;
                    }
                    let committed = writer
                        .conn
                        .execute_batch("COMMIT")
                        .map_err(StoreError::from);
                    if committed.is_err() {
                        // Nothing of the group is kept; each write hears why.
                        let _ = writer.conn.execute_batch("ROLLBACK");
                    }
                    writer.open = !writer.conn.is_autocommit();
                    let group = std::mem::take(&mut writer.group);
                    drop(writer);
                    for done in group {
                        // A caller that stopped waiting has nothing left to hear.
                        let _ = done.send(committed.clone());
                    }
                }
            })
            .map_err(|e| StoreError::internal(format!("cannot start the committer: {e}")))?;
        Ok(())
    }

    /// Checkpoints from a thread of its own. SQLite's automatic checkpoint runs inside
    /// the commit that crosses the threshold — copying the WAL and `fsync`ing the file
    /// while that writer holds the write lock, every writer waiting behind it. A
    /// passive checkpoint on another connection does the same work beside the writer.
    /// The thread ends when the last handle to the file is dropped.
    fn start_checkpointer(&self, path: &Path) -> StoreResult<()> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let db = Arc::downgrade(&self.0);
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

    fn reader(&self, path: &Path) -> StoreResult<Connection> {
        if let Some(conn) = lock(&self.0.readers).pop() {
            return Ok(conn);
        }
        let conn = Connection::open_with_flags(
            path,
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
        let Some(path) = &self.0.path else {
            return f(&lock(&self.0.writer).conn);
        };
        let conn = self.reader(path)?;
        let out = f(&conn);
        let mut idle = lock(&self.0.readers);
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        out
    }

    /// Runs `f` as one write: all of its statements commit together, or — if it
    /// returns `Err` — none of them do. Returns after the commit.
    pub(crate) async fn write<T>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let (out, committed) = self.stage(f)?;
        match committed {
            None => Ok(out),
            Some(committed) => match committed.await {
                Ok(Ok(())) => Ok(out),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(StoreError::internal("the SQLite committer stopped")),
            },
        }
    }

    /// Runs `f` in a savepoint of the open transaction; its result and, unless it is
    /// committed already, where to hear of the commit.
    #[allow(clippy::type_complexity)]
    fn stage<T>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T>,
    ) -> StoreResult<(T, Option<oneshot::Receiver<Result<(), StoreError>>>)> {
        let mut writer = lock(&self.0.writer);
        let w = &mut *writer;
        if w.open && w.conn.is_autocommit() {
            // SQLite ended the transaction by itself (it rolls back on a full disk or an
            // I/O error): the group's writes are gone.
            w.abandon(&StoreError::new(
                ErrorKind::Unavailable,
                "the open transaction was rolled back by SQLite",
            ));
        }
        if !w.open {
            w.conn.execute_batch("BEGIN IMMEDIATE")?;
            w.open = true;
        }
        if let Err(e) = w.conn.execute_batch("SAVEPOINT write") {
            let e = StoreError::from(e);
            w.abandon(&e);
            return Err(e);
        }
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&w.conn)))
            .unwrap_or_else(|_| Err(StoreError::internal("a write panicked; rolled back")));
        let settled = if out.is_ok() {
            w.conn.execute_batch("RELEASE write")
        } else {
            w.conn.execute_batch("ROLLBACK TO write; RELEASE write")
        };
        if settled.is_err() || w.conn.is_autocommit() {
            // The savepoint could not be settled, or SQLite rolled the whole transaction
            // back while `f` ran: nothing of this transaction can be trusted to commit.
            let e = match (out, settled) {
                (Err(e), _) => e,
                (Ok(_), Err(e)) => StoreError::from(e),
                (Ok(_), Ok(())) => StoreError::new(
                    ErrorKind::Unavailable,
                    "the transaction was rolled back by SQLite",
                ),
            };
            w.abandon(&e);
            return Err(e);
        }
        let grouped = self.0.path.is_some();
        if !grouped || (out.is_err() && w.group.is_empty()) {
            // Commit (or end) now: alone in the transaction, or no committer.
            let end = if out.is_ok() { "COMMIT" } else { "ROLLBACK" };
            let ended = w.conn.execute_batch(end);
            if ended.is_err() {
                let _ = w.conn.execute_batch("ROLLBACK");
            }
            w.open = false;
            ended?;
            return out.map(|value| (value, None));
        }
        let value = out?;
        let (done, committed) = oneshot::channel();
        w.group.push(done);
        self.0.pending.notify_one();
        Ok((value, Some(committed)))
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies the migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        Ok(SqliteStore {
            db: Db::open(path)?,
        })
    }

    /// A private in-memory database (tests).
    pub async fn in_memory() -> StoreResult<Self> {
        Ok(SqliteStore {
            db: Db::in_memory()?,
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
