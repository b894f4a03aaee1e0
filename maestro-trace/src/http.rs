//! The HTTP rules server spans ([`TracingMiddleware`](crate::TracingMiddleware)) and client spans
//! ([`client`](crate::client)) share, so both directions record a request the same way.
//!
//! # Redaction
//!
//! One policy for both directions: the value of a query parameter named in
//! [`DEFAULT_REDACTED_QUERY_PARAMS`] or configured as an extra one (the middleware's
//! `redact_query_params`, the clients' [`client::redact_query_params`](crate::client)) is recorded
//! as [`REDACTED`], its name kept; names are compared ASCII case-insensitively (`Token`, `TOKEN`
//! and `token` are one parameter). A URL's userinfo becomes `REDACTED:REDACTED` (`REDACTED`
//! without a password). The headers a server span captures are redacted with the same marker.

use std::borrow::Cow;

use opentelemetry::KeyValue;
use opentelemetry_semantic_conventions::attribute::{
    HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL,
};

/// What a redacted value (a query parameter's, a header's, a URL's userinfo) is recorded as: the
/// marker the HTTP semantic conventions use for `url.full`.
pub const REDACTED: &str = "REDACTED";

/// Query parameters whose values are recorded as [`REDACTED`], whatever is configured (names
/// compared case-insensitively): credentials, and the signatures of pre-signed URLs the HTTP
/// semantic conventions name (AWS, Azure, Google Cloud).
pub const DEFAULT_REDACTED_QUERY_PARAMS: [&str; 15] = [
    "access_token",
    "api_key",
    "apikey",
    "auth",
    "client_secret",
    "code",
    "password",
    "secret",
    "sig",
    "signature",
    "token",
    "x-amz-credential",
    "x-amz-security-token",
    "x-amz-signature",
    "x-goog-signature",
];

/// The query parameters one direction redacts: [`DEFAULT_REDACTED_QUERY_PARAMS`] and the extra
/// names configured (see the [module docs](self)).
#[derive(Clone, Debug)]
pub(crate) struct QueryRedaction {
    /// Extra names, trimmed, never empty.
    extra: Vec<Box<str>>,
}

impl Default for QueryRedaction {
    fn default() -> Self {
        QueryRedaction::new()
    }
}

impl QueryRedaction {
    /// The defaults only.
    pub(crate) const fn new() -> Self {
        QueryRedaction { extra: Vec::new() }
    }

    /// Also redacts `names` (surrounding blanks trimmed, empty names ignored).
    pub(crate) fn extend<I: IntoIterator<Item = S>, S: AsRef<str>>(&mut self, names: I) {
        self.extra.extend(names.into_iter().filter_map(|n| {
            Some(n.as_ref().trim())
                .filter(|n| !n.is_empty())
                .map(Box::from)
        }));
    }

    /// Whether the value of the parameter `name` is a secret.
    pub(crate) fn redacts(&self, name: &str) -> bool {
        DEFAULT_REDACTED_QUERY_PARAMS
            .iter()
            .any(|p| p.eq_ignore_ascii_case(name))
            || self.extra.iter().any(|p| p.eq_ignore_ascii_case(name))
    }

