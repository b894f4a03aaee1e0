//! The Thrift structs of `jaeger.thrift` and the two Thrift encodings Jaeger's legacy transports
//! speak: the compact protocol (UDP, the agent's `emitBatch` message) and the binary protocol
//! (HTTP, a bare `Batch` posted to the collector).
//!
//! Only writing is implemented, and only the types `jaeger.thrift` uses. Both encodings of a
//! struct are independent of where the struct is placed (a compact struct restarts its field-id
//! deltas from zero), so spans are encoded once each and spliced into as many datagrams or
//! request bodies as needed; [`CompactFrame`] and [`BinaryFrame`] know the bytes around them.
//!
//! References: `jaegertracing/jaeger-idl` `thrift/jaeger.thrift` and `thrift/agent.thrift`;
//! `apache/thrift` `doc/specs/thrift-compact-protocol.md` and `thrift-binary-protocol.md`.

use std::borrow::Cow;
use std::fmt;

/// The value of a Jaeger tag (`Tag.vType` plus the matching `v*` field).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TagValue<'a> {
    String(Cow<'a, str>),
    Double(f64),
    Bool(bool),
    Long(i64),
}

/// `struct Tag`: a typed key/value on a span, a log or the process.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Tag<'a> {
    pub(crate) key: Cow<'a, str>,
    pub(crate) value: TagValue<'a>,
}

impl<'a> Tag<'a> {
    pub(crate) fn new(key: impl Into<Cow<'a, str>>, value: TagValue<'a>) -> Self {
        Tag {
            key: key.into(),
            value,
        }
    }
}

/// `struct Log`: a timestamped set of fields (an OpenTelemetry event).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Log<'a> {
    /// Microseconds since the Unix epoch.
    pub(crate) timestamp: i64,
    pub(crate) fields: Vec<Tag<'a>>,
}

/// `enum SpanRefType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SpanRefType {
    ChildOf = 0,
    FollowsFrom = 1,
}

/// `struct SpanRef`: a causal reference to another span.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SpanRef {
    pub(crate) ref_type: SpanRefType,
    pub(crate) trace_id_low: i64,
    pub(crate) trace_id_high: i64,
    pub(crate) span_id: i64,
}

/// `struct Span`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Span<'a> {
    pub(crate) trace_id_low: i64,
    pub(crate) trace_id_high: i64,
    pub(crate) span_id: i64,
    pub(crate) parent_span_id: i64,
    pub(crate) operation_name: &'a str,
    pub(crate) references: Vec<SpanRef>,
    pub(crate) flags: i32,
    /// Microseconds since the Unix epoch.
    pub(crate) start_time: i64,
    /// Microseconds.
    pub(crate) duration: i64,
    pub(crate) tags: Vec<Tag<'a>>,
    pub(crate) logs: Vec<Log<'a>>,
}

/// `struct Process`: the service that produced a batch of spans.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Process<'a> {
    pub(crate) service_name: Cow<'a, str>,
    pub(crate) tags: Vec<Tag<'a>>,
}

/// A length that does not fit Thrift's `i32` sizes (a string or list over 2 GiB entries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TooLong;

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or list is longer than thrift's i32 length limit")
    }
}

/// The Thrift types `jaeger.thrift` uses; each protocol has its own wire code for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Type {
    Bool,
    I32,
    I64,
    Double,
    String,
    List,
    Struct,
}

/// What a Thrift protocol writes. Structs call these in field order; a struct value is always
/// bracketed by [`Protocol::struct_begin`] and [`Protocol::struct_end`].
pub(crate) trait Protocol {
    /// A field header (for every type but `bool`, see [`Protocol::bool_field`]).
    fn field(&mut self, id: i16, ty: Type);
    /// A whole `bool` field: the compact protocol folds the value into the header.
    fn bool_field(&mut self, id: i16, value: bool);
    fn struct_begin(&mut self);
    /// Writes the stop field.
    fn struct_end(&mut self);
    fn list_begin(&mut self, element: Type, len: usize);
    fn i32(&mut self, value: i32);
    fn i64(&mut self, value: i64);
    fn f64(&mut self, value: f64);
    fn string(&mut self, value: &str);

