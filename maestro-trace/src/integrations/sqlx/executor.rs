//! `&TracedPool` as an `Executor`: each statement is taken apart for its span (text, cached
//! statement, arguments), handed on to the pool or connection unchanged, and run inside its span.

use std::borrow::Cow;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use ::sqlx::error::BoxDynError;
use ::sqlx::pool::PoolConnection;
use ::sqlx::{Arguments as _, Database, Either, Error, Execute, Executor, Pool, SqlStr};
use futures_util::future::BoxFuture;
use futures_util::stream::{BoxStream, Stream, TryStreamExt as _};
use opentelemetry::trace::{SpanKind, TraceContextExt as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_semantic_conventions::attribute::DB_SYSTEM_NAME;
use pin_project_lite::pin_project;

use super::{record_error, DatabaseSystem, Endpoint, TracedPool};
use crate::integrations::{end_cancelled, InClientSpan, Parent};

/// `db.response.returned_rows`: still experimental in the semantic conventions, so not among
/// the stable constants of `opentelemetry-semantic-conventions`.
const DB_RESPONSE_RETURNED_ROWS: &str = "db.response.returned_rows";

/// The name of the span that covers the wait for a pooled connection.
pub(super) const ACQUIRE_SPAN: &str = "acquire_connection";

/// A query on its way to the database: as the caller gave it (nothing to record), or taken apart
/// with its span started.
pub(super) enum Statement<E, DB: Database> {
    Untraced(E),
    Traced(Prepared<DB>, Context),
}

impl<'q, E: Execute<'q, DB>, DB: Database> Statement<E, DB> {
    /// Starts the span of `query`, if one is to be recorded (see [`Parent::current`]).
    pub(super) fn start(endpoint: &Endpoint, mut query: E) -> Self {
        let Some(parent) = Parent::current() else {
            return Statement::Untraced(query);
        };
        let statement = query.statement().cloned();
        let persistent = query.persistent();
        let arguments = query.take_arguments();
        // Bound values are in the arguments, not the text: the text is safe to record as is.
        // Without any (a plain `&str`, a query nothing was bound to) literals may be values.
        let parameterised = match &arguments {
            Ok(Some(arguments)) => arguments.len() > 0,
            Ok(None) => false,
            Err(_) => true,
        };
        let sql = query.sql();
        let cx = endpoint.start_statement(parent, sql.as_str(), parameterised);
        let prepared = Prepared {
            sql,
            statement,
            arguments: Some(arguments),
            persistent,
        };
        Statement::Traced(prepared, cx)
    }
}

/// What a query said about itself, given back to the executor that runs it.
pub(super) struct Prepared<DB: Database> {
    sql: SqlStr,
    statement: Option<DB::Statement>,
    arguments: Option<Result<Option<DB::Arguments>, BoxDynError>>,
    persistent: bool,
}

impl<'q, DB: Database> Execute<'q, DB> for Prepared<DB> {
    fn sql(self) -> SqlStr {
        self.sql
    }

    fn statement(&self) -> Option<&DB::Statement> {
        self.statement.as_ref()
    }

    fn take_arguments(&mut self) -> Result<Option<DB::Arguments>, BoxDynError> {
        self.arguments.take().unwrap_or(Ok(None))
    }

    fn persistent(&self) -> bool {
        self.persistent
    }
}

/// Records what a call returned: its error, if any.
pub(super) fn record_done<T>(output: &Result<T, Error>, cx: &Context) {
    if let Err(error) = output {
        record_error(cx, error);
    }
}

fn record_rows<R>(output: &Result<Vec<R>, Error>, cx: &Context) {
    match output {
        Ok(rows) => set_returned_rows(cx, rows.len()),
        Err(error) => record_error(cx, error),
    }
}

pub(super) fn record_optional<R>(output: &Result<Option<R>, Error>, cx: &Context) {
    match output {
        Ok(row) => set_returned_rows(cx, usize::from(row.is_some())),
        Err(error) => record_error(cx, error),
    }
}

fn set_returned_rows(cx: &Context, rows: usize) {
    let rows = i64::try_from(rows).unwrap_or(i64::MAX);
    cx.span()
        .set_attribute(KeyValue::new(DB_RESPONSE_RETURNED_ROWS, rows));
}

/// Takes a connection from `pool` inside an [`ACQUIRE_SPAN`] span (under the current one: the
/// statement's), so the time spent waiting for it shows.
pub(super) async fn acquire<DB: DatabaseSystem>(
    pool: &Pool<DB>,
) -> Result<PoolConnection<DB>, Error> {
    let Some(parent) = Parent::current() else {
        return pool.acquire().await;
    };
    let attributes = vec![KeyValue::new(DB_SYSTEM_NAME, DB::SYSTEM)];
    let cx = parent.start(Cow::Borrowed(ACQUIRE_SPAN), SpanKind::Internal, attributes);
    InClientSpan::new(pool.acquire(), cx, record_done).await
}

/// Runs `query` with `run` on a connection from `pool` (waited for in an [`ACQUIRE_SPAN`]),
/// inside the statement's span held by `cx`; `record` writes the outcome onto it.
fn on_pooled<'e, DB, T>(
    pool: &Pool<DB>,
    query: Prepared<DB>,
    cx: Context,
    record: fn(&Result<T, Error>, &Context),
    run: impl for<'c> FnOnce(&'c mut DB::Connection, Prepared<DB>) -> BoxFuture<'c, Result<T, Error>>
        + Send
        + 'e,
) -> BoxFuture<'e, Result<T, Error>>
where
    DB: DatabaseSystem,
    T: Send + 'e,
{
    let pool = pool.clone();
    let run = async move {
        let mut conn = acquire(&pool).await?;
        run(&mut *conn, query).await
    };
    Box::pin(InClientSpan::new(run, cx, record))
}