    /// The name of a `name=value` pair whose value must be redacted.
    fn secret_name<'p>(&self, pair: &'p str) -> Option<&'p str> {
        let (name, _) = pair.split_once('=')?;
        self.redacts(name).then_some(name)
    }

    /// `query` (without its `?`) with the values of secret parameters replaced by [`REDACTED`];
    /// borrowed when there is none.
    #[cfg(feature = "actix")]
    pub(crate) fn query<'q>(&self, query: &'q str) -> Cow<'q, str> {
        if !query
            .split('&')
            .any(|pair| self.secret_name(pair).is_some())
        {
            return Cow::Borrowed(query);
        }
        let mut out = String::with_capacity(query.len());
        self.push_query(query, &mut out);
        Cow::Owned(out)
    }

    fn push_query(&self, query: &str, out: &mut String) {
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match self.secret_name(pair) {
                Some(name) => {
                    out.push_str(name);
                    out.push('=');
                    out.push_str(REDACTED);
                }
                None => out.push_str(pair),
            }
        }
    }

    /// An absolute URL as `url.full` records it: userinfo and the values of secret query
    /// parameters replaced by [`REDACTED`]; borrowed when there is nothing to redact.
    #[cfg(any(feature = "awc", feature = "reqwest"))]
    pub(crate) fn url<'u>(&self, url: &'u str) -> Cow<'u, str> {
        let authority_start = url.find("://").map_or(0, |i| i + 3);
        let rest = &url[authority_start..];
        let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let userinfo = rest[..authority_len].rfind('@').map(|at| &rest[..at]);

        let after_authority = authority_start + authority_len;
        let fragment_start = url[after_authority..]
            .find('#')
            .map_or(url.len(), |i| after_authority + i);
        let query = url[after_authority..fragment_start]
            .find('?')
            .map(|i| after_authority + i + 1)
            .map(|start| (start, &url[start..fragment_start]));
        let secret_query = query.is_some_and(|(_, query)| {
            query
                .split('&')
                .any(|pair| self.secret_name(pair).is_some())
        });
        if userinfo.is_none() && !secret_query {
            return Cow::Borrowed(url);
        }

        let mut out = String::with_capacity(url.len());
        out.push_str(&url[..authority_start]);
        match userinfo {
            Some(userinfo) => {
                out.push_str(REDACTED);
                if userinfo.contains(':') {
                    out.push(':');
                    out.push_str(REDACTED);
                }
                out.push_str(&rest[userinfo.len()..authority_len]);
            }
            None => out.push_str(&rest[..authority_len]),
        }
        match query {
            Some((query_start, query)) if secret_query => {
                out.push_str(&url[after_authority..query_start]);
                self.push_query(query, &mut out);
                out.push_str(&url[fragment_start..]);
            }
            _ => out.push_str(&url[after_authority..]),
        }
        Cow::Owned(out)
    }
}

/// The request method as the HTTP semantic conventions record it: pushes `http.request.method`
/// (`_OTHER` plus `http.request.method_original` for a method outside the known set) onto
/// `attributes`.
pub(crate) fn record_method<A: From<KeyValue>>(method: &str, attributes: &mut Vec<A>) {
    match known_method(method) {
        Some(known) => attributes.push(KeyValue::new(HTTP_REQUEST_METHOD, known).into()),
        None => {
            attributes.push(KeyValue::new(HTTP_REQUEST_METHOD, "_OTHER").into());
            attributes.push(KeyValue::new(HTTP_REQUEST_METHOD_ORIGINAL, method.to_owned()).into());
        }
    }
}

/// What a span name starts with for `method`: the method if the conventions know it, else `HTTP`.
pub(crate) fn span_method(method: &str) -> &'static str {
    known_method(method).unwrap_or("HTTP")
}

/// The methods the semantic conventions know (RFC 9110, RFC 5789's `PATCH` and the `QUERY`
/// draft), as static strings; `None` for any other (case-sensitive: `get` is not `GET`).
pub(crate) fn known_method(method: &str) -> Option<&'static str> {
    Some(match method {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        "QUERY" => "QUERY",
        _ => return None,
    })
}

/// The status description of a span whose response failed, as the HTTP semantic conventions
/// leave it to say what the code means: `HTTP 404 Not Found` (`HTTP 599` for a code without a
/// standard reason phrase).
pub(crate) fn status_description(status: u16) -> String {
    match ::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason())
    {
        Some(reason) => format!("HTTP {status} {reason}"),
        None => format!("HTTP {status}"),
    }
}

