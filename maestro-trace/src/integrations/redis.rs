//! Client spans for every command and pipeline sent over a redis async connection (cargo
//! feature `redis`): a multiplexed connection or a connection manager, wrapped once where it is
//! made; commands (`AsyncCommands`, `redis::cmd(..).query_async`) and pipelines stay as they are.
//!
//! ```no_run
//! use redis::AsyncCommands as _;
//!
//! # async fn run() -> redis::RedisResult<()> {
//! let client = redis::Client::open("redis://127.0.0.1:6379/0")?;
//! let conn = client.get_multiplexed_async_connection().await?;
//! let mut cache = maestro_trace::redis::instrument(conn, client.get_connection_info());
//!
//! let _: () = cache.set_ex("model:bert-base", "{..}", 60).await?;   // span `SET`
//! let card: Option<String> = cache.get("model:bert-base").await?;    // span `GET`
//! let (hits,): (i64,) = redis::pipe().atomic().incr("hits", 1).query_async(&mut cache).await?; // span `MULTI`
//! # Ok(()) }
//! ```
//!
//! Each span is of kind Client, a child of the span current when the command is sent, and
//! follows the stable database semantic conventions:
//!
//! - name and `db.operation.name`: the command (`GET`, `SET`), `PIPELINE` for a pipeline and
//!   `MULTI` for an atomic one (with `db.operation.batch.size`, the number of commands);
//! - `db.system.name` = `redis`, `db.namespace` = the database index (`"0"`), `server.address`
//!   and `server.port` (TCP connections);
//! - `db.query.text`: the command with every argument after its name replaced by `?`
//!   (`SET ? ?`; keys and values can be personal data), the commands of a pipeline joined by
//!   `; `;
//! - a Redis error reply (of the command, or of any command of a pipeline) or a failed or broken
//!   connection: status Error, an `exception` event, and `error.type`, the reply's code
//!   (`WRONGTYPE`, `ERR`) or the failure's kind (`io`, `connection_dropped`, ...). The caller
//!   gets the client's result unchanged.
//!
//! With tracing off, or under a parent the sampler drops, the command goes to the connection as
//! it is: nothing is allocated and the command is not looked at.

use std::borrow::Cow;
use std::sync::Arc;

use ::redis::aio::ConnectionLike;
use ::redis::{
    Arg, Cmd, ConnectionAddr, ConnectionInfo, ErrorKind, Pipeline, RedisError, RedisFuture,
    RedisResult, Value,
};
use opentelemetry::trace::SpanKind;
use opentelemetry::{Context, KeyValue, StringValue};
use opentelemetry_semantic_conventions::attribute::{
    DB_NAMESPACE, DB_OPERATION_NAME, DB_QUERY_TEXT, DB_SYSTEM_NAME, SERVER_ADDRESS, SERVER_PORT,
};

use super::{record_failure, shared, InClientSpan, Parent};

/// `db.system.name` of every span here, and the name of a span whose command has no name.
const SYSTEM: &str = "redis";

/// `db.operation.batch.size` (not among the crate's stable constants).
const DB_OPERATION_BATCH_SIZE: &str = "db.operation.batch.size";

/// Wraps `conn` (made from a client with `info`) so that every command and pipeline sent over it
/// is a client span (see the [module docs](self)).
pub fn instrument<C: ConnectionLike>(conn: C, info: &ConnectionInfo) -> TracedConnection<C> {
    TracedConnection::new(conn, info)
}

/// A redis async connection whose commands are traced: a [`ConnectionLike`] itself, so
/// `AsyncCommands`, `Cmd::query_async` and `Pipeline::query_async` take it as they take the
/// connection. Cloning it clones the connection (a multiplexed connection or a connection
/// manager shares one socket between clones).
#[derive(Clone, Debug)]
pub struct TracedConnection<C> {
    conn: C,
    server: Arc<Server>,
}