    /// The bytes written so far.
    fn output(&mut self) -> &mut Output;
    /// The writer's bytes, once done.
    fn into_output(self) -> Output;

    /// Bytes already encoded with this same protocol (a whole struct).
    fn raw(&mut self, bytes: &[u8]) {
        self.output().buf.extend_from_slice(bytes);
    }

    /// The encoded bytes, or [`TooLong`] if a string or list did not fit Thrift's `i32` length.
    fn finish(self) -> Result<Vec<u8>, TooLong>
    where
        Self: Sized,
    {
        self.into_output().finish()
    }
}

/// The bytes a protocol writer produces, and whether a length overflowed on the way.
#[derive(Debug, Default)]
pub(crate) struct Output {
    buf: Vec<u8>,
    too_long: bool,
}

impl Output {
    fn with_capacity(bytes: usize) -> Self {
        Output {
            buf: Vec::with_capacity(bytes),
            too_long: false,
        }
    }

    /// Converts a length to Thrift's non-negative `i32`, remembering an overflow instead of
    /// wrapping.
    fn len(&mut self, len: usize) -> u32 {
        match i32::try_from(len) {
            Ok(len) => len.unsigned_abs(),
            Err(_) => {
                self.too_long = true;
                0
            }
        }
    }

    fn finish(self) -> Result<Vec<u8>, TooLong> {
        if self.too_long {
            Err(TooLong)
        } else {
            Ok(self.buf)
        }
    }
}

/// A `jaeger.thrift` struct that can be written with any [`Protocol`].
pub(crate) trait Encode {
    fn encode<P: Protocol>(&self, out: &mut P);
}

fn list_field<P: Protocol, T: Encode>(out: &mut P, id: i16, items: &[T]) {
    out.field(id, Type::List);
    out.list_begin(Type::Struct, items.len());
    for item in items {
        item.encode(out);
    }
}

impl Encode for Tag<'_> {
    fn encode<P: Protocol>(&self, out: &mut P) {
        out.struct_begin();
        out.field(1, Type::String);
        out.string(&self.key);
        // `enum TagType { STRING, DOUBLE, BOOL, LONG, BINARY }`, sent as an i32.
        let (v_type, value_id) = match self.value {
            TagValue::String(_) => (0, 3),
            TagValue::Double(_) => (1, 4),
            TagValue::Bool(_) => (2, 5),
            TagValue::Long(_) => (3, 6),
        };
        out.field(2, Type::I32);
        out.i32(v_type);
        match &self.value {
            TagValue::String(s) => {
                out.field(value_id, Type::String);
                out.string(s);
            }
            TagValue::Double(d) => {
                out.field(value_id, Type::Double);
                out.f64(*d);
            }
            TagValue::Bool(b) => out.bool_field(value_id, *b),
            TagValue::Long(l) => {
                out.field(value_id, Type::I64);
                out.i64(*l);
            }
        }
        out.struct_end();
    }
}

impl Encode for Log<'_> {
    fn encode<P: Protocol>(&self, out: &mut P) {
        out.struct_begin();
        out.field(1, Type::I64);
        out.i64(self.timestamp);
        list_field(out, 2, &self.fields);
        out.struct_end();
    }
}

impl Encode for SpanRef {
    fn encode<P: Protocol>(&self, out: &mut P) {
        out.struct_begin();
        out.field(1, Type::I32);
        out.i32(self.ref_type as i32);
        out.field(2, Type::I64);
        out.i64(self.trace_id_low);
        out.field(3, Type::I64);
        out.i64(self.trace_id_high);
        out.field(4, Type::I64);
        out.i64(self.span_id);
        out.struct_end();
    }
}

impl Encode for Span<'_> {
    fn encode<P: Protocol>(&self, out: &mut P) {
        out.struct_begin();
        out.field(1, Type::I64);
        out.i64(self.trace_id_low);
        out.field(2, Type::I64);
        out.i64(self.trace_id_high);
        out.field(3, Type::I64);
        out.i64(self.span_id);
        out.field(4, Type::I64);
        out.i64(self.parent_span_id);
        out.field(5, Type::String);
        out.string(self.operation_name);
        if !self.references.is_empty() {
            list_field(out, 6, &self.references);
        }
        out.field(7, Type::I32);
        out.i32(self.flags);
        out.field(8, Type::I64);
        out.i64(self.start_time);
        out.field(9, Type::I64);
        out.i64(self.duration);
        if !self.tags.is_empty() {
            list_field(out, 10, &self.tags);
        }
        if !self.logs.is_empty() {
            list_field(out, 11, &self.logs);
        }
        out.struct_end();
    }
}

