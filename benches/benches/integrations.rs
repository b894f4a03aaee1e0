//! Time per call of a query on SQLite in memory and of a Redis `GET` on a local server, bare and
//! through maestro-trace's `sqlx` and `redis` integrations, in one run.
//!
//! Groups are `{system}_{pipeline}`: `sqlite_sampled`, `sqlite_unsampled`, `sqlite_disabled`,
//! and the same for `redis`. Each measures the bare call (`bare`, on the `Pool` or the
//! multiplexed connection) and the instrumented one (`traced`) one right after the other. The
//! `sampled` groups also measure `span_only`, the bare call inside one sampled `span!` of its
//! own, what any client span costs before it looks at the statement, and `sqlite_sampled`
//! `two_spans`: the bare query inside the two spans the pool integration makes (the
//! statement's, and `acquire_connection` around the wait for the connection), without
//! attributes; what `traced` costs above that is reading the statement and the attributes. Every measured loop runs
//! inside a parent span `bench_request`: sampled (every span exported through maestro-trace's
//! batch processor into an exporter that discards), an unsampled root (`parent_based_ratio(0.0)`),
//! or nothing at all with tracing off.
//!
//! On a shared machine two groups measured seconds apart can see different loads, so after
//! criterion (under `cargo bench` only) every group is measured again in short rounds that run
//! its variants one right after the other, and each variant's median time and median ratio to
//! the bare call of the same round are printed to stderr (`INTERLEAVED_ROUNDS`, default 40; `0`
//! skips them; a filter that matches no group, `-- interleaved`, runs only these).
//!
//! Needs `redis-server` on `PATH`: the bench starts its own on a free loopback port and kills it
//! at the end.

use std::hint::black_box;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::Criterion;
use maestro_trace::{span, TraceFutureExt as _};
use maestro_trace_benches::{cpu, Setup};
use redis::aio::{ConnectionLike, MultiplexedConnection};
use sqlx::sqlite::{SqlitePool, SqlitePoolOptions};
use tokio::runtime::Runtime;

/// The pipelines, with the group-name suffix of each.
const PIPELINES: [(Setup, &str); 3] = [
    (Setup::MaestroSampled, "sampled"),
    (Setup::MaestroUnsampledRoot, "unsampled"),
    (Setup::MaestroDisabled, "disabled"),
];

/// The row every query reads.
const MODEL_ID: i64 = 2;
/// The key every `GET` reads.
const CACHE_KEY: &str = "model:bert-base";

#[derive(Clone, Copy, Debug)]
enum System {
    Sqlite,
    Redis,
}

impl System {
    const ALL: [System; 2] = [System::Sqlite, System::Redis];

    fn name(self) -> &'static str {
        match self {
            System::Sqlite => "sqlite",
            System::Redis => "redis",
        }
    }

    /// Calls per round of the interleaved comparison (a few tens of milliseconds each).
    fn calls_per_round(self) -> u64 {
        match self {
            System::Sqlite => 500,
            System::Redis => 500,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    /// The client's own call.
    Bare,
    /// The same call through maestro-trace's integration.
    Traced,
    /// The bare call inside one `span!` (no attributes) per call.
    SpanOnly,
    /// The bare query inside the two spans the integration makes (the statement's, and
    /// `acquire_connection` around the wait for the pooled connection), without attributes.
    TwoSpans,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Bare => "bare",
            Variant::Traced => "traced",
            Variant::SpanOnly => "span_only",
            Variant::TwoSpans => "two_spans",
        }
    }

    /// What the group of `system` under `setup` measures, the bare call first (`span_only` and
    /// `two_spans` only where spans are recorded; `two_spans` only for the pool).
    fn of(system: System, setup: Setup) -> &'static [Variant] {
        match (system, setup) {
            (System::Sqlite, Setup::MaestroSampled) => &[
                Variant::Bare,
                Variant::Traced,
                Variant::SpanOnly,
                Variant::TwoSpans,
            ],
            (System::Redis, Setup::MaestroSampled) => {
                &[Variant::Bare, Variant::Traced, Variant::SpanOnly]
            }
            _ => &[Variant::Bare, Variant::Traced],
        }
    }
}

