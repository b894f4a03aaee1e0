//! Typed span attributes: what a value may be, and how structs become attribute groups.
//!
//! The recorded OpenTelemetry type follows the Rust type alone, never the value, so an
//! attribute keeps one type on every span (see [`AttributeValue`] for the mapping).

use std::borrow::Cow;
use std::rc::Rc;
use std::sync::Arc;

use opentelemetry::{Array, Key, KeyValue, StringValue, Value};

use crate::finished::{self, Attribute};

/// A value that can be recorded as a span attribute.
///
/// Implemented for `&str`, `String`, the integer and float types, `bool`, slices and `Vec`s of
/// those, and `Option<T>` (where `None` records nothing). Used by `#[traced(attrs(key = expr))]`,
/// `span!`, `event!` and [`Recorder::attr`].
///
/// The OpenTelemetry type is chosen by the Rust type alone, whatever the value, so a dashboard
/// or query sees one type per attribute:
///
/// | Rust type | OpenTelemetry type |
/// |---|---|
/// | `&str`, `String`, `Cow<str>`, `Arc<str>`, `Rc<str>` | String |
/// | `bool` | Boolean |
/// | `i8`, `i16`, `i32`, `i64`, `u8`, `u16`, `u32`, `isize` | Int (exact) |
/// | `u64`, `usize` | Int; a value above `i64::MAX` is clamped to `i64::MAX` |
/// | `i128`, `u128` | String (the exact decimal), for every value |
/// | `f32`, `f64` | Double |
/// | `[T]`, `[T; N]`, `Vec<T>` | an array of `T`'s type, element by element as above |
/// | `Option<T>` | `T`'s type; `None` records nothing |
///
/// OpenTelemetry's Int is a signed 64-bit integer: an unsigned 64-bit value past its range
/// saturates rather than switching type, and 128-bit integers, which no Int can hold, are
/// always strings (a float would round them).
///
/// ```
/// use maestro_trace::otel::Value;
/// use maestro_trace::AttributeValue;
///
/// assert_eq!(42_u16.to_value(), Some(Value::I64(42)));
/// assert_eq!(u64::MAX.to_value(), Some(Value::I64(i64::MAX)));
/// assert_eq!(7_u128.to_value(), Some(Value::from("7")));
/// assert_eq!(None::<&str>.to_value(), None);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be recorded as a span attribute",
    label = "`{Self}` is not an attribute value",
    note = "attribute values are `&str`, `String`, integers, floats, `bool`, slices or `Vec`s of those, or `Option` of those",
    note = "a `#[span_attrs]` struct is recorded with `#[span_attr(flatten)]` on the field that holds it, or named bare in `attrs(...)`; any other type: record one of its fields"
)]
pub trait AttributeValue {
    /// The OpenTelemetry value, or `None` when nothing should be recorded (an empty `Option`).
    fn to_value(&self) -> Option<Value>;

    /// The value's text when it is a string: a span copies it into its own buffer instead of
    /// making a `Value` of it (which allocates). Implemented by the string types only.
    #[doc(hidden)]
    fn as_text(&self) -> Option<&str> {
        None
    }
}

/// `value` under `key` as a span of ours records it (a short string copied into the attribute,
/// any other value as its `Value`); `None` when nothing should be recorded.
pub(crate) fn attribute<V: AttributeValue + ?Sized>(key: Key, value: &V) -> Option<Attribute> {
    match value.as_text() {
        Some(text) if text.len() <= finished::SHORT => Some(Attribute::text(key, text)),
        _ => value.to_value().map(|value| Attribute::new(key, value)),
    }
}

/// An element type of an array attribute (`&[T]`, `Vec<T>`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an element of an array span attribute",
    note = "array attributes hold `&str`, `String`, integers, floats or `bool`"
)]
pub trait ArrayElement: Sized {
    /// Builds the typed array from a slice of elements.
    fn to_array(items: &[Self]) -> Array;
}

