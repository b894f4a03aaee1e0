//! W3C baggage of the current context: read entries, and set entries for a scope (a closure or
//! a future) so that the spans started there, and the requests sent from there, carry them.
//!
//! Entries are propagated by the W3C baggage propagator `init` installs, and
//! [`TracingConfig::baggage_span_attributes`](crate::TracingConfig::baggage_span_attributes)
//! copies the keys it names onto every span started in a context that carries them.
//!
//! ```
//! use maestro_trace::baggage;
//!
//! assert_eq!(baggage::get("tenant.id"), None);
//! let tenant = baggage::with(&[("tenant.id", "tenant-123")], || baggage::get("tenant.id"))?;
//! assert_eq!(tenant.as_deref(), Some("tenant-123"));
//! # Ok::<(), maestro_trace::baggage::BaggageError>(())
//! ```

use std::fmt;
use std::future::Future;

use opentelemetry::baggage::{Baggage, BaggageExt};
use opentelemetry::context::{FutureExt as _, WithContext};
use opentelemetry::Context;

/// The most bytes all entries of one baggage may take (keys, values and metadata), as the
/// W3C baggage specification limits a `baggage` header.
pub const MAX_BAGGAGE_BYTES: usize = 8192;
/// The most entries one baggage holds (the W3C specification's limit, and what the
/// OpenTelemetry `Baggage` type holds at most).
pub const MAX_BAGGAGE_ENTRIES: usize = 64;

/// Why an entry was refused; nothing of the refused set is applied.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BaggageError {
    /// The key is not a W3C baggage key (an HTTP token: visible ASCII without separators
    /// such as `,;=/:@()` and not empty).
    InvalidKey {
        /// The key given.
        key: String,
    },
    /// The baggage would grow over [`MAX_BAGGAGE_BYTES`] or [`MAX_BAGGAGE_ENTRIES`].
    TooLarge {
        /// The entry that did not fit.
        key: String,
    },
}

impl fmt::Display for BaggageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BaggageError::InvalidKey { key } => write!(
                f,
                "invalid baggage key {key:?}: expected a non-empty token of visible ASCII \
                 without `(),/:;<=>?@[\\]{{}}\"`"
            ),
            BaggageError::TooLarge { key } => write!(
                f,
                "baggage entry {key:?} does not fit: baggage holds at most \
                 {MAX_BAGGAGE_ENTRIES} entries and {MAX_BAGGAGE_BYTES} bytes"
            ),
        }
    }
}

impl std::error::Error for BaggageError {}

/// The value of `key` in the current context's baggage.
///
/// ```
/// use maestro_trace::baggage;
///
/// baggage::with(&[("tenant.id", "tenant-123")], || {
///     assert_eq!(baggage::get("tenant.id").as_deref(), Some("tenant-123"));
///     assert_eq!(baggage::get("user.id"), None);
/// })?;
/// # Ok::<(), maestro_trace::baggage::BaggageError>(())
/// ```
pub fn get(key: &str) -> Option<String> {
    Context::map_current(|cx| cx.baggage().get(key).map(|value| value.as_str().to_owned()))
}

/// Every entry of the current context's baggage, sorted by key.
///
/// ```
/// use maestro_trace::baggage;
///
/// let entries = baggage::with(&[("tenant.id", "tenant-123"), ("region", "eu-west-1")], baggage::entries)?;
/// assert_eq!(entries, [("region".to_owned(), "eu-west-1".to_owned()), ("tenant.id".to_owned(), "tenant-123".to_owned())]);
/// # Ok::<(), maestro_trace::baggage::BaggageError>(())
/// ```
pub fn entries() -> Vec<(String, String)> {
    let mut entries: Vec<(String, String)> = Context::map_current(|cx| {
        cx.baggage()
            .iter()
            .map(|(key, (value, _))| (key.as_str().to_owned(), value.as_str().to_owned()))
            .collect()
    });
    entries.sort();
    entries
}

/// The current context with `entries` added to its baggage (an entry replaces one of the same
/// key): for code that passes contexts on itself (a `parent =`, a thread).
///
/// ```
/// use maestro_trace::baggage::{self, BaggageError};
///
/// let cx = baggage::context_with(&[("tenant.id", "tenant-123")])?;
/// let _current = cx.attach();
/// assert_eq!(baggage::get("tenant.id").as_deref(), Some("tenant-123"));
///
/// let refused = baggage::context_with(&[("tenant id", "x")]).unwrap_err();
/// assert_eq!(refused, BaggageError::InvalidKey { key: "tenant id".into() });
/// # Ok::<(), BaggageError>(())
/// ```
pub fn context_with(entries: &[(&str, &str)]) -> Result<Context, BaggageError> {
    Context::map_current(|cx| {
        let mut baggage: Baggage = cx
            .baggage()
            .iter()
            .map(|(key, (value, metadata))| {
                opentelemetry::baggage::KeyValueMetadata::new(
                    key.clone(),
                    value.clone(),
                    metadata.clone(),
                )
            })
            .collect();
        for &(key, value) in entries {
            if !is_valid_key(key) {
                return Err(BaggageError::InvalidKey {
                    key: key.to_owned(),
                });
            }
            baggage.insert(key.to_owned(), value.to_owned());
            // `Baggage::insert` silently keeps the old state when a limit would be passed.
            if baggage.get(key).map(|v| v.as_str()) != Some(value) {
                return Err(BaggageError::TooLarge {
                    key: key.to_owned(),
                });
            }
        }
        Ok(cx.with_baggage(baggage))
    })
}

