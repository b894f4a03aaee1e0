//! W3C Trace Context as the specification's test suite checks it (Level 2, its default
//! strictness): a traced service receives `traceparent` and `tracestate`, and what it sends on
//! from inside its handler must continue the trace and carry the `tracestate` it was given, or
//! none when the specification says to discard it.

use std::collections::HashMap;

use actix_web::{test, web, App, HttpResponse};
use maestro_trace::otel::{global, Context};
use maestro_trace::{testing, TracingMiddleware};

const TRACE_ID: &str = "12345678901234567890123456789012";
const TRACEPARENT: &str = "00-12345678901234567890123456789012-1234567890123456-00";

/// The headers the handler would send on an outgoing call: `traceparent`, then `tracestate`.
async fn forward() -> HttpResponse {
    let mut headers = HashMap::new();
    global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&Context::current(), &mut headers);
    });
    let get = |name: &str| headers.get(name).cloned().unwrap_or_default();
    HttpResponse::Ok().body(format!("{}\n{}", get("traceparent"), get("tracestate")))
}

/// The `tracestate` the service sends on for `tracestate` headers received with a valid
/// `traceparent`, checking that the trace was continued.
async fn forwarded(tracestate: &[&str]) -> String {
    let _capture = testing::capture();
    let service = test::init_service(
        App::new()
            .wrap(TracingMiddleware::default())
            .route("/forward", web::get().to(forward)),
    )
    .await;
    let mut request = test::TestRequest::get()
        .uri("/forward")
        .insert_header(("traceparent", TRACEPARENT));
    for value in tracestate {
        request = request.append_header(("tracestate", *value));
    }
    let body = test::call_and_read_body(&service, request.to_request()).await;
    let body = String::from_utf8_lossy(&body).into_owned();
    let (traceparent, tracestate) = body.split_once('\n').unwrap_or((&body, ""));
    assert_eq!(
        traceparent.split('-').nth(1),
        Some(TRACE_ID),
        "the trace is continued whatever the tracestate ({tracestate:?})"
    );
    tracestate.to_owned()
}

/// The members of a `tracestate` header, in order.
fn members(tracestate: &str) -> Vec<(String, String)> {
    tracestate
        .split(',')
        .filter(|m| !m.trim().is_empty())
        .filter_map(|m| m.trim().split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn value_of(tracestate: &str, key: &str) -> Option<String> {
    members(tracestate)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

#[actix_web::test]
async fn keys_with_at_signs_anywhere_after_the_first_character_are_inherited() {
    for key in ["foo@", "foo@@bar", "foo@bar@baz", "tenant@vendor"] {
        let state = forwarded(&[&format!("{key}=1,bar=2")]).await;
        assert_eq!(
            value_of(&state, key).as_deref(),
            Some("1"),
            "{key}: {state}"
        );
        assert_eq!(
            value_of(&state, "bar").as_deref(),
            Some("2"),
            "{key}: {state}"
        );
    }
    let state = forwarded(&["@foo=1,bar=2"]).await;
    assert_eq!(
        state, "",
        "a key starting with `@` discards the whole tracestate"
    );
}

#[actix_web::test]
async fn keys_of_up_to_256_characters_are_inherited_whatever_their_at_signs() {
    let long = "z".repeat(256);
    let at_14 = format!("{}@{}", "t".repeat(241), "v".repeat(14));
    let at_end = format!("{}@v", "t".repeat(242));
    let system_15 = format!("t@{}", "v".repeat(15));
    for key in [&long, &at_14, &at_end, &system_15] {
        let state = forwarded(&["foo=1", &format!("{key}=1")]).await;
        assert_eq!(
            value_of(&state, "foo").as_deref(),
            Some("1"),
            "{key}: {state}"
        );
        assert_eq!(
            value_of(&state, key).as_deref(),
            Some("1"),
            "{key}: {state}"
        );
    }
    let state = forwarded(&["foo=1", &format!("{}=1", "z".repeat(257))]).await;
    assert_eq!(
        state, "",
        "a 257-character key discards the whole tracestate"
    );
}

#[actix_web::test]
async fn a_duplicated_key_is_inherited_with_one_of_its_members() {
    for headers in [
        &["foo=1,foo=1"][..],
        &["foo=1,foo=2"],
        &["foo=1", "foo=1"],
        &["foo=1", "foo=2"],
    ] {
        let state = forwarded(headers).await;
        let foo: Vec<String> = members(&state)
            .into_iter()
            .filter(|(k, _)| k == "foo")
            .map(|(_, v)| v)
            .collect();
        assert!(
            foo == ["1"] || foo == ["1", "1"] || foo == ["1", "2"] || foo == ["2"],
            "{headers:?} -> {state:?}"
        );
    }
}

#[actix_web::test]
async fn what_the_specification_rejects_discards_the_whole_tracestate() {
    for invalid in [
        "foo =1,bar=2",
        "FOO=1,bar=2",
        "foo.bar=1,bar=2",
        "foo=bar=baz,bar=2",
        "foo=,bar=2",
    ] {
        assert_eq!(forwarded(&[invalid]).await, "", "{invalid:?}");
    }
    let members: Vec<String> = (1..=33).map(|i| format!("bar{i:02}={i:02}")).collect();
    assert_eq!(
        forwarded(&[&members[..30].join(","), &members[30..].join(",")]).await,
        "",
        "33 members"
    );
    assert_eq!(
        forwarded(&[&members[..30].join(","), &members[30..32].join(",")]).await,
        members[..32].join(","),
        "32 members are inherited in order"
    );
    assert_eq!(
        forwarded(&["foo=1 \t , \t bar=2, \t baz=3"]).await,
        "foo=1,bar=2,baz=3",
        "optional whitespace around members"
    );
}
