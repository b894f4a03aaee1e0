//! `tracing` field values as typed span attributes, and the `otel.*` fields that steer a span.
//!
//! Values keep their type through maestro-trace's own attribute rules
//! ([`AttributeValue`], the one owner of the integer, float and string mappings): integers stay
//! integers, floats `f64`, booleans `bool`, strings strings; a `?debug` or `%display` value and
//! an error become the string it formats to. `otel.*` keys are reserved: the four that
//! tracing-opentelemetry reads steer the span, any other is not recorded.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt::{self, Write as _};

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::Key;
use tracing_core::field::{Field, Visit};

use crate::attributes::{self, AttributeValue};
use crate::finished::Attribute;

/// The field that renames the span (its `tracing` name is a compile-time constant).
pub(super) const NAME_FIELD: &str = "otel.name";
/// The field that sets the span kind: `server`, `client`, `producer`, `consumer`, `internal`.
pub(super) const KIND_FIELD: &str = "otel.kind";
/// The field that sets the status: `ok`, `error` (or `unset`), in any case.
pub(super) const STATUS_CODE_FIELD: &str = "otel.status_code";
/// The field that describes an Error status.
pub(super) const STATUS_DESCRIPTION_FIELD: &str = "otel.status_description";
/// The prefix reserved for fields that steer the span rather than describe it.
const RESERVED_PREFIX: &str = "otel.";
/// The field `tracing`'s event macros put the formatted message in.
const MESSAGE_FIELD: &str = "message";
/// The prefix of the fields tracing-log adds to a forwarded `log` record (its target, module,
/// file and line); the bridge reads them from the normalised metadata instead.
const LOG_PREFIX: &str = "log.";

/// What a span's `otel.*` fields ask for.
#[derive(Debug, Default)]
pub(super) struct SpanSteering {
    pub(super) name: Option<String>,
    pub(super) kind: Option<SpanKind>,
    code: Option<StatusCode>,
    description: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StatusCode {
    Unset,
    Ok,
    Error,
}

impl SpanSteering {
    /// The status the fields set, if they set one.
    pub(super) fn status(&mut self) -> Option<Status> {
        Some(match self.code? {
            StatusCode::Unset => Status::Unset,
            StatusCode::Ok => Status::Ok,
            StatusCode::Error => Status::error(self.description.take().unwrap_or_default()),
        })
    }

    fn steer(&mut self, key: &str, text: String) {
        match key {
            NAME_FIELD => self.name = Some(text),
            KIND_FIELD => self.kind = kind_of(&text).or(self.kind.take()),
            STATUS_CODE_FIELD => self.code = status_code_of(&text).or(self.code),
            STATUS_DESCRIPTION_FIELD => self.description = Some(text),
            _ => {}
        }
    }
}

fn kind_of(text: &str) -> Option<SpanKind> {
    [
        ("server", SpanKind::Server),
        ("client", SpanKind::Client),
        ("producer", SpanKind::Producer),
        ("consumer", SpanKind::Consumer),
        ("internal", SpanKind::Internal),
    ]
    .into_iter()
    .find_map(|(name, kind)| text.eq_ignore_ascii_case(name).then_some(kind))
}

fn status_code_of(text: &str) -> Option<StatusCode> {
    [
        ("unset", StatusCode::Unset),
        ("ok", StatusCode::Ok),
        ("error", StatusCode::Error),
    ]
    .into_iter()
    .find_map(|(name, code)| text.eq_ignore_ascii_case(name).then_some(code))
}

/// Where the fields of a span or an event go.
#[derive(Debug)]
pub(super) enum FieldsOf<'a> {
    /// A span's fields: `otel.*` steer it.
    Span(&'a mut SpanSteering),
    /// An event's fields: `message` names it, tracing-log's `log.*` are dropped.
    Event(&'a mut Option<String>),
}

/// A [`Visit`]or that turns fields into attributes.
#[derive(Debug)]
pub(super) struct FieldVisitor<'a> {
    pub(super) attributes: &'a mut Vec<Attribute>,
    pub(super) of: FieldsOf<'a>,
}

impl FieldVisitor<'_> {
    /// Whether `field` is not an attribute; if it steers, it is handed the text `text` makes.
    fn special(&mut self, field: &Field, text: impl FnOnce() -> String) -> bool {
        let name = field.name();
        match &mut self.of {
            FieldsOf::Span(steering) if name.starts_with(RESERVED_PREFIX) => {
                steering.steer(name, text());
                true
            }
            FieldsOf::Span(_) => false,
            FieldsOf::Event(message) if name == MESSAGE_FIELD => {
                **message = Some(text());
                true
            }
            FieldsOf::Event(_) => name.starts_with(RESERVED_PREFIX) || name.starts_with(LOG_PREFIX),
        }
    }