pin_project! {
    /// The rows (and results) of a statement, read inside its span; the span ends with the
    /// stream (recording how many rows came back) or at its first error.
    pub(super) struct RowStream<S> {
        #[pin]
        inner: S,
        cx: Option<Context>,
        rows: usize,
    }

    impl<S> PinnedDrop for RowStream<S> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(cx) = this.project().cx.take() {
                end_cancelled(&cx);
            }
        }
    }
}

impl<S> RowStream<S> {
    pub(super) fn new(inner: S, cx: Context) -> Self {
        RowStream {
            inner,
            cx: Some(cx),
            rows: 0,
        }
    }
}

impl<S, Q, R> Stream for RowStream<S>
where
    S: Stream<Item = Result<Either<Q, R>, Error>>,
{
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        let Some(cx) = this.cx.as_ref() else {
            return this.inner.poll_next(task);
        };
        let item = {
            let _current = cx.clone().attach();
            match this.inner.poll_next(task) {
                Poll::Ready(item) => item,
                Poll::Pending => return Poll::Pending,
            }
        };
        match &item {
            Some(Ok(Either::Right(_))) => *this.rows += 1,
            Some(Ok(Either::Left(_))) => {}
            Some(Err(error)) => {
                if let Some(cx) = this.cx.take() {
                    record_error(&cx, error);
                    crate::span::end(&cx);
                }
            }
            None => {
                if let Some(cx) = this.cx.take() {
                    set_returned_rows(&cx, *this.rows);
                    crate::span::end(&cx);
                }
            }
        }
        Poll::Ready(item)
    }
}

impl<'p, DB> Executor<'p> for &'_ TracedPool<DB>
where
    DB: DatabaseSystem,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    type Database = DB;

    fn execute<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<DB::QueryResult, Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, DB>,
    {
        match Statement::start(&self.endpoint, query) {
            Statement::Untraced(query) => self.pool.execute(query),
            Statement::Traced(query, cx) => {
                on_pooled(&self.pool, query, cx, record_done, |conn, query| {
                    conn.execute(query)
                })
            }
        }
    }

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<DB::QueryResult, DB::Row>, Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, DB>,
    {
        match Statement::start(&self.endpoint, query) {
            Statement::Untraced(query) => self.pool.fetch_many(query),
            Statement::Traced(query, cx) => {
                // The connection is waited for (in its `acquire_connection` span, under the
                // statement's: the row stream polls with the statement's context current), then
                // the rows read from it, in one stream that owns the connection.
                let pool = self.pool.clone();
                let rows = async_stream::try_stream! {
                    let mut conn = acquire(&pool).await?;
                    let mut rows = conn.fetch_many(query);
                    while let Some(row) = rows.try_next().await? {
                        yield row;
                    }
                };
                Box::pin(RowStream::new(rows, cx))
            }
        }
    }

    fn fetch_all<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<Vec<DB::Row>, Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, DB>,
    {
        match Statement::start(&self.endpoint, query) {
            Statement::Untraced(query) => self.pool.fetch_all(query),
            Statement::Traced(query, cx) => {
                on_pooled(&self.pool, query, cx, record_rows, |conn, query| {
                    conn.fetch_all(query)
                })
            }
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, DB>,
    {
        match Statement::start(&self.endpoint, query) {
            Statement::Untraced(query) => self.pool.fetch_optional(query),
            Statement::Traced(query, cx) => {
                on_pooled(&self.pool, query, cx, record_optional, |conn, query| {
                    conn.fetch_optional(query)
                })
            }
        }
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [DB::TypeInfo],
    ) -> BoxFuture<'e, Result<DB::Statement, Error>>
    where
        'p: 'e,
    {
        self.pool.prepare_with(sql, parameters)
    }

    #[doc(hidden)]
    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<::sqlx::Describe<DB>, Error>>
    where
        'p: 'e,
    {
        self.pool.describe(sql)
    }
}