impl Encode for Process<'_> {
    fn encode<P: Protocol>(&self, out: &mut P) {
        out.struct_begin();
        out.field(1, Type::String);
        out.string(&self.service_name);
        if !self.tags.is_empty() {
            list_field(out, 2, &self.tags);
        }
        out.struct_end();
    }
}

/// The Thrift compact protocol (what the agent port, UDP 6831, receives).
#[derive(Debug, Default)]
pub(crate) struct CompactWriter {
    out: Output,
    /// The id of the last field written in the current struct (field ids are sent as deltas).
    last_field: i16,
    /// `last_field` of each enclosing struct.
    outer: Vec<i16>,
}

impl CompactWriter {
    // Compact type codes (thrift-compact-protocol.md, "Struct encoding").
    const BOOLEAN_TRUE: u8 = 1;
    const BOOLEAN_FALSE: u8 = 2;
    /// Message type `ONEWAY`.
    const ONEWAY: u8 = 4;
    const PROTOCOL_ID: u8 = 0x82;
    const VERSION: u8 = 1;

    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn code(ty: Type) -> u8 {
        match ty {
            // In a list header; a bool field carries its value in the header instead.
            Type::Bool => Self::BOOLEAN_TRUE,
            Type::I32 => 5,
            Type::I64 => 6,
            Type::Double => 7,
            Type::String => 8,
            Type::List => 9,
            Type::Struct => 12,
        }
    }

    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.out.buf.push((value as u8 & 0x7f) | 0x80);
            value >>= 7;
        }
        self.out.buf.push(value as u8);
    }

    fn zigzag(value: i64) -> u64 {
        ((value << 1) ^ (value >> 63)) as u64
    }

    fn field_header(&mut self, id: i16, code: u8) {
        let delta = i32::from(id) - i32::from(self.last_field);
        if (1..=15).contains(&delta) {
            self.out.buf.push(((delta as u8) << 4) | code);
        } else {
            self.out.buf.push(code);
            self.varint(Self::zigzag(i64::from(id)));
        }
        self.last_field = id;
    }

    /// A `oneway` message header: protocol id, version and type, sequence id, method name.
    pub(crate) fn oneway_message_begin(&mut self, name: &str, seq_id: i32) {
        self.out.buf.push(Self::PROTOCOL_ID);
        self.out.buf.push((Self::ONEWAY << 5) | Self::VERSION);
        // The sequence id is a varint of the i32's bits, not zigzagged.
        self.varint(u64::from(seq_id as u32));
        self.string(name);
    }
}

impl Protocol for CompactWriter {
    fn output(&mut self) -> &mut Output {
        &mut self.out
    }

    fn into_output(self) -> Output {
        self.out
    }

    fn field(&mut self, id: i16, ty: Type) {
        self.field_header(id, Self::code(ty));
    }

    fn bool_field(&mut self, id: i16, value: bool) {
        let code = if value {
            Self::BOOLEAN_TRUE
        } else {
            Self::BOOLEAN_FALSE
        };
        self.field_header(id, code);
    }

    fn struct_begin(&mut self) {
        self.outer.push(self.last_field);
        self.last_field = 0;
    }

    fn struct_end(&mut self) {
        self.out.buf.push(0);
        self.last_field = self.outer.pop().unwrap_or(0);
    }

    fn list_begin(&mut self, element: Type, len: usize) {
        let len = self.out.len(len);
        let code = Self::code(element);
        if len < 15 {
            self.out.buf.push(((len as u8) << 4) | code);
        } else {
            self.out.buf.push(0xf0 | code);
            self.varint(u64::from(len));
        }
    }

    fn i32(&mut self, value: i32) {
        self.varint(Self::zigzag(i64::from(value)));
    }