/// Where the server is and which database the connection uses, read once when it is wrapped.
#[derive(Debug)]
struct Server {
    namespace: StringValue,
    address: Option<StringValue>,
    port: Option<i64>,
}

impl<C: ConnectionLike> TracedConnection<C> {
    /// Wraps `conn`, made from a client with `info` (`client.get_connection_info()`).
    pub fn new(conn: C, info: &ConnectionInfo) -> Self {
        let (address, port) = match info.addr() {
            ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
                (Some(shared(host)), Some(i64::from(*port)))
            }
            _ => (None, None),
        };
        TracedConnection {
            server: Arc::new(Server {
                namespace: shared(&conn.get_db().to_string()),
                address,
                port,
            }),
            conn,
        }
    }

    /// The connection itself (commands sent on it directly are not traced).
    pub fn inner(&mut self) -> &mut C {
        &mut self.conn
    }

    /// The attributes every span has, with room for `more`.
    fn attributes(&self, more: usize) -> Vec<KeyValue> {
        let mut attributes = Vec::with_capacity(4 + more);
        attributes.push(KeyValue::new(DB_SYSTEM_NAME, SYSTEM));
        attributes.push(KeyValue::new(DB_NAMESPACE, self.server.namespace.clone()));
        if let Some(address) = &self.server.address {
            attributes.push(KeyValue::new(SERVER_ADDRESS, address.clone()));
        }
        if let Some(port) = self.server.port {
            attributes.push(KeyValue::new(SERVER_PORT, port));
        }
        attributes
    }

    fn start_command(&self, parent: Parent, cmd: &Cmd) -> Context {
        let mut text = String::new();
        let name = describe(cmd, &mut text);
        let mut attributes = self.attributes(2);
        let name = match name {
            Some(operation) => {
                let operation = operation.into_owned();
                attributes.push(KeyValue::new(DB_OPERATION_NAME, operation.clone()));
                Cow::Owned(operation)
            }
            None => Cow::Borrowed(SYSTEM),
        };
        attributes.push(KeyValue::new(DB_QUERY_TEXT, text));
        parent.start(name, SpanKind::Client, attributes)
    }

    fn start_pipeline(&self, parent: Parent, pipeline: &Pipeline) -> Context {
        let operation = if pipeline.is_transaction() {
            "MULTI"
        } else {
            "PIPELINE"
        };
        let mut text = String::new();
        for (i, cmd) in pipeline.cmd_iter().enumerate() {
            if i > 0 {
                text.push_str("; ");
            }
            describe(cmd, &mut text);
        }
        let mut attributes = self.attributes(3);
        attributes.push(KeyValue::new(DB_OPERATION_NAME, operation));
        attributes.push(KeyValue::new(
            DB_OPERATION_BATCH_SIZE,
            i64::try_from(pipeline.len()).unwrap_or(i64::MAX),
        ));
        attributes.push(KeyValue::new(DB_QUERY_TEXT, text));
        parent.start(Cow::Borrowed(operation), SpanKind::Client, attributes)
    }
}

/// Writes `cmd` to `text` as recorded (its name, then `?` for every argument) and returns its
/// name in upper case: `None` when it has none that reads as a command name.
fn describe<'a>(cmd: &'a Cmd, text: &mut String) -> Option<Cow<'a, str>> {
    let mut args = cmd.args_iter();
    let name = match args.next() {
        Some(Arg::Simple(name)) => std::str::from_utf8(name)
            .ok()
            .filter(|n| {
                !n.is_empty()
                    && n.len() <= 64
                    && n.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'|')
            })
            .map(|n| {
                if n.bytes().any(|b| b.is_ascii_lowercase()) {
                    Cow::Owned(n.to_ascii_uppercase())
                } else {
                    Cow::Borrowed(n)
                }
            }),
        _ => None,
    };
    text.push_str(name.as_deref().unwrap_or("?"));
    for _ in args {
        text.push_str(" ?");
    }
    name
}