/// `network.protocol.version` for a `Version` of any `http` crate (actix-web and awc use `http`
/// 0.2, reqwest `http` 1): `protocol_version!(version, Version)` is `Option<&'static str>`.
macro_rules! protocol_version {
    ($version:expr, $ty:ty) => {
        match $version {
            <$ty>::HTTP_09 => Some("0.9"),
            <$ty>::HTTP_10 => Some("1.0"),
            <$ty>::HTTP_11 => Some("1.1"),
            <$ty>::HTTP_2 => Some("2"),
            <$ty>::HTTP_3 => Some("3"),
            _ => None,
        }
    };
}
pub(crate) use protocol_version;

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(extra: &[&str]) -> QueryRedaction {
        let mut policy = QueryRedaction::new();
        policy.extend(extra);
        policy
    }

    #[test]
    #[cfg(feature = "actix")]
    fn query_values_of_secrets_are_redacted_names_kept_case_insensitively() {
        let policy = policy(&["session"]);
        assert_eq!(
            policy.query("model=bert&Token=abc&session=s1&flag&api_key=k&X-Amz-Signature=x"),
            "model=bert&Token=REDACTED&session=REDACTED&flag&api_key=REDACTED&X-Amz-Signature=REDACTED"
        );
        assert!(matches!(policy.query(""), Cow::Borrowed("")));
        assert!(matches!(policy.query("page=2"), Cow::Borrowed("page=2")));
    }

    #[test]
    #[cfg(any(feature = "awc", feature = "reqwest"))]
    fn urls_without_secrets_are_borrowed_unchanged() {
        for url in [
            "http://127.0.0.1:8080/models/42",
            "https://registry.example.com/models?name=bert&page=2#top",
            "https://[::1]:8443/",
            "http://example.com",
            // An `@` in the path is not userinfo.
            "http://example.com/users/@alice",
        ] {
            assert!(
                matches!(policy(&[]).url(url), Cow::Borrowed(u) if u == url),
                "{url}"
            );
        }
    }

    #[test]
    #[cfg(any(feature = "awc", feature = "reqwest"))]
    fn credentials_are_redacted() {
        let policy = policy(&[]);
        assert_eq!(
            policy.url("https://alice:s3cret@registry.example.com:8443/models?x=1"),
            "https://REDACTED:REDACTED@registry.example.com:8443/models?x=1"
        );
        assert_eq!(
            policy.url("http://token@example.com/"),
            "http://REDACTED@example.com/"
        );
        assert_eq!(
            policy.url("http://a:b@example.com"),
            "http://REDACTED:REDACTED@example.com"
        );
    }

    #[test]
    #[cfg(any(feature = "awc", feature = "reqwest"))]
    fn url_query_values_are_redacted_as_in_url_query() {
        let policy = policy(&["session"]);
        assert_eq!(
            policy.url("https://bucket.s3.amazonaws.com/w.bin?X-Amz-Signature=abc&color=blue&SIG=def&Session=1#frag"),
            "https://bucket.s3.amazonaws.com/w.bin?X-Amz-Signature=REDACTED&color=blue&SIG=REDACTED&Session=REDACTED#frag"
        );
        assert_eq!(
            policy.url("https://u:p@host/?token=1"),
            "https://REDACTED:REDACTED@host/?token=REDACTED"
        );
        // A `?` after the fragment starts no query.
        assert!(matches!(
            policy.url("https://host/#a?token=1"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn failed_statuses_are_described_with_their_reason() {
        assert_eq!(status_description(404), "HTTP 404 Not Found");
        assert_eq!(status_description(503), "HTTP 503 Service Unavailable");
        assert_eq!(status_description(599), "HTTP 599");
    }

    #[test]
    fn unknown_methods_are_other_and_named_http() {
        assert_eq!(span_method("QUERY"), "QUERY");
        assert_eq!(span_method("get"), "HTTP");
        assert_eq!(span_method("PROPFIND"), "HTTP");
        let mut attributes: Vec<KeyValue> = Vec::new();
        for method in ["QUERY", "get", "PROPFIND"] {
            record_method(method, &mut attributes);
        }
        let values: Vec<String> = attributes.iter().map(|kv| kv.value.to_string()).collect();
        assert_eq!(values, ["QUERY", "_OTHER", "get", "_OTHER", "PROPFIND"]);
    }
}
