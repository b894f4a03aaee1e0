//! Client spans for every statement run through a sqlx pool, pooled connection or transaction
//! (cargo feature `sqlx`; SQLite and PostgreSQL).
//!
//! Wrap the pool once where it is built; every call site stays as sqlx has it (`query`,
//! `query_as`, `query_scalar`, `query!`, `raw_sql`, transactions with `&mut *tx`):
//!
//! ```
//! use maestro_trace::{span, TraceFutureExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), sqlx::Error> {
//! let capture = maestro_trace::testing::capture();
//! let pool = maestro_trace::sqlx::instrument(sqlx::SqlitePool::connect("sqlite::memory:").await?);
//!
//! async {
//!     sqlx::query("CREATE TABLE models (id TEXT PRIMARY KEY, accuracy REAL)").execute(&pool).await?;
//!     let mut tx = pool.begin().await?;
//!     sqlx::query("INSERT INTO models VALUES ($1, $2)").bind("bert-base").bind(0.93).execute(&mut *tx).await?;
//!     tx.commit().await?;
//!     let (accuracy,): (f64,) = sqlx::query_as("SELECT accuracy FROM models WHERE id = $1")
//!         .bind("bert-base")
//!         .fetch_one(&pool)
//!         .await?;
//!     assert_eq!(accuracy, 0.93);
//!     Ok::<_, sqlx::Error>(())
//! }
//! .in_span(span!("save_to_database"))
//! .await?;
//!
//! let select = capture.span("SELECT models");
//! assert!(select.is_child_of(&capture.span("save_to_database")));
//! assert_eq!(select.attr_str("db.system.name").as_deref(), Some("sqlite"));
//! assert_eq!(select.attr_str("db.query.text").as_deref(), Some("SELECT accuracy FROM models WHERE id = $1"));
//! assert_eq!(select.attr_i64("db.response.returned_rows"), Some(1));
//! assert_eq!(capture.names(), [
//!     "save_to_database", "CREATE models", "acquire_connection", "BEGIN", "acquire_connection",
//!     "INSERT models", "COMMIT", "SELECT models", "acquire_connection",
//! ]);
//! # Ok(()) }
//! ```
//!
//! Each statement is a span of kind Client, a child of the span current when the query is
//! handed to the executor (`.fetch_all(&pool)` inside a traced `async fn` or an `.in_span(..)`
//! future nests under it), following the stable database semantic conventions:
//!
//! - name `{db.operation.name} {db.collection.name}` (`SELECT models`), else
//!   `{db.operation.name}` (`BEGIN`), else the system (`postgresql`) for a statement whose text
//!   does not start with a known operation;
//! - `db.system.name` (`sqlite`, `postgresql`), `db.namespace` (the database name; the file of
//!   a file-backed SQLite database), `server.address` and `server.port` (PostgreSQL over TCP),
//!   `db.operation.name`, `db.collection.name` (the first table the statement names),
//!   `db.query.text`: the statement as prepared when it binds parameters (their values are never
//!   recorded), else with every literal replaced by `?`;
//! - `db.response.returned_rows` once the rows are read;
//! - a failure sets status Error with an `exception` event and `error.type`: the SQLSTATE code
//!   for a database error (`23505` on PostgreSQL, the extended result code such as `2067` on
//!   SQLite), else the error's kind (`pool_timed_out`, `io`, `row_not_found`, ...). The caller
//!   gets sqlx's error unchanged.
//!
//! Through the pool, the wait for a connection is a child span `acquire_connection` of the
//! statement's span, whatever runs it: `execute`, `fetch_all`, `fetch_one`, `fetch_optional`, and
//! row streams (`fetch`, and `fetch_all` of `query_as(..)` / `query_scalar(..)`, which collect
//! one). `begin()` is a `BEGIN` span, with the wait for the transaction's connection an
//! `acquire_connection` span inside it; `commit()` and `rollback()` are `COMMIT` / `ROLLBACK`
//! spans.
//!
//! With tracing off, or under a parent the sampler drops, the query is handed to sqlx as it is:
//! nothing is allocated and the statement is not looked at. Long statements are cut by the
//! configured [`SpanLimits::max_attribute_value_length`](crate::SpanLimits).
//!
//! A recorded statement's text is read once per thread: each thread remembers the name,
//! operation, table and recorded text of up to 256 distinct statements of at most 4 KiB (and
//! forgets them all when a 257th comes), and their spans share those strings instead of copying
//! them. Span names made of an operation and a table (`SELECT models`) are kept for the life of
//! the process, 1,024 distinct ones at most; past that, each span gets a copy of its own.
//!
//! sqlx 0.9 needs rustc 1.94, above the rest of the crate's minimum.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use ::sqlx::{Connection, Database, Pool};
use opentelemetry::trace::SpanKind;
use opentelemetry::{KeyValue, StringValue};
use opentelemetry_semantic_conventions::attribute::{
    DB_COLLECTION_NAME, DB_NAMESPACE, DB_OPERATION_NAME, DB_QUERY_TEXT, DB_SYSTEM_NAME,
    SERVER_ADDRESS, SERVER_PORT,
};