/// A struct whose fields become a group of span attributes: implemented by `#[span_attrs]`.
///
/// ```
/// use maestro_trace::{span_attrs, SpanAttributes};
///
/// #[span_attrs(prefix = "tenant")]
/// struct Tenant {
///     id: String,
///     tier: &'static str,
/// }
///
/// let tenant = Tenant { id: "tenant-123".into(), tier: "premium" };
/// let attributes = maestro_trace::attributes_of(&tenant);
/// assert_eq!(attributes[0].key.as_str(), "tenant.id");
/// assert_eq!(attributes[1].value.as_str(), "premium");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a group of span attributes",
    label = "`{Self}` does not implement `SpanAttributes`",
    note = "put `#[span_attrs]` on a struct to record its fields as attributes",
    note = "a field marked `#[span_attr(flatten)]` must hold a `#[span_attrs]` struct; to record the value as one attribute, remove `flatten`"
)]
pub trait SpanAttributes {
    /// Writes every attribute of `self` into the recorder.
    fn record_attributes(&self, recorder: &mut Recorder<'_>);

    /// How many attributes `record_attributes` writes at most: room for them is reserved at
    /// once. `#[span_attrs]` counts the recorded fields; 0 (the default) reserves nothing.
    fn attribute_count(&self) -> usize {
        0
    }
}

/// An argument named bare in `#[traced(attrs(arg))]`: a `#[span_attrs]` struct records all of its
/// attributes, any other value records one attribute named after the argument.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be recorded as span attributes",
    label = "neither an attribute value nor a `#[span_attrs]` struct",
    note = "attribute values are `&str`, `String`, integers, floats, `bool`, slices or `Vec`s of those, or `Option` of those",
    note = "derive attributes for a struct with `#[span_attrs]`, or record one field: `attrs(key = arg.field)`"
)]
pub trait RecordArg {
    /// Records `self` under `name` (plain values) or under its own keys (attribute structs).
    fn record_arg(&self, name: &'static str, recorder: &mut Recorder<'_>);
}

/// Collects the attributes that a value records, in order; handed to [`SpanAttributes`].
#[derive(Debug)]
pub struct Recorder<'a> {
    out: &'a mut Vec<Attribute>,
}

impl<'a> Recorder<'a> {
    pub(crate) fn new(out: &'a mut Vec<Attribute>) -> Self {
        Recorder { out }
    }

    /// Records `value` under `key`; an empty `Option` records nothing.
    pub fn attr<V: AttributeValue + ?Sized>(&mut self, key: &'static str, value: &V) {
        if let Some(attribute) = attribute(Key::from_static_str(key), value) {
            self.out.push(attribute);
        }
    }

    /// Records a `'static` string under `key` (no copy of the string).
    pub(crate) fn attr_static(&mut self, key: &'static str, value: &'static str) {
        self.out.push(Attribute::new(
            Key::from_static_str(key),
            Value::from(value),
        ));
    }

    /// Records every attribute of a `#[span_attrs]` struct.
    pub fn attrs<A: SpanAttributes + ?Sized>(&mut self, group: &A) {
        self.out.reserve(group.attribute_count());
        group.record_attributes(self);
    }

    /// Records a bare `attrs(arg)` argument (see [`RecordArg`]).
    pub fn arg<A: RecordArg + ?Sized>(&mut self, name: &'static str, arg: &A) {
        arg.record_arg(name, self);
    }
}

/// The attributes a `#[span_attrs]` value records, as OpenTelemetry key-values.
///
/// Useful to put a group on something that is not a span: a resource, a metric, a log.
pub fn attributes_of<A: SpanAttributes + ?Sized>(group: &A) -> Vec<KeyValue> {
    let mut out = Vec::new();
    Recorder::new(&mut out).attrs(group);
    finished::key_values(out)
}

