//! The traces table's columns beyond contrib's: where a span came from (an SDK, eBPF syscall
//! capture, or packet capture), the process it belongs to, and the keys that let an app span be
//! matched with the system spans of the same request. They are filled from attributes, so SDK
//! spans need nothing new and eBPF/network spans only set well-known attribute names.
//!
//! Each attribute is looked up on the span first and on its resource second (`process.*` is
//! normally a resource attribute, the others span attributes). Text columns take string values;
//! number columns take an int, or a string holding a decimal number, in `UInt32` range; anything
//! else leaves the column's default.

use super::attributes::as_str;
use super::writer::RowBinaryWriter;
use cormorant_core::pdata::common::{AnyValue, KeyValue, any_value::Value};

/// `SpanSource`: `app` (an SDK span, the default), `system` (eBPF) or `network` (packet capture).
pub const SPAN_SOURCE_ATTRIBUTE: &str = "cormorant.span.source";
/// `SpanSource` of spans that do not say where they come from.
pub const DEFAULT_SPAN_SOURCE: &str = "app";
/// `ProcessId`.
pub const PROCESS_ID_ATTRIBUTE: &str = "process.pid";
/// `ProcessName`.
pub const PROCESS_NAME_ATTRIBUTE: &str = "process.executable.name";
/// `L7Protocol`: the application protocol a system or network span decoded (`http`, `mysql`, …).
pub const L7_PROTOCOL_ATTRIBUTE: &str = "cormorant.l7.protocol";
/// `RequestId`, first choice: the `X-Request-Id` header as semantic conventions capture it.
pub const REQUEST_ID_HEADER_ATTRIBUTE: &str = "http.request.header.x-request-id";
/// `RequestId`, used when the header attribute is absent.
pub const REQUEST_ID_ATTRIBUTE: &str = "cormorant.request_id";
/// `TcpSeqRequest`: TCP sequence number of the request's first byte.
pub const TCP_SEQ_REQUEST_ATTRIBUTE: &str = "cormorant.tcp.seq.request";
/// `TcpSeqResponse`: TCP sequence number of the response's first byte.
pub const TCP_SEQ_RESPONSE_ATTRIBUTE: &str = "cormorant.tcp.seq.response";

/// The extra column values of one span, borrowed from its attributes.
#[derive(Debug, Clone)]
pub(crate) struct SpanExtras<'a> {
    source: &'a str,
    process_id: u32,
    process_name: &'a str,
    l7_protocol: &'a str,
    request_id_header: &'a str,
    request_id: &'a str,
    tcp_seq_request: u32,
    tcp_seq_response: u32,
}

impl Default for SpanExtras<'_> {
    fn default() -> Self {
        Self {
            source: DEFAULT_SPAN_SOURCE,
            process_id: 0,
            process_name: "",
            l7_protocol: "",
            request_id_header: "",
            request_id: "",
            tcp_seq_request: 0,
            tcp_seq_response: 0,
        }
    }
}

impl<'a> SpanExtras<'a> {
    /// Takes the values `attributes` carry, overriding what was taken before; called with the
    /// resource's attributes, then the span's, so the span wins.
    pub(crate) fn absorb(&mut self, attributes: &'a [KeyValue]) {
        for attribute in attributes {
            let value = attribute.value.as_ref();
            match attribute.key.as_str() {
                SPAN_SOURCE_ATTRIBUTE => set_text(&mut self.source, value),
                PROCESS_ID_ATTRIBUTE => set_number(&mut self.process_id, value),
                PROCESS_NAME_ATTRIBUTE => set_text(&mut self.process_name, value),
                L7_PROTOCOL_ATTRIBUTE => set_text(&mut self.l7_protocol, value),
                REQUEST_ID_HEADER_ATTRIBUTE => {
                    // Semantic conventions make header attributes string arrays.
                    let first = match value.and_then(|v| v.value.as_ref()) {
                        Some(Value::ArrayValue(array)) => array.values.first(),
                        _ => value,
                    };
                    set_text(&mut self.request_id_header, first);
                }
                REQUEST_ID_ATTRIBUTE => set_text(&mut self.request_id, value),
                TCP_SEQ_REQUEST_ATTRIBUTE => set_number(&mut self.tcp_seq_request, value),
                TCP_SEQ_RESPONSE_ATTRIBUTE => set_number(&mut self.tcp_seq_response, value),
                _ => {}
            }
        }
    }

    /// Writes `SpanSource, ProcessId, ProcessName, L7Protocol, RequestId, TcpSeqRequest,
    /// TcpSeqResponse`.
    pub(crate) fn write(&self, w: &mut RowBinaryWriter) {
        w.string(self.source);
        w.u32(self.process_id);
        w.string(self.process_name);
        w.string(self.l7_protocol);
        w.string(if self.request_id_header.is_empty() {
            self.request_id
        } else {
            self.request_id_header
        });
        w.u32(self.tcp_seq_request);
        w.u32(self.tcp_seq_response);
    }
}

fn set_text<'a>(slot: &mut &'a str, value: Option<&'a AnyValue>) {
    if let Some(text) = as_str(value) {
        *slot = text;
    }
}

fn set_number(slot: &mut u32, value: Option<&AnyValue>) {
    let number = match value.and_then(|v| v.value.as_ref()) {
        Some(Value::IntValue(number)) => u32::try_from(*number).ok(),
        Some(Value::StringValue(text)) => text.trim().parse().ok(),
        _ => None,
    };
    if let Some(number) = number {
        *slot = number;
    }
}