    fn push<V: AttributeValue + ?Sized>(&mut self, field: &Field, value: &V) {
        if let Some(attribute) = attributes::attribute(Key::from_static_str(field.name()), value) {
            self.attributes.push(attribute);
        }
    }

    /// Records what `value` formats to (with `Debug`) under `field`: copied into the attribute
    /// when it is short, else into a string of its exact length.
    fn push_formatted(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let attribute = with_debug_text(value, |text| {
            Attribute::text(Key::from_static_str(field.name()), text)
        });
        self.attributes.push(attribute);
    }
}

/// Formats `value` with `Debug` into a new string (what `%display` and `?debug` fields arrive as),
/// of its exact length.
fn debug_text(value: &dyn fmt::Debug) -> String {
    with_debug_text(value, str::to_owned)
}

/// Runs `f` on what `value` formats to with `Debug`.
///
/// The text is written into this thread's scratch buffer, so `f` can copy it once, at its
/// exact length, or not at all: formatting into a new `String` grows it a few bytes at a time
/// (a reallocation or two), and making the attribute value of it shrinks it again (one more).
fn with_debug_text<R>(value: &dyn fmt::Debug, f: impl Fn(&str) -> R) -> R {
    thread_local! {
        static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
    }
    /// Past this, the scratch buffer is not kept: one long value must not hold its memory.
    const KEEP: usize = 4096;
    let formatted = SCRATCH.try_with(|scratch| {
        // Taken already: a `Debug` impl that logs is being formatted inside this one.
        let mut scratch = scratch.try_borrow_mut().ok()?;
        scratch.clear();
        let _ = write!(scratch, "{value:?}");
        let made = f(scratch.as_str());
        if scratch.capacity() > KEEP {
            *scratch = String::new();
        }
        Some(made)
    });
    formatted.ok().flatten().unwrap_or_else(|| {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        f(&text)
    })
}

/// `Visit` methods for values that keep their type (see [`AttributeValue`]).
macro_rules! typed_fields {
    ($($method:ident: $t:ty),*) => {$(
        fn $method(&mut self, field: &Field, value: $t) {
            if !self.special(field, || value.to_string()) {
                self.push(field, &value);
            }
        }
    )*};
}

impl Visit for FieldVisitor<'_> {
    typed_fields!(record_f64: f64, record_i64: i64, record_u64: u64, record_i128: i128,
        record_u128: u128, record_bool: bool);

    fn record_str(&mut self, field: &Field, value: &str) {
        if !self.special(field, || value.to_owned()) {
            self.push(field, value);
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if !self.special(field, || value.to_string()) {
            // `Arguments`' `Debug` is the text it formats: here the error's `Display`.
            self.push_formatted(field, &format_args!("{value}"));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if !self.special(field, || debug_text(value)) {
            self.push_formatted(field, value);
        }
    }
}

/// The name of an event: its message, else its `tracing` name (`event src/lib.rs:12`).
pub(super) fn event_name(message: Option<String>, name: &'static str) -> Cow<'static, str> {
    match message {
        Some(message) => Cow::Owned(message),
        None => Cow::Borrowed(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatted_values_are_exact_copies_even_when_formatting_nests() {
        struct Nested;
        impl fmt::Debug for Nested {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // Formats a value of its own while the scratch buffer is taken.
                write!(f, "outer({})", debug_text(&"inner"))
            }
        }
        let text = debug_text(&Nested);
        assert_eq!(text, r#"outer("inner")"#);
        assert_eq!(text.capacity(), text.len(), "no slack to shrink away");
        let long = "x".repeat(10_000);
        assert_eq!(debug_text(&format_args!("{long}")), long);
        assert_eq!(debug_text(&3.5), "3.5");
    }

    #[test]
    fn steering_reads_codes_in_any_case() {
        assert_eq!(kind_of("SERVER"), Some(SpanKind::Server));
        assert_eq!(kind_of("Consumer"), Some(SpanKind::Consumer));
        assert_eq!(kind_of("sideways"), None);
        let mut steering = SpanSteering::default();
        steering.steer(STATUS_DESCRIPTION_FIELD, "model not found".into());
        steering.steer(STATUS_CODE_FIELD, "ERROR".into());
        assert_eq!(steering.status(), Some(Status::error("model not found")));
        let mut steering = SpanSteering::default();
        steering.steer(STATUS_CODE_FIELD, "Ok".into());
        assert_eq!(steering.status(), Some(Status::Ok));
        assert_eq!(SpanSteering::default().status(), None);
    }
}