    fn i64(&mut self, value: i64) {
        self.varint(Self::zigzag(value));
    }

    fn f64(&mut self, value: f64) {
        // The compact protocol sends doubles little-endian.
        self.out
            .buf
            .extend_from_slice(&value.to_bits().to_le_bytes());
    }

    fn string(&mut self, value: &str) {
        let len = self.out.len(value.len());
        self.varint(u64::from(len));
        self.out.buf.extend_from_slice(value.as_bytes());
    }
}

/// The Thrift binary protocol (what the collector's `POST /api/traces`, port 14268, receives).
#[derive(Debug, Default)]
pub(crate) struct BinaryWriter {
    out: Output,
}

impl BinaryWriter {
    const BOOL: u8 = 2;

    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn code(ty: Type) -> u8 {
        match ty {
            Type::Bool => Self::BOOL,
            Type::Double => 4,
            Type::I32 => 8,
            Type::I64 => 10,
            Type::String => 11,
            Type::Struct => 12,
            Type::List => 15,
        }
    }
}

impl Protocol for BinaryWriter {
    fn output(&mut self) -> &mut Output {
        &mut self.out
    }

    fn into_output(self) -> Output {
        self.out
    }

    fn field(&mut self, id: i16, ty: Type) {
        self.out.buf.push(Self::code(ty));
        self.out.buf.extend_from_slice(&id.to_be_bytes());
    }

    fn bool_field(&mut self, id: i16, value: bool) {
        self.field(id, Type::Bool);
        self.out.buf.push(u8::from(value));
    }

    fn struct_begin(&mut self) {}

    fn struct_end(&mut self) {
        self.out.buf.push(0);
    }

    fn list_begin(&mut self, element: Type, len: usize) {
        let len = self.out.len(len);
        self.out.buf.push(Self::code(element));
        self.out.buf.extend_from_slice(&len.to_be_bytes());
    }

    fn i32(&mut self, value: i32) {
        self.out.buf.extend_from_slice(&value.to_be_bytes());
    }

    fn i64(&mut self, value: i64) {
        self.out.buf.extend_from_slice(&value.to_be_bytes());
    }

    fn f64(&mut self, value: f64) {
        self.out
            .buf
            .extend_from_slice(&value.to_bits().to_be_bytes());
    }

    fn string(&mut self, value: &str) {
        let len = self.out.len(value.len());
        self.out.buf.extend_from_slice(&len.to_be_bytes());
        self.out.buf.extend_from_slice(value.as_bytes());
    }
}

/// Encodes one struct on its own with the compact protocol.
pub(crate) fn compact(value: &impl Encode) -> Result<Vec<u8>, TooLong> {
    let mut out = CompactWriter::new();
    value.encode(&mut out);
    out.finish()
}

/// Encodes one struct on its own with the binary protocol.
pub(crate) fn binary(value: &impl Encode) -> Result<Vec<u8>, TooLong> {
    let mut out = BinaryWriter::new();
    value.encode(&mut out);
    out.finish()
}

/// How to wrap an encoded process and encoded spans into one unit sent on the wire.
pub(crate) trait Frame {
    /// Encodes one struct with the frame's protocol.
    fn encode(value: &impl Encode) -> Result<Vec<u8>, TooLong>;
    /// The most bytes the frame adds around `process_len` bytes of process and the spans.
    fn overhead(process_len: usize) -> usize;
    /// The bytes sent: `process` and `spans` are whole structs encoded with the frame's protocol.
    fn frame(process: &[u8], spans: &[&[u8]], seq_no: i64) -> Result<Vec<u8>, TooLong>;
}

/// The agent's `oneway void emitBatch(1: jaeger.Batch batch)`, compact-encoded: one UDP datagram.
#[derive(Debug)]
pub(crate) struct CompactFrame;

impl CompactFrame {
    const METHOD: &'static str = "emitBatch";
}

impl Frame for CompactFrame {
    fn encode(value: &impl Encode) -> Result<Vec<u8>, TooLong> {
        compact(value)
    }

