//! Log lines of `tracing-subscriber`'s fmt layer, text and JSON, carry the trace and span ids of
//! the span they are written in (a maestro-trace span or a bridged `tracing` span), as Jaeger
//! shows them; lines outside any span carry none.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use maestro_trace::testing::{self, CapturedSpan};
use maestro_trace::{span, traced};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;

/// Where the fmt layer writes, for the test to read back.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Lines {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The one line containing `text`.
    fn line(&self, text: &str) -> String {
        let lines = self.lines();
        let found: Vec<_> = lines.iter().filter(|l| l.contains(text)).collect();
        assert_eq!(found.len(), 1, "one line with {text:?} in {lines:#?}");
        found[0].clone()
    }
}

impl io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Lines {
    type Writer = Lines;

    fn make_writer(&'a self) -> Lines {
        self.clone()
    }
}

#[traced("score_request")]
fn score() {
    tracing::info!(rows = 2, "scoring in a traced span");
}

/// What a service does: a traced function, a `tracing` span, an event with an explicit parent,
/// and a line outside any span.
fn run() {
    score();
    tracing::info_span!("load_model").in_scope(|| {
        tracing::warn!("cache cold in a bridged span");
        span!("read_weights").in_scope(|| tracing::info!("reading in a nested maestro span"));
    });
    let upload = tracing::info_span!("store_upload");
    tracing::info!(parent: &upload, "stored with an explicit parent");
    drop(upload);
    tracing::info!("idle outside any span");
}

fn text_ids(span: &CapturedSpan) -> String {
    format!("trace_id={} span_id={}", span.trace_id(), span.span_id())
}

#[test]
fn text_lines_carry_the_ids_of_their_span() {
    let capture = testing::capture();
    let lines = Lines::default();
    let subscriber = tracing_subscriber::registry()
        .with(maestro_trace::tracing::layer())
        .with(
            maestro_trace::tracing::fmt_layer()
                .with_ansi(false)
                .with_writer(lines.clone()),
        );
    tracing::subscriber::with_default(subscriber, run);

    for (text, span) in [
        ("scoring in a traced span", "score_request"),
        ("cache cold in a bridged span", "load_model"),
        ("reading in a nested maestro span", "read_weights"),
        ("stored with an explicit parent", "store_upload"),
    ] {
        let line = lines.line(text);
        assert!(line.ends_with(&text_ids(&capture.span(span))), "{line}");
    }
    assert!(lines.line("scoring in a traced span").contains("rows=2"));
    let idle = lines.line("idle outside any span");
    assert!(
        !idle.contains("trace_id") && !idle.contains("span_id"),
        "{idle}"
    );
    // Jaeger's form: lowercase hex, 32 and 16 digits.
    let id = capture.span("load_model").trace_id().to_string();
    assert_eq!(id.len(), 32);
    assert!(id
        .chars()
        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
}

#[test]
fn json_lines_carry_the_ids_as_keys() {
    let capture = testing::capture();
    let lines = Lines::default();
    let subscriber = tracing_subscriber::registry()
        .with(maestro_trace::tracing::layer())
        .with(maestro_trace::tracing::json_fmt_layer().with_writer(lines.clone()));
    tracing::subscriber::with_default(subscriber, run);

    let parse = |text: &str| -> serde_json::Value {
        let line = lines.line(text);
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    };
    for (text, span) in [
        ("scoring in a traced span", "score_request"),
        ("cache cold in a bridged span", "load_model"),
        ("reading in a nested maestro span", "read_weights"),
        ("stored with an explicit parent", "store_upload"),
    ] {
        let line = parse(text);
        let span = capture.span(span);
        assert_eq!(line["trace_id"], span.trace_id().to_string(), "{line}");
        assert_eq!(line["span_id"], span.span_id().to_string(), "{line}");
        assert_eq!(line["fields"]["message"], text, "{line}");
    }
    assert_eq!(parse("scoring in a traced span")["fields"]["rows"], 2);
    let idle = parse("idle outside any span");
    assert!(
        idle.get("trace_id").is_none() && idle.get("span_id").is_none(),
        "{idle}"
    );
}

#[test]
fn a_users_own_fmt_configuration_keeps_its_settings() {
    let capture = testing::capture();
    let lines = Lines::default();
    let subscriber = tracing_subscriber::registry()
        .with(maestro_trace::tracing::layer())
        .with(
            tracing_subscriber::fmt::layer()
                .compact()
                .without_time()
                .with_target(false)
                .with_ansi(false)
                .with_writer(lines.clone())
                .map_event_format(maestro_trace::tracing::with_trace_ids),
        );
    tracing::subscriber::with_default(subscriber, run);

    let bridged = lines.line("cache cold in a bridged span");
    assert_eq!(
        bridged,
        format!(
            " WARN load_model: cache cold in a bridged span {}",
            text_ids(&capture.span("load_model"))
        )
    );
    assert_eq!(
        lines.line("idle outside any span"),
        " INFO idle outside any span"
    );
}

async fn get_model(path: actix_web::web::Path<String>) -> actix_web::HttpResponse {
    tracing::info!(model.id = %path, "model served");
    actix_web::HttpResponse::Ok().finish()
}

#[actix_web::test]
async fn a_request_log_line_and_the_trace_id_header_lead_to_the_same_trace() {
    use actix_web::{test as actix_test, web, App};
    use maestro_trace::TracingMiddleware;

    let capture = testing::capture();
    let lines = Lines::default();
    let _subscriber = tracing::subscriber::set_default(
        tracing_subscriber::registry()
            .with(maestro_trace::tracing::layer())
            .with(maestro_trace::tracing::json_fmt_layer().with_writer(lines.clone())),
    );
    let service = actix_test::init_service(
        App::new()
            .wrap(TracingMiddleware::default().trace_id_response_header("x-trace-id"))
            .route("/models/{id}", web::get().to(get_model)),
    )
    .await;
    let response = actix_test::call_service(
        &service,
        actix_test::TestRequest::get()
            .uri("/models/bert-base")
            .to_request(),
    )
    .await;
    let header = response
        .headers()
        .get("x-trace-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    drop(response);

    let server = capture.span("GET /models/{id}");
    let line: serde_json::Value =
        serde_json::from_str(&lines.line("model served")).expect("a JSON line");
    assert_eq!(line["trace_id"], server.trace_id().to_string(), "{line}");
    assert_eq!(line["span_id"], server.span_id().to_string(), "{line}");
    assert_eq!(line["fields"]["model.id"], "bert-base", "{line}");
    assert_eq!(header, Some(server.trace_id().to_string()));
}