/// Runs `f` with `entries` added to the current baggage; spans started and requests sent
/// inside carry them. An invalid entry is refused before `f` runs. Values are any strings
/// (percent-encoded on the wire).
///
/// ```
/// use maestro_trace::baggage::{self, BaggageError};
///
/// let tenant = baggage::with(&[("tenant.id", "tenant-123")], || baggage::get("tenant.id"))?;
/// assert_eq!(tenant.as_deref(), Some("tenant-123"));
///
/// let refused = baggage::with(&[("tenant/id", "tenant-123")], || ());
/// assert!(matches!(refused, Err(BaggageError::InvalidKey { .. })));
/// # Ok::<(), BaggageError>(())
/// ```
pub fn with<R>(entries: &[(&str, &str)], f: impl FnOnce() -> R) -> Result<R, BaggageError> {
    let cx = context_with(entries)?;
    let _current = cx.attach();
    Ok(f())
}

/// `future` run with `entries` added to the current baggage during every poll.
///
/// Wrap the work in an `async` block: a `#[traced]` function called outside it has already
/// taken its parent context when it was called.
///
/// ```
/// use maestro_trace::baggage;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), baggage::BaggageError> {
/// let tenant = baggage::with_future(&[("tenant.id", "tenant-123")], async {
///     tokio::task::yield_now().await;
///     baggage::get("tenant.id")
/// })?
/// .await;
/// assert_eq!(tenant.as_deref(), Some("tenant-123"));
/// # Ok(()) }
/// ```
pub fn with_future<F: Future>(
    entries: &[(&str, &str)],
    future: F,
) -> Result<WithContext<F>, BaggageError> {
    Ok(future.with_context(context_with(entries)?))
}

/// Whether `key` is a W3C baggage key: an RFC 7230 token.
pub(crate) fn is_valid_key(key: &str) -> bool {
    const SEPARATORS: &[u8] = b"(),/:;<=>?@[\\]{}\"";
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_graphic() && !SEPARATORS.contains(&b))
}

/// Whether `b` may appear unencoded in a W3C baggage value (`baggage-octet`, less `%`, which
/// starts an escape).
pub(crate) fn is_value_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x24 | 0x26..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

/// `value` with every byte outside [`is_value_octet`] written as `%XX`.
pub(crate) fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if is_value_octet(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes; `None` for a malformed escape or invalid UTF-8.
pub(crate) fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_token_grammar() {
        assert!(is_valid_key("tenant.id"));
        assert!(is_valid_key("x-user_id~1"));
        for bad in ["", "tenant id", "a=b", "a,b", "a;b", "ü", "a/b", "a\"b"] {
            assert!(!is_valid_key(bad), "{bad:?} accepted");
        }
    }

    #[test]
    fn refused_entries_leave_the_context_unchanged() {
        let error = with(&[("tenant.id", "ok"), ("bad key", "x")], || ()).unwrap_err();
        assert_eq!(
            error,
            BaggageError::InvalidKey {
                key: "bad key".into()
            }
        );
        assert_eq!(get("tenant.id"), None);
        assert!(error.to_string().contains("\"bad key\""), "{error}");
    }

    #[test]
    fn percent_coding_round_trips_any_string() {
        for value in ["tenant-123", " 50% off; \"quoted\", \\ ", "café=ü,ok", ""] {
            let encoded = percent_encode(value);
            assert!(
                encoded.bytes().all(|b| is_value_octet(b) || b == b'%'),
                "{encoded}"
            );
            assert_eq!(percent_decode(&encoded).as_deref(), Some(value));
        }
        assert_eq!(
            percent_decode("eu%2Dwest%201").as_deref(),
            Some("eu-west 1")
        );
        assert_eq!(percent_decode("plain").as_deref(), Some("plain"));
        for bad in ["bad%2", "bad%zz", "bad%+1", "%FF"] {
            assert_eq!(percent_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn limits_are_refused_with_a_typed_error() {
        let big = "v".repeat(MAX_BAGGAGE_BYTES);
        assert_eq!(
            with(&[("blob", big.as_str())], || ()).unwrap_err(),
            BaggageError::TooLarge { key: "blob".into() }
        );
        let keys: Vec<String> = (0..=MAX_BAGGAGE_ENTRIES).map(|i| format!("k{i}")).collect();
        let entries: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "v")).collect();
        let last = keys.last().cloned().unwrap_or_default();
        assert_eq!(
            with(&entries, || ()).unwrap_err(),
            BaggageError::TooLarge { key: last }
        );
        assert!(with(&entries[..MAX_BAGGAGE_ENTRIES], || ()).is_ok());
    }

    #[test]
    fn nested_scopes_add_and_replace() {
        with(&[("tenant.id", "a"), ("region", "eu")], || {
            with(&[("tenant.id", "b")], || {
                assert_eq!(
                    entries(),
                    [
                        ("region".to_owned(), "eu".to_owned()),
                        ("tenant.id".to_owned(), "b".to_owned())
                    ]
                );
            })
        })
        .and_then(|inner| inner)
        .expect("valid entries");
    }
}