    fn overhead(process_len: usize) -> usize {
        // message: protocol id, version|type, seq id (1 byte: always 0), name (1 + 9 bytes)
        let message = 2 + 1 + 1 + Self::METHOD.len();
        // args { 1: batch } and Batch { 1: process, 2: list header (up to 1 + 5 bytes),
        // 3: seqNo (up to 1 + 10 bytes) }, each struct closed by a stop byte.
        let args = 1 + 1;
        let batch = 1 + process_len + 1 + 6 + 11 + 1;
        message + args + batch
    }

    fn frame(process: &[u8], spans: &[&[u8]], seq_no: i64) -> Result<Vec<u8>, TooLong> {
        let mut out = CompactWriter {
            out: Output::with_capacity(
                Self::overhead(process.len()) + spans.iter().map(|s| s.len()).sum::<usize>(),
            ),
            ..CompactWriter::default()
        };
        out.oneway_message_begin(Self::METHOD, 0);
        out.struct_begin(); // emitBatch_args
        out.field(1, Type::Struct);
        out.struct_begin(); // Batch
        out.field(1, Type::Struct);
        out.raw(process);
        out.field(2, Type::List);
        out.list_begin(Type::Struct, spans.len());
        for span in spans {
            out.raw(span);
        }
        out.field(3, Type::I64);
        out.i64(seq_no);
        out.struct_end();
        out.struct_end();
        out.finish()
    }
}

/// A bare binary-encoded `Batch`: the body of one `POST /api/traces`.
#[derive(Debug)]
pub(crate) struct BinaryFrame;

impl Frame for BinaryFrame {
    fn encode(value: &impl Encode) -> Result<Vec<u8>, TooLong> {
        binary(value)
    }

    fn overhead(process_len: usize) -> usize {
        // field 1 header + process, field 2 header + list header, field 3 header + i64, stop
        3 + process_len + 3 + 5 + 3 + 8 + 1
    }

    fn frame(process: &[u8], spans: &[&[u8]], seq_no: i64) -> Result<Vec<u8>, TooLong> {
        let mut out = BinaryWriter {
            out: Output::with_capacity(
                Self::overhead(process.len()) + spans.iter().map(|s| s.len()).sum::<usize>(),
            ),
        };
        out.field(1, Type::Struct);
        out.raw(process);
        out.field(2, Type::List);
        out.list_begin(Type::Struct, spans.len());
        for span in spans {
            out.raw(span);
        }
        out.field(3, Type::I64);
        out.i64(seq_no);
        out.struct_end();
        out.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `struct Batch`, written field by field: the reference the spliced frames must equal.
    struct Batch<'a> {
        process: Process<'a>,
        spans: Vec<Span<'a>>,
        seq_no: i64,
    }