impl<T: AttributeValue + ?Sized> AttributeValue for &T {
    fn to_value(&self) -> Option<Value> {
        (**self).to_value()
    }

    fn as_text(&self) -> Option<&str> {
        (**self).as_text()
    }
}

impl<T: AttributeValue + ?Sized> AttributeValue for &mut T {
    fn to_value(&self) -> Option<Value> {
        (**self).to_value()
    }

    fn as_text(&self) -> Option<&str> {
        (**self).as_text()
    }
}

impl<T: AttributeValue> AttributeValue for Option<T> {
    fn to_value(&self) -> Option<Value> {
        self.as_ref().and_then(AttributeValue::to_value)
    }

    fn as_text(&self) -> Option<&str> {
        self.as_ref().and_then(AttributeValue::as_text)
    }
}

impl AttributeValue for str {
    fn to_value(&self) -> Option<Value> {
        Some(Value::String(StringValue::from(self.to_owned())))
    }

    fn as_text(&self) -> Option<&str> {
        Some(self)
    }
}

/// The string types forward to `str`, except `Arc<str>`'s `Value`, which shares the string.
macro_rules! string_type {
    ($($t:ty),*) => {$(
        impl AttributeValue for $t {
            fn to_value(&self) -> Option<Value> {
                (**self).to_value()
            }

            fn as_text(&self) -> Option<&str> {
                Some(self)
            }
        }
    )*};
}
string_type!(String, Cow<'_, str>, Rc<str>);

impl AttributeValue for Arc<str> {
    fn to_value(&self) -> Option<Value> {
        Some(Value::String(StringValue::from(Arc::clone(self))))
    }

    fn as_text(&self) -> Option<&str> {
        Some(self)
    }
}

impl AttributeValue for bool {
    fn to_value(&self) -> Option<Value> {
        Some(Value::Bool(*self))
    }
}

impl ArrayElement for bool {
    fn to_array(items: &[Self]) -> Array {
        Array::Bool(items.to_vec())
    }
}

impl ArrayElement for String {
    fn to_array(items: &[Self]) -> Array {
        Array::String(items.iter().map(|s| StringValue::from(s.clone())).collect())
    }
}

impl ArrayElement for &str {
    fn to_array(items: &[Self]) -> Array {
        Array::String(
            items
                .iter()
                .map(|s| StringValue::from((*s).to_owned()))
                .collect(),
        )
    }
}

/// Integers that always fit an `i64`: recorded as `Value::I64`, exactly.
macro_rules! lossless_int {
    ($($t:ty),*) => {$(
        impl AttributeValue for $t {
            fn to_value(&self) -> Option<Value> {
                Some(Value::I64(i64::from(*self)))
            }
        }
        impl ArrayElement for $t {
            fn to_array(items: &[Self]) -> Array {
                Array::I64(items.iter().map(|v| i64::from(*v)).collect())
            }
        }
    )*};
}
lossless_int!(i8, i16, i32, i64, u8, u16, u32);

/// Integers of at most 64 bits that `i64` may not hold: recorded as `Value::I64` clamped to its
/// range (`u64`/`usize` above `i64::MAX` become `i64::MAX`; `isize` always fits on 64-bit and
/// smaller targets). The type never depends on the value.
macro_rules! clamped_int {
    ($($t:ty),*) => {$(
        impl AttributeValue for $t {
            fn to_value(&self) -> Option<Value> {
                Some(Value::I64(clamped(*self)))
            }
        }
        impl ArrayElement for $t {
            fn to_array(items: &[Self]) -> Array {
                Array::I64(items.iter().map(|v| clamped(*v)).collect())
            }
        }
    )*};
}
clamped_int!(u64, usize, isize);

/// `value` as an `i64`, saturated at `i64::MIN` / `i64::MAX` when it does not fit.
fn clamped<T: TryInto<i64> + PartialOrd + Default + Copy>(value: T) -> i64 {
    value.try_into().unwrap_or(if value < T::default() {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// 128-bit integers: no OpenTelemetry number holds them, so every value is recorded as its exact
/// decimal string (arrays as arrays of strings), never as a number for small values.
macro_rules! decimal_int {
    ($($t:ty),*) => {$(
        impl AttributeValue for $t {
            fn to_value(&self) -> Option<Value> {
                Some(Value::String(StringValue::from(self.to_string())))
            }
        }
        impl ArrayElement for $t {
            fn to_array(items: &[Self]) -> Array {
                Array::String(items.iter().map(|v| StringValue::from(v.to_string())).collect())
            }
        }
    )*};
}
decimal_int!(i128, u128);

impl AttributeValue for f64 {
    fn to_value(&self) -> Option<Value> {
        Some(Value::F64(*self))
    }
}

impl AttributeValue for f32 {
    fn to_value(&self) -> Option<Value> {
        Some(Value::F64(f64::from(*self)))
    }
}

impl ArrayElement for f64 {
    fn to_array(items: &[Self]) -> Array {
        Array::F64(items.to_vec())
    }
}

impl ArrayElement for f32 {
    fn to_array(items: &[Self]) -> Array {
        Array::F64(items.iter().map(|v| f64::from(*v)).collect())
    }
}

impl<T: ArrayElement> AttributeValue for [T] {
    fn to_value(&self) -> Option<Value> {
        Some(Value::Array(T::to_array(self)))
    }
}

impl<T: ArrayElement, const N: usize> AttributeValue for [T; N] {
    fn to_value(&self) -> Option<Value> {
        self.as_slice().to_value()
    }
}

impl<T: ArrayElement> AttributeValue for Vec<T> {
    fn to_value(&self) -> Option<Value> {
        self.as_slice().to_value()
    }
}

impl AttributeValue for Value {
    fn to_value(&self) -> Option<Value> {
        Some(self.clone())
    }
}

// `RecordArg`: plain values record one attribute named after the argument. Each impl is spelled
// out (rather than a blanket over `AttributeValue`) so that `#[span_attrs]` structs and references
// to them can implement it too without overlapping.
impl<T: RecordArg + ?Sized> RecordArg for &T {
    fn record_arg(&self, name: &'static str, recorder: &mut Recorder<'_>) {
        (**self).record_arg(name, recorder);
    }
}

impl<T: RecordArg + ?Sized> RecordArg for &mut T {
    fn record_arg(&self, name: &'static str, recorder: &mut Recorder<'_>) {
        (**self).record_arg(name, recorder);
    }
}

impl<T: RecordArg> RecordArg for Option<T> {
    fn record_arg(&self, name: &'static str, recorder: &mut Recorder<'_>) {
        if let Some(inner) = self {
            inner.record_arg(name, recorder);
        }
    }
}

impl<T: RecordArg + ?Sized> RecordArg for Box<T> {
    fn record_arg(&self, name: &'static str, recorder: &mut Recorder<'_>) {
        (**self).record_arg(name, recorder);
    }
}

impl<T: RecordArg + ?Sized> RecordArg for Arc<T> {
    fn record_arg(&self, name: &'static str, recorder: &mut Recorder<'_>) {
        (**self).record_arg(name, recorder);
    }
}

macro_rules! plain_record_arg {
    ($($t:ty),*) => {$(
        impl RecordArg for $t {
            fn record_arg(&self, name: &'static str, recorder: &mut Recorder<'_>) {
                recorder.attr(name, self);
            }
        }
    )*};
}
plain_record_arg!(
    str,
    String,
    Cow<'_, str>,
    Rc<str>,
    bool,
    i8,
    i16,
    i32,
    i64,
    u8,
    u16,
    u32,
    u64,
    usize,
    isize,
    i128,
    u128,
    f32,
    f64,
    Value
);

impl<T: ArrayElement> RecordArg for [T] {
    fn record_arg(&self, name: &'static str, recorder: &mut Recorder<'_>) {
        recorder.attr(name, self);
    }
}

impl<T: ArrayElement, const N: usize> RecordArg for [T; N] {
    fn record_arg(&self, name: &'static str, recorder: &mut Recorder<'_>) {
        recorder.attr(name, self);
    }
}

impl<T: ArrayElement> RecordArg for Vec<T> {
    fn record_arg(&self, name: &'static str, recorder: &mut Recorder<'_>) {
        recorder.attr(name, self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value<V: AttributeValue + ?Sized>(v: &V) -> Option<Value> {
        v.to_value()
    }

    #[test]
    fn scalars_keep_their_type() {
        assert_eq!(value(&7_u8), Some(Value::I64(7)));
        assert_eq!(value(&-3_i32), Some(Value::I64(-3)));
        assert_eq!(value(&0.5_f32), Some(Value::F64(0.5)));
        assert_eq!(value(&true), Some(Value::Bool(true)));
        assert_eq!(value("pytorch"), Some(Value::from("pytorch")));
        assert_eq!(value(&String::from("v1")), Some(Value::from("v1")));
    }

    #[test]
    fn integers_of_at_most_64_bits_are_ints_clamped_at_the_i64_boundary() {
        let max = i64::MAX;
        let past_max = max.unsigned_abs() + 1;
        assert_eq!(value(&max), Some(Value::I64(max)));
        assert_eq!(value(&max.unsigned_abs()), Some(Value::I64(max)));
        assert_eq!(value(&past_max), Some(Value::I64(max)));
        assert_eq!(value(&u64::MAX), Some(Value::I64(max)));
        assert_eq!(value(&usize::MAX), Some(Value::I64(max)));
        assert_eq!(value(&12_u64), Some(Value::I64(12)));
        assert_eq!(value(&isize::MIN), Some(Value::I64(i64::MIN)));
        assert_eq!(value(&isize::MAX), Some(Value::I64(max)));
        assert_eq!(
            value(&[1_u64, past_max, u64::MAX][..]),
            Some(Value::Array(Array::I64(vec![1, max, max])))
        );
        assert_eq!(
            value(&vec![3_usize, usize::MAX]),
            Some(Value::Array(Array::I64(vec![3, max])))
        );
    }

    #[test]
    fn integers_of_128_bits_are_decimal_strings_whatever_the_value() {
        assert_eq!(value(&5_u128), Some(Value::from("5")));
        assert_eq!(value(&-5_i128), Some(Value::from("-5")));
        assert_eq!(
            value(&u128::MAX),
            Some(Value::from("340282366920938463463374607431768211455"))
        );
        assert_eq!(
            value(&[1_u128, u128::from(u64::MAX) + 1][..]),
            Some(Value::Array(Array::String(vec![
                StringValue::from("1"),
                StringValue::from("18446744073709551616")
            ])))
        );
        assert_eq!(
            value(&[-1_i128]),
            Some(Value::Array(Array::String(vec![StringValue::from("-1")])))
        );
    }

    #[test]
    fn arrays_are_typed() {
        assert_eq!(
            value(&vec![1_i64, 2]),
            Some(Value::Array(Array::I64(vec![1, 2])))
        );
        assert_eq!(
            value(&["a", "b"]),
            Some(Value::Array(Array::String(vec!["a".into(), "b".into()])))
        );
        assert_eq!(
            value(&[0.1_f64, 0.2][..]),
            Some(Value::Array(Array::F64(vec![0.1, 0.2])))
        );
    }

    #[test]
    fn none_records_nothing() {
        assert_eq!(value(&None::<i64>), None);
        assert_eq!(value(&Some(3_i64)), Some(Value::I64(3)));
        let mut out = Vec::new();
        Recorder::new(&mut out).arg("missing", &None::<String>);
        assert!(out.is_empty());
    }
}