/// A `redis-server` of the bench's own, killed when this drops.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts one on a free loopback port.
    ///
    /// # Panics
    /// If `redis-server` is not on `PATH` or cannot start.
    fn start() -> RedisServer {
        let port = match TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
            Ok(addr) => addr.port(),
            Err(e) => panic!("no free loopback port for redis-server: {e}"),
        };
        let spawned = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::null())
            .spawn();
        match spawned {
            Ok(child) => RedisServer { child, port },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "redis-server is not on PATH; the Redis rows of this bench need it \
                 (Debian: apt-get install -y redis-server)"
            ),
            Err(e) => panic!("cannot start redis-server: {e}"),
        }
    }

    /// A multiplexed connection, once the server accepts one (within 5 s).
    ///
    /// # Panics
    /// If the server exits or does not answer in time.
    async fn connect(&mut self) -> (redis::Client, MultiplexedConnection) {
        let url = format!("redis://127.0.0.1:{}/0", self.port);
        let client = match redis::Client::open(url.as_str()) {
            Ok(client) => client,
            Err(e) => panic!("bad Redis URL {url}: {e}"),
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match client.get_multiplexed_async_connection().await {
                Ok(conn) => return (client, conn),
                Err(e) => {
                    if let Ok(Some(status)) = self.child.try_wait() {
                        panic!("redis-server on port {} exited: {status}", self.port);
                    }
                    if Instant::now() > deadline {
                        panic!("redis-server on port {} does not answer: {e}", self.port);
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The clients every row calls: the same single-connection pool and the same Redis connection,
/// bare and wrapped.
struct Clients {
    pool: SqlitePool,
    traced_pool: maestro_trace::sqlx::TracedPool<sqlx::Sqlite>,
    cache: MultiplexedConnection,
    traced_cache: maestro_trace::redis::TracedConnection<MultiplexedConnection>,
}

impl Clients {
    /// An in-memory SQLite database with a small `models` table, and a Redis connection with
    /// [`CACHE_KEY`] set.
    ///
    /// # Panics
    /// If either cannot be set up.
    async fn connect(server: &mut RedisServer) -> Clients {
        // One connection that never closes: the in-memory database lives as long as it does.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect("sqlite::memory:")
            .await;
        let pool = match pool {
            Ok(pool) => pool,
            Err(e) => panic!("cannot open sqlite::memory: {e}"),
        };
        let created =
            sqlx::query("CREATE TABLE models (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
                .execute(&pool)
                .await;
        if let Err(e) = created {
            panic!("cannot create the models table: {e}");
        }
        for (id, name) in [(1, "resnet50"), (2, "bert-base"), (3, "gpt2")] {
            let inserted = sqlx::query("INSERT INTO models (id, name) VALUES (?, ?)")
                .bind(id)
                .bind(name)
                .execute(&pool)
                .await;
            if let Err(e) = inserted {
                panic!("cannot insert model {id}: {e}");
            }
        }
        let (client, mut cache) = server.connect().await;
        let set: redis::RedisResult<()> = redis::cmd("SET")
            .arg(CACHE_KEY)
            .arg(r#"{"id":2,"name":"bert-base"}"#)
            .query_async(&mut cache)
            .await;
        if let Err(e) = set {
            panic!("cannot SET {CACHE_KEY}: {e}");
        }
        Clients {
            traced_pool: maestro_trace::sqlx::instrument(pool.clone()),
            pool,
            traced_cache: maestro_trace::redis::instrument(
                cache.clone(),
                client.get_connection_info(),
            ),
            cache,
        }
    }

    /// Times `iters` calls of `variant` on `system`, inside a parent span `bench_request`.
    async fn time(&mut self, system: System, variant: Variant, iters: u64) -> Duration {
        async {
            let start = Instant::now();
            match (system, variant) {
                (System::Sqlite, Variant::Bare) => {
                    for _ in 0..iters {
                        black_box(find_model(&self.pool).await);
                    }
                }
                (System::Sqlite, Variant::Traced) => {
                    for _ in 0..iters {
                        black_box(find_model(&self.traced_pool).await);
                    }
                }
                (System::Sqlite, Variant::SpanOnly) => {
                    for _ in 0..iters {
                        black_box(find_model(&self.pool).in_span(span!("select_models")).await);
                    }
                }
                (System::Sqlite, Variant::TwoSpans) => {
                    for _ in 0..iters {
                        let query = async {
                            let conn = self.pool.acquire().in_span(span!("acquire_connection"));
                            match conn.await {
                                Ok(mut conn) => find_model(&mut *conn).await,
                                Err(e) => panic!("no pooled connection: {e}"),
                            }
                        };
                        black_box(query.in_span(span!("select_models")).await);
                    }
                }
                (System::Redis, Variant::TwoSpans) => {
                    unreachable!("the Redis integration makes one span per command")
                }
                (System::Redis, Variant::Bare) => {
                    for _ in 0..iters {
                        black_box(get(&mut self.cache).await);
                    }
                }
                (System::Redis, Variant::Traced) => {
                    for _ in 0..iters {
                        black_box(get(&mut self.traced_cache).await);
                    }
                }
                (System::Redis, Variant::SpanOnly) => {
                    for _ in 0..iters {
                        black_box(get(&mut self.cache).in_span(span!("redis_get")).await);
                    }
                }
            }
            start.elapsed()
        }
        .in_span(span!("bench_request"))
        .await
    }
}

/// The query: one row by its key.
async fn find_model<'e, E>(executor: E) -> (i64, String)
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    let row = sqlx::query_as("SELECT id, name FROM models WHERE id = ?")
        .bind(black_box(MODEL_ID))
        .fetch_one(executor)
        .await;
    match row {
        Ok(row) => row,
        Err(e) => panic!("the models query failed: {e}"),
    }
}

/// The command: `GET` of the cached model.
async fn get<C: ConnectionLike>(conn: &mut C) -> Option<String> {
    let value = redis::cmd("GET")
        .arg(black_box(CACHE_KEY))
        .query_async(conn)
        .await;
    match value {
        Ok(value) => value,
        Err(e) => panic!("GET {CACHE_KEY} failed: {e}"),
    }
}

/// The median of `values` (not empty).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Every group again, in `rounds` rounds that each time the bare call and then the other
/// variants right after it, the order rotated from round to round; prints each variant's median
/// time per call and the median of its per-round ratio to the bare call, and the same for the
/// CPU time per call of the calling thread and of the whole process (the calling thread, the
/// SQLite worker, the batching and export threads; not redis-server, a process of its own).
/// CPU time does not count the waits for another thread to wake up, which on an idle VM are most
/// of a bare call's wall time.
fn interleaved(rt: &Runtime, clients: &mut Clients, rounds: usize) {
    for (setup, label) in PIPELINES {
        let installed = setup.install();
        for system in System::ALL {
            let calls = system.calls_per_round();
            let variants = Variant::of(system, setup);
            let mut per_call = |variant| {
                let (caller, process) = (cpu::caller_ns(), cpu::process_ns());
                let elapsed = rt.block_on(clients.time(system, variant, calls));
                let per_call = |ns: u64| ns as f64 / calls as f64;
                [
                    per_call(elapsed.as_nanos() as u64),
                    per_call(cpu::caller_ns().saturating_sub(caller)),
                    per_call(cpu::process_ns().saturating_sub(process)),
                ]
            };
            // One round of warm-up, not kept.
            for &variant in variants {
                per_call(variant);
            }
            // [variant][wall, caller CPU, process CPU]: per call, and per-round ratios to bare.
            let mut times = vec![[(); 3].map(|()| Vec::with_capacity(rounds)); variants.len()];
            let mut ratios = times.clone();
            let mut round = vec![[0.0; 3]; variants.len()];
            for r in 0..rounds {
                for k in 0..variants.len() {
                    let i = (r + k) % variants.len();
                    round[i] = per_call(variants[i]);
                }
                for (i, measured) in round.iter().enumerate() {
                    for m in 0..3 {
                        times[i][m].push(measured[m]);
                        ratios[i][m].push(measured[m] / round[0][m].max(1.0));
                    }
                }
            }
            for (i, variant) in variants.iter().enumerate() {
                let [wall, caller, process] =
                    [0, 1, 2].map(|m| (median(&mut times[i][m]), median(&mut ratios[i][m])));
                eprintln!(
                    "interleaved {}_{label}/{}: {:.0} ns per call, {:.3}x bare; \
                     caller CPU {:.0} ns, {:.3}x; process CPU {:.0} ns, {:.3}x \
                     (medians of {rounds} rounds of {calls} calls)",
                    system.name(),
                    variant.name(),
                    wall.0,
                    wall.1,
                    caller.0,
                    caller.1,
                    process.0,
                    process.1,
                );
            }
        }
        installed.report_exported();
    }
}

fn main() {
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("no Tokio runtime: {e}"),
    };
    let mut server = RedisServer::start();
    let mut clients = rt.block_on(Clients::connect(&mut server));
    for (setup, label) in PIPELINES {
        let installed = setup.install();
        for system in System::ALL {
            let mut group = criterion.benchmark_group(format!("{}_{label}", system.name()));
            for &variant in Variant::of(system, setup) {
                group.bench_function(variant.name(), |b| {
                    b.iter_custom(|iters| rt.block_on(clients.time(system, variant, iters)))
                });
            }
            group.finish();
        }
        installed.report_exported();
    }
    let rounds = match std::env::var("INTERLEAVED_ROUNDS") {
        Ok(n) => match n.parse() {
            Ok(n) => n,
            Err(e) => panic!("INTERLEAVED_ROUNDS={n:?} is not a number: {e}"),
        },
        Err(_) => 40,
    };
    if rounds > 0 && std::env::args().any(|a| a == "--bench") {
        interleaved(&rt, &mut clients, rounds);
    }
    criterion.final_summary();
}
