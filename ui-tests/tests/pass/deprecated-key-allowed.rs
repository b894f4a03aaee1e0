#![deny(warnings)]
#![deny(deprecated)]
// Every deprecated key below is allowed where it is written, so the crate-wide `deny` never fires.

use maestro_trace::{span, traced};

#[allow(deprecated)]
#[traced("handle_prediction", kind = server, attrs(http.method = method))]
fn handle_prediction(method: &str) -> usize {
    method.len()
}

#[allow(deprecated)]
fn save(query: &str) {
    span!("save_to_database", db.statement = query).in_scope(|| {});
}

// `span!` / `event!` are expressions: an `allow` goes on the enclosing function (rustc ignores
// lint attributes on a macro invocation statement).
#[allow(deprecated)]
fn emit_legacy_status() {
    maestro_trace::event!("legacy_response_sent", http.status_code = 200);
}

// Modules named like a key's first segment do not clash with what the warnings expand to.
mod http {}
mod db {}

mod legacy {
    use maestro_trace::span_attrs;

    // An `allow` on the struct also covers the warning `#[span_attrs]` emits for its keys.
    #[allow(deprecated)]
    #[span_attrs(prefix = "http")]
    pub(crate) struct LegacyRequestAttrs {
        pub(crate) status_code: i64,
    }
}

pub(crate) fn main() {
    let capture = maestro_trace::testing::capture();
    assert_eq!(handle_prediction("POST"), 4);
    save("SELECT 1");
    span!("send_legacy_response").in_scope(emit_legacy_status);
    let attrs = maestro_trace::attributes_of(&legacy::LegacyRequestAttrs { status_code: 200 });
    assert_eq!(attrs[0].key.as_str(), "http.status_code");
    let span = capture.span("handle_prediction");
    assert_eq!(span.attr_str("http.method").as_deref(), Some("POST"));
    assert_eq!(
        capture
            .span("save_to_database")
            .attr_str("db.statement")
            .as_deref(),
        Some("SELECT 1")
    );
    assert_eq!(
        capture
            .span("send_legacy_response")
            .event("legacy_response_sent")
            .name(),
        "legacy_response_sent"
    );
}