use super::{shared, Parent};

mod described;
mod executor;
mod statement;
mod transaction;

pub use self::transaction::{TracedConnection, TracedTransaction};

/// Wraps `pool` so that every statement run through it is a client span (see the
/// [module docs](self)).
pub fn instrument<DB: DatabaseSystem>(pool: Pool<DB>) -> TracedPool<DB> {
    TracedPool::new(pool)
}

/// A sqlx pool whose statements are traced: `&TracedPool` is an [`sqlx::Executor`], like `&Pool`.
///
/// Cloning it is cheap and shares the pool, as cloning a [`Pool`] does.
pub struct TracedPool<DB: Database> {
    pool: Pool<DB>,
    endpoint: Arc<Endpoint>,
}

impl<DB: DatabaseSystem> TracedPool<DB> {
    /// Wraps `pool`; what every span says about the server is read once, from its options.
    pub fn new(pool: Pool<DB>) -> Self {
        let endpoint = Arc::new(DB::endpoint(&pool.connect_options()));
        TracedPool { pool, endpoint }
    }

    /// The pool itself (statements run on it directly are not traced).
    pub fn inner(&self) -> &Pool<DB> {
        &self.pool
    }

    /// Unwraps the pool.
    pub fn into_inner(self) -> Pool<DB> {
        self.pool
    }
}

impl<DB: Database> Clone for TracedPool<DB> {
    fn clone(&self) -> Self {
        TracedPool {
            pool: self.pool.clone(),
            endpoint: Arc::clone(&self.endpoint),
        }
    }
}

impl<DB: Database> fmt::Debug for TracedPool<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedPool")
            .field("pool", &self.pool)
            .field("system", &self.endpoint.system)
            .finish()
    }
}

/// A database whose statements can be traced: what its spans call it and where its server is.
///
/// Implemented for [`sqlx::Sqlite`] and [`sqlx::Postgres`].
pub trait DatabaseSystem: Database + sealed::Sealed {
    /// `db.system.name` as the semantic conventions spell it.
    const SYSTEM: &'static str;

    #[doc(hidden)]
    fn endpoint(options: &<Self::Connection as Connection>::Options) -> Endpoint;
}

mod sealed {
    /// Only the databases this crate knows implement [`DatabaseSystem`](super::DatabaseSystem).
    #[allow(unreachable_pub)]
    pub trait Sealed {}
    impl Sealed for ::sqlx::Sqlite {}
    impl Sealed for ::sqlx::Postgres {}
}

impl DatabaseSystem for ::sqlx::Sqlite {
    const SYSTEM: &'static str = "sqlite";

    fn endpoint(options: &::sqlx::sqlite::SqliteConnectOptions) -> Endpoint {
        let file = options.get_filename().to_string_lossy();
        // `sqlite::memory:` becomes a private `file:sqlx-in-memory-N`: no namespace to name.
        let in_memory = file == ":memory:" || file.starts_with("file:sqlx-in-memory-");
        Endpoint {
            system: Self::SYSTEM,
            namespace: (!in_memory).then(|| shared(&file)),
            address: None,
            port: None,
        }
    }
}

impl DatabaseSystem for ::sqlx::Postgres {
    const SYSTEM: &'static str = "postgresql";