/// `error.type` of a failure: the server's error code where there is one, else its kind.
fn error_type(error: &RedisError) -> StringValue {
    if let Some(code) = error.code() {
        return StringValue::from(code.to_owned());
    }
    let kind = if error.is_connection_dropped() {
        "connection_dropped"
    } else if error.is_timeout() {
        "timeout"
    } else {
        match error.kind() {
            ErrorKind::Io => "io",
            ErrorKind::Parse => "parse",
            ErrorKind::AuthenticationFailed => "authentication_failed",
            ErrorKind::UnexpectedReturnType => "unexpected_return_type",
            ErrorKind::InvalidClientConfig => "invalid_client_config",
            ErrorKind::Client => "client",
            _ => "other",
        }
    };
    StringValue::from(kind)
}

fn record_reply(output: &RedisResult<Value>, cx: &Context) {
    match output {
        Ok(Value::ServerError(reply)) => record_failure(cx, reply.code().to_owned(), reply),
        Ok(_) => {}
        Err(error) => record_failure(cx, error_type(error), error),
    }
}

fn record_replies(output: &RedisResult<Vec<Value>>, cx: &Context) {
    match output {
        Ok(replies) => {
            // A pipeline answers each command: the first error reply marks the whole span.
            let error = replies.iter().find_map(|reply| match reply {
                Value::ServerError(error) => Some(error),
                Value::Array(items) => items.iter().find_map(|item| match item {
                    Value::ServerError(error) => Some(error),
                    _ => None,
                }),
                _ => None,
            });
            if let Some(error) = error {
                record_failure(cx, error.code().to_owned(), error);
            }
        }
        Err(error) => record_failure(cx, error_type(error), error),
    }
}

impl<C: ConnectionLike + Send> ConnectionLike for TracedConnection<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let Some(parent) = Parent::current() else {
            return self.conn.req_packed_command(cmd);
        };
        let cx = self.start_command(parent, cmd);
        Box::pin(InClientSpan::new(
            self.conn.req_packed_command(cmd),
            cx,
            record_reply,
        ))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let Some(parent) = Parent::current() else {
            return self.conn.req_packed_commands(pipeline, offset, count);
        };
        let cx = self.start_pipeline(parent, pipeline);
        Box::pin(InClientSpan::new(
            self.conn.req_packed_commands(pipeline, offset, count),
            cx,
            record_replies,
        ))
    }

    fn get_db(&self) -> i64 {
        self.conn.get_db()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described(cmd: &Cmd) -> (Option<String>, String) {
        let mut text = String::new();
        let name = describe(cmd, &mut text).map(Cow::into_owned);
        (name, text)
    }

    #[test]
    fn commands_are_named_in_upper_case_with_every_argument_hidden() {
        let mut set = ::redis::cmd("set");
        set.arg("model:bert-base").arg("secret").arg("EX").arg(60);
        assert_eq!(
            described(&set),
            (Some("SET".to_owned()), "SET ? ? ? ?".to_owned())
        );
        assert_eq!(
            described(&::redis::cmd("PING")),
            (Some("PING".to_owned()), "PING".to_owned())
        );
        let mut subcommand = ::redis::cmd("CLIENT");
        subcommand.arg("SETNAME").arg("api");
        assert_eq!(described(&subcommand).1, "CLIENT ? ?");
    }

    #[test]
    fn a_command_without_a_readable_name_is_named_by_the_system() {
        let mut binary = ::redis::cmd("");
        binary.arg("x");
        assert_eq!(described(&binary), (None, "? ?".to_owned()));
        let mut spaced = ::redis::cmd("GET key");
        spaced.arg("x");
        assert_eq!(described(&spaced), (None, "? ?".to_owned()));
        assert_eq!(described(&::redis::Cmd::new()), (None, "?".to_owned()));
    }
}