    impl Encode for Batch<'_> {
        fn encode<P: Protocol>(&self, out: &mut P) {
            out.struct_begin();
            out.field(1, Type::Struct);
            self.process.encode(out);
            list_field(out, 2, &self.spans);
            out.field(3, Type::I64);
            out.i64(self.seq_no);
            out.struct_end();
        }
    }

    fn compact_bytes(write: impl FnOnce(&mut CompactWriter)) -> Vec<u8> {
        let mut out = CompactWriter::new();
        write(&mut out);
        out.finish().expect("short values")
    }

    fn binary_bytes(write: impl FnOnce(&mut BinaryWriter)) -> Vec<u8> {
        let mut out = BinaryWriter::new();
        write(&mut out);
        out.finish().expect("short values")
    }

    fn sample_span() -> Span<'static> {
        Span {
            trace_id_low: 2,
            trace_id_high: 1,
            span_id: 3,
            parent_span_id: 0,
            operation_name: "op",
            references: vec![SpanRef {
                ref_type: SpanRefType::FollowsFrom,
                trace_id_low: 5,
                trace_id_high: 6,
                span_id: 7,
            }],
            flags: 1,
            start_time: 1_700_000_000_000_000,
            duration: 1500,
            tags: vec![
                Tag::new("s", TagValue::String("v".into())),
                Tag::new("d", TagValue::Double(0.25)),
                Tag::new("b", TagValue::Bool(false)),
                Tag::new("l", TagValue::Long(-3)),
            ],
            logs: vec![Log {
                timestamp: 10,
                fields: vec![Tag::new("event", TagValue::String("e".into()))],
            }],
        }
    }

    fn sample_process() -> Process<'static> {
        Process {
            service_name: "svc".into(),
            tags: vec![Tag::new("k", TagValue::Long(1))],
        }
    }

    #[test]
    fn zigzag_maps_small_magnitudes_to_small_numbers() {
        assert_eq!(CompactWriter::zigzag(0), 0);
        assert_eq!(CompactWriter::zigzag(-1), 1);
        assert_eq!(CompactWriter::zigzag(1), 2);
        assert_eq!(CompactWriter::zigzag(-2), 3);
        assert_eq!(CompactWriter::zigzag(i64::MAX), u64::MAX - 1);
        assert_eq!(CompactWriter::zigzag(i64::MIN), u64::MAX);
    }

    #[test]
    fn varint_is_little_endian_base_128() {
        assert_eq!(compact_bytes(|w| w.varint(0)), [0x00]);
        assert_eq!(compact_bytes(|w| w.varint(127)), [0x7f]);
        assert_eq!(compact_bytes(|w| w.varint(128)), [0x80, 0x01]);
        // The example of the compact protocol spec.
        assert_eq!(compact_bytes(|w| w.varint(50399)), [0xdf, 0x89, 0x03]);
        let max = compact_bytes(|w| w.varint(u64::MAX));
        assert_eq!(max.len(), 10);
        assert_eq!(max[9], 0x01);
    }

    #[test]
    fn compact_integers_are_zigzag_varints() {
        assert_eq!(compact_bytes(|w| w.i32(3)), [0x06]);
        assert_eq!(compact_bytes(|w| w.i32(-1)), [0x01]);
        assert_eq!(compact_bytes(|w| w.i64(-65)), [0x81, 0x01]);
        assert_eq!(compact_bytes(|w| w.i64(i64::MIN)).len(), 10);
    }

    #[test]
    fn compact_field_ids_are_deltas_with_a_long_form() {
        let bytes = compact_bytes(|w| {
            w.struct_begin();
            w.field(1, Type::I64); // delta 1
            w.i64(1);
            w.field(4, Type::String); // delta 3
            w.string("");
            w.field(20, Type::I32); // delta 16: long form, zigzag(20) = 40
            w.i32(0);
            w.field(2, Type::I32); // going back: long form, zigzag(2) = 4
            w.i32(0);
            w.struct_end();
        });
        assert_eq!(
            bytes,
            [0x16, 0x02, 0x38, 0x00, 0x05, 0x28, 0x00, 0x05, 0x04, 0x00, 0x00]
        );
    }

    #[test]
    fn compact_nested_structs_restart_and_restore_field_deltas() {
        let bytes = compact_bytes(|w| {
            w.struct_begin();
            w.field(2, Type::Struct);
            w.struct_begin();
            w.field(1, Type::I32); // delta from 0 inside the nested struct
            w.i32(1);
            w.struct_end();
            w.field(3, Type::I32); // delta from 2 again outside
            w.i32(1);
            w.struct_end();
        });
        assert_eq!(bytes, [0x2c, 0x15, 0x02, 0x00, 0x15, 0x02, 0x00]);
    }

    #[test]
    fn compact_bool_fields_carry_the_value_in_the_header() {
        let bytes = compact_bytes(|w| {
            w.struct_begin();
            w.bool_field(5, true);
            w.bool_field(6, false);
            w.struct_end();
        });
        assert_eq!(bytes, [0x51, 0x12, 0x00]);
    }

    #[test]
    fn compact_list_headers_have_a_short_and_a_long_form() {
        assert_eq!(compact_bytes(|w| w.list_begin(Type::Struct, 0)), [0x0c]);
        assert_eq!(compact_bytes(|w| w.list_begin(Type::Struct, 3)), [0x3c]);
        assert_eq!(compact_bytes(|w| w.list_begin(Type::Struct, 14)), [0xec]);
        assert_eq!(
            compact_bytes(|w| w.list_begin(Type::Struct, 15)),
            [0xfc, 0x0f]
        );
        assert_eq!(
            compact_bytes(|w| w.list_begin(Type::I64, 300)),
            [0xf6, 0xac, 0x02]
        );
    }

    #[test]
    fn compact_strings_and_doubles() {
        assert_eq!(compact_bytes(|w| w.string("hi")), [0x02, b'h', b'i']);
        assert_eq!(compact_bytes(|w| w.string("é")), [0x02, 0xc3, 0xa9]);
        // Little-endian IEEE 754: 1.5 = 0x3FF8000000000000.
        assert_eq!(
            compact_bytes(|w| w.f64(1.5)),
            [0, 0, 0, 0, 0, 0, 0xf8, 0x3f]
        );
    }

    #[test]
    fn compact_tag_of_each_type() {
        let long = compact(&Tag::new("k", TagValue::Long(5))).expect("encodes");
        // key (field 1, binary), vType LONG = 3 (field 2, i32), vLong (field 6, delta 4), stop
        assert_eq!(long, [0x18, 0x01, b'k', 0x15, 0x06, 0x46, 0x0a, 0x00]);

        let string = compact(&Tag::new("k", TagValue::String("v".into()))).expect("encodes");
        assert_eq!(
            string,
            [0x18, 0x01, b'k', 0x15, 0x00, 0x18, 0x01, b'v', 0x00]
        );

        let yes = compact(&Tag::new("k", TagValue::Bool(true))).expect("encodes");
        assert_eq!(yes, [0x18, 0x01, b'k', 0x15, 0x04, 0x31, 0x00]);
        let no = compact(&Tag::new("k", TagValue::Bool(false))).expect("encodes");
        assert_eq!(no, [0x18, 0x01, b'k', 0x15, 0x04, 0x32, 0x00]);

        let double = compact(&Tag::new("k", TagValue::Double(-2.0))).expect("encodes");
        assert_eq!(
            double,
            [0x18, 0x01, b'k', 0x15, 0x02, 0x27, 0, 0, 0, 0, 0, 0, 0, 0xc0, 0x00]
        );
    }

    #[test]
    fn compact_span_without_optional_lists() {
        let span = Span {
            trace_id_low: 1,
            trace_id_high: -1,
            span_id: 2,
            parent_span_id: 0,
            operation_name: "a",
            references: Vec::new(),
            flags: 1,
            start_time: 64,
            duration: 7,
            tags: Vec::new(),
            logs: Vec::new(),
        };
        let bytes = compact(&span).expect("encodes");
        assert_eq!(
            bytes,
            [
                0x16, 0x02, // 1: traceIdLow 1
                0x16, 0x01, // 2: traceIdHigh -1
                0x16, 0x04, // 3: spanId 2
                0x16, 0x00, // 4: parentSpanId 0
                0x18, 0x01, b'a', // 5: operationName
                0x25, 0x02, // 7: flags 1 (delta 2: field 6 is absent)
                0x16, 0x80, 0x01, // 8: startTime 64
                0x16, 0x0e, // 9: duration 7
                0x00,
            ]
        );
    }

    #[test]
    fn compact_span_ref_and_log() {
        let reference = SpanRef {
            ref_type: SpanRefType::ChildOf,
            trace_id_low: 1,
            trace_id_high: 0,
            span_id: -1,
        };
        assert_eq!(
            compact(&reference).expect("encodes"),
            [0x15, 0x00, 0x16, 0x02, 0x16, 0x00, 0x16, 0x01, 0x00]
        );
        let log = Log {
            timestamp: 1,
            fields: vec![Tag::new("k", TagValue::Long(0))],
        };
        assert_eq!(
            compact(&log).expect("encodes"),
            [0x16, 0x02, 0x19, 0x1c, 0x18, 0x01, b'k', 0x15, 0x06, 0x46, 0x00, 0x00, 0x00]
        );
    }

    #[test]
    fn compact_emit_batch_message_header() {
        let process = compact(&Process {
            service_name: "s".into(),
            tags: Vec::new(),
        })
        .expect("encodes");
        assert_eq!(process, [0x18, 0x01, b's', 0x00]);
        let datagram = CompactFrame::frame(&process, &[], 1).expect("encodes");
        let mut expected = vec![0x82, 0x81, 0x00, 0x09];
        expected.extend_from_slice(b"emitBatch");
        expected.extend_from_slice(&[
            0x1c, // args field 1: Batch
            0x1c, 0x18, 0x01, b's', 0x00, // Batch field 1: Process
            0x19, 0x0c, // Batch field 2: empty list of structs
            0x16, 0x02, // Batch field 3: seqNo 1
            0x00, // Batch stop
            0x00, // args stop
        ]);
        assert_eq!(datagram, expected);
    }

    #[test]
    fn binary_scalars_are_big_endian() {
        assert_eq!(binary_bytes(|w| w.i32(3)), [0, 0, 0, 3]);
        assert_eq!(
            binary_bytes(|w| w.i64(-2)),
            [0xff; 7].iter().copied().chain([0xfe]).collect::<Vec<_>>()
        );
        assert_eq!(binary_bytes(|w| w.f64(1.5)), [0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
        assert_eq!(binary_bytes(|w| w.string("hi")), [0, 0, 0, 2, b'h', b'i']);
        assert_eq!(
            binary_bytes(|w| w.list_begin(Type::Struct, 2)),
            [12, 0, 0, 0, 2]
        );
    }

    #[test]
    fn binary_fields_have_a_type_byte_and_a_big_endian_id() {
        let bytes = binary_bytes(|w| {
            w.struct_begin();
            w.bool_field(5, true);
            w.bool_field(6, false);
            w.field(300, Type::I32);
            w.i32(1);
            w.struct_end();
        });
        assert_eq!(
            bytes,
            [2, 0, 5, 1, 2, 0, 6, 0, 8, 0x01, 0x2c, 0, 0, 0, 1, 0]
        );
    }

    #[test]
    fn binary_tag() {
        let bytes = binary(&Tag::new("k", TagValue::Long(5))).expect("encodes");
        assert_eq!(
            bytes,
            [
                11, 0, 1, 0, 0, 0, 1, b'k', // 1: key
                8, 0, 2, 0, 0, 0, 3, // 2: vType LONG
                10, 0, 6, 0, 0, 0, 0, 0, 0, 0, 5, // 6: vLong
                0,
            ]
        );
    }

    #[test]
    fn spliced_frames_equal_the_batch_written_field_by_field() {
        let process = sample_process();
        let spans = vec![sample_span(), sample_span()];
        let batch = Batch {
            process: process.clone(),
            spans: spans.clone(),
            seq_no: 42,
        };

        let encoded: Vec<Vec<u8>> = spans.iter().map(|s| compact(s).expect("encodes")).collect();
        let parts: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
        let spliced =
            CompactFrame::frame(&compact(&process).expect("encodes"), &parts, 42).expect("fits");
        let mut whole = CompactWriter::new();
        whole.oneway_message_begin("emitBatch", 0);
        whole.struct_begin();
        whole.field(1, Type::Struct);
        batch.encode(&mut whole);
        whole.struct_end();
        assert_eq!(spliced, whole.finish().expect("fits"));

        let encoded: Vec<Vec<u8>> = spans.iter().map(|s| binary(s).expect("encodes")).collect();
        let parts: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
        let spliced =
            BinaryFrame::frame(&binary(&process).expect("encodes"), &parts, 42).expect("fits");
        assert_eq!(spliced, binary(&batch).expect("fits"));
    }

    #[test]
    fn frame_overhead_bounds_the_actual_frame() {
        let process = compact(&sample_process()).expect("encodes");
        let span = compact(&sample_span()).expect("encodes");
        for count in [0, 1, 14, 15, 200, 20_000] {
            let spans = vec![span.as_slice(); count];
            for seq_no in [0, 1, i64::MAX, i64::MIN] {
                let frame = CompactFrame::frame(&process, &spans, seq_no).expect("fits");
                assert!(
                    frame.len() <= CompactFrame::overhead(process.len()) + count * span.len(),
                    "compact frame of {count} spans is larger than its bound"
                );
            }
        }
        let process = binary(&sample_process()).expect("encodes");
        let span = binary(&sample_span()).expect("encodes");
        for count in [0, 1, 200] {
            let spans = vec![span.as_slice(); count];
            let frame = BinaryFrame::frame(&process, &spans, 7).expect("fits");
            assert_eq!(
                frame.len(),
                BinaryFrame::overhead(process.len()) + count * span.len()
            );
        }
    }
}