    fn endpoint(options: &::sqlx::postgres::PgConnectOptions) -> Endpoint {
        // A Unix socket is not a network address: the conventions leave the server out then.
        let tcp = options.get_socket().is_none() && !options.get_host().starts_with('/');
        Endpoint {
            system: Self::SYSTEM,
            namespace: options.get_database().map(shared),
            address: tcp.then(|| shared(options.get_host())),
            port: tcp.then(|| i64::from(options.get_port())),
        }
    }
}

/// What every span of one pool says about its database: read once, cloned per span without
/// allocating.
#[doc(hidden)]
#[derive(Debug)]
pub struct Endpoint {
    system: &'static str,
    namespace: Option<StringValue>,
    address: Option<StringValue>,
    port: Option<i64>,
}

impl Endpoint {
    /// Starts the span of `sql` under `parent`: named and attributed from the statement's text,
    /// which is recorded as is when `parameterised`, else with its literals replaced.
    fn start_statement(
        &self,
        parent: Parent,
        sql: &str,
        parameterised: bool,
    ) -> opentelemetry::Context {
        let described = described::describe(sql, parameterised);
        let mut attributes = self.attributes(3);
        attributes.push(KeyValue::new(DB_QUERY_TEXT, described.text));
        if let Some(operation) = described.operation {
            attributes.push(KeyValue::new(DB_OPERATION_NAME, operation));
        }
        if let Some(collection) = described.collection {
            attributes.push(KeyValue::new(DB_COLLECTION_NAME, collection));
        }
        let name = described.name.unwrap_or(Cow::Borrowed(self.system));
        parent.start(name, SpanKind::Client, attributes)
    }

    /// Starts a span for an operation the integration itself runs (`BEGIN`, `COMMIT`, ...).
    fn start_operation(&self, parent: Parent, operation: &'static str) -> opentelemetry::Context {
        let mut attributes = self.attributes(2);
        attributes.push(KeyValue::new(DB_OPERATION_NAME, operation));
        attributes.push(KeyValue::new(DB_QUERY_TEXT, operation));
        parent.start(Cow::Borrowed(operation), SpanKind::Client, attributes)
    }

    /// The attributes every span of this database has, with room for `more`.
    fn attributes(&self, more: usize) -> Vec<KeyValue> {
        let mut attributes = Vec::with_capacity(4 + more);
        attributes.push(KeyValue::new(DB_SYSTEM_NAME, self.system));
        if let Some(namespace) = &self.namespace {
            attributes.push(KeyValue::new(DB_NAMESPACE, namespace.clone()));
        }
        if let Some(address) = &self.address {
            attributes.push(KeyValue::new(SERVER_ADDRESS, address.clone()));
        }
        if let Some(port) = self.port {
            attributes.push(KeyValue::new(SERVER_PORT, port));
        }
        attributes
    }
}

/// `error.type` of a sqlx error: the database's own code (SQLSTATE on PostgreSQL) where there is
/// one, else the error's kind.
fn error_type(error: &::sqlx::Error) -> StringValue {
    use ::sqlx::Error;
    let kind = match error {
        Error::Database(database) => match database.code() {
            Some(code) => return StringValue::from(code.into_owned()),
            None => "database",
        },
        Error::Configuration(_) => "configuration",
        Error::InvalidArgument(_) => "invalid_argument",
        Error::Io(_) => "io",
        Error::Tls(_) => "tls",
        Error::Protocol(_) => "protocol",
        Error::RowNotFound => "row_not_found",
        Error::TypeNotFound { .. } => "type_not_found",
        Error::ColumnIndexOutOfBounds { .. } => "column_index_out_of_bounds",
        Error::ColumnNotFound(_) => "column_not_found",
        Error::ColumnDecode { .. } => "column_decode",
        Error::Encode(_) => "encode",
        Error::Decode(_) => "decode",
        Error::AnyDriverError(_) => "driver",
        Error::PoolTimedOut => "pool_timed_out",
        Error::PoolClosed => "pool_closed",
        Error::WorkerCrashed => "worker_crashed",
        Error::Migrate(_) => "migrate",
        Error::InvalidSavePointStatement => "invalid_savepoint_statement",
        Error::BeginFailed => "begin_failed",
        _ => "other",
    };
    StringValue::from(kind)
}

/// Records a failed call on the span in `cx` (see [`super::record_failure`]).
fn record_error(cx: &opentelemetry::Context, error: &::sqlx::Error) {
    super::record_failure(cx, error_type(error), error);
}
