//! Transactions and pooled connections whose statements are traced: `begin()` is a `BEGIN`
//! span, `commit()` and `rollback()` are `COMMIT` and `ROLLBACK` spans, and `&mut *tx` is an
//! `Executor` as it is for sqlx's own transaction.

use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use ::sqlx::pool::PoolConnection;
use ::sqlx::{Connection, Database, Either, Error, Execute, Executor, SqlStr, Transaction};
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;

use super::executor::{acquire, record_done, RowStream, Statement};
use super::{DatabaseSystem, Endpoint, TracedPool};
use crate::integrations::{InClientSpan, Parent};

/// A connection (pooled, or the one a transaction holds) whose statements are traced:
/// `&mut TracedConnection` is an [`sqlx::Executor`].
pub struct TracedConnection<C> {
    conn: C,
    endpoint: Arc<Endpoint>,
}

impl<C> TracedConnection<C> {
    /// The connection itself (statements run on it directly are not traced).
    pub fn inner(&mut self) -> &mut C {
        &mut self.conn
    }
}

impl<C: fmt::Debug> fmt::Debug for TracedConnection<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedConnection")
            .field("conn", &self.conn)
            .finish_non_exhaustive()
    }
}

/// A sqlx transaction whose statements are traced; run them with `&mut *tx`, as with sqlx's
/// own [`Transaction`]. Dropped without `commit()`, it is rolled back, as sqlx's is.
#[derive(Debug)]
pub struct TracedTransaction<'c, DB: Database> {
    conn: TracedConnection<Transaction<'c, DB>>,
}

impl<DB: DatabaseSystem> TracedPool<DB> {
    /// Starts a transaction on a connection from the pool, in a `BEGIN` span; the wait for the
    /// connection is an `acquire_connection` span inside it.
    pub async fn begin(&self) -> Result<TracedTransaction<'static, DB>, Error> {
        let tx = match Parent::current() {
            None => self.pool.begin().await?,
            Some(parent) => {
                let cx = self.endpoint.start_operation(parent, "BEGIN");
                // What `Pool::begin` does, in two steps so that the wait shows on its own.
                // `Transaction::begin` is public but hidden from sqlx's docs: its driver crates
                // call it through `impl_acquire!`, so it moves only with sqlx's own releases.
                let begin = async {
                    let conn = acquire(&self.pool).await?;
                    Transaction::begin(conn, None).await
                };
                InClientSpan::new(begin, cx, record_done).await?
            }
        };
        Ok(TracedTransaction {
            conn: TracedConnection {
                conn: tx,
                endpoint: Arc::clone(&self.endpoint),
            },
        })
    }

    /// Takes a connection from the pool (an `acquire_connection` span) whose statements are
    /// traced, for several statements on one connection.
    pub async fn acquire(&self) -> Result<TracedConnection<PoolConnection<DB>>, Error> {
        Ok(TracedConnection {
            conn: acquire(&self.pool).await?,
            endpoint: Arc::clone(&self.endpoint),
        })
    }
}

impl<'c, DB: DatabaseSystem> TracedTransaction<'c, DB> {
    /// Commits the transaction, in a `COMMIT` span.
    pub async fn commit(self) -> Result<(), Error> {
        self.end("COMMIT", Transaction::commit).await
    }

    /// Rolls the transaction back, in a `ROLLBACK` span.
    pub async fn rollback(self) -> Result<(), Error> {
        self.end("ROLLBACK", Transaction::rollback).await
    }

    /// Ends the transaction with `end` (sqlx's commit or rollback) in a span named `operation`.
    async fn end<F>(
        self,
        operation: &'static str,
        end: impl FnOnce(Transaction<'c, DB>) -> F,
    ) -> Result<(), Error>
    where
        F: Future<Output = Result<(), Error>>,
    {
        let TracedConnection { conn: tx, endpoint } = self.conn;
        match Parent::current() {
            None => end(tx).await,
            Some(parent) => {
                let cx = endpoint.start_operation(parent, operation);
                InClientSpan::new(end(tx), cx, record_done).await
            }
        }
    }
}

impl<'c, DB: Database> Deref for TracedTransaction<'c, DB> {
    type Target = TracedConnection<Transaction<'c, DB>>;

    fn deref(&self) -> &Self::Target {
        &self.conn
    }
}

impl<DB: Database> DerefMut for TracedTransaction<'_, DB> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.conn
    }
}

impl<'t, C> Executor<'t> for &'t mut TracedConnection<C>
where
    C: DerefMut + Send + fmt::Debug,
    C::Target: Connection,
    <C::Target as Connection>::Database: DatabaseSystem,
    for<'c> &'c mut C::Target: Executor<'c, Database = <C::Target as Connection>::Database>,
{
    type Database = <C::Target as Connection>::Database;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<
        'e,
        Result<
            Either<<Self::Database as Database>::QueryResult, <Self::Database as Database>::Row>,
            Error,
        >,
    >
    where
        't: 'e,
        E: 'q + Execute<'q, Self::Database>,
    {
        let TracedConnection { conn, endpoint } = self;
        match Statement::start(endpoint, query) {
            Statement::Untraced(query) => (&mut **conn).fetch_many(query),
            Statement::Traced(query, cx) => {
                Box::pin(RowStream::new((&mut **conn).fetch_many(query), cx))
            }
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<<Self::Database as Database>::Row>, Error>>
    where
        't: 'e,
        E: 'q + Execute<'q, Self::Database>,
    {
        let TracedConnection { conn, endpoint } = self;
        match Statement::start(endpoint, query) {
            Statement::Untraced(query) => (&mut **conn).fetch_optional(query),
            Statement::Traced(query, cx) => Box::pin(InClientSpan::new(
                (&mut **conn).fetch_optional(query),
                cx,
                super::executor::record_optional,
            )),
        }
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [<Self::Database as Database>::TypeInfo],
    ) -> BoxFuture<'e, Result<<Self::Database as Database>::Statement, Error>>
    where
        't: 'e,
    {
        (&mut *self.conn).prepare_with(sql, parameters)
    }

    #[doc(hidden)]
    fn describe<'e>(
        self,
        sql: SqlStr,
    ) -> BoxFuture<'e, Result<::sqlx::Describe<Self::Database>, Error>>
    where
        't: 'e,
    {
        (&mut *self.conn).describe(sql)
    }
}
