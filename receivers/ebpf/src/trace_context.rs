//! Decoding the trace-context headers an instrumented caller may have sent, so an eBPF server
//! span joins the caller's trace with the caller's span as its parent.
//!
//! Supported: W3C `traceparent` (+ `tracestate` kept verbatim), B3 single (`b3`) and multi
//! (`X-B3-*`), Jaeger `uber-trace-id`, SkyWalking `sw8`. When several are present the first valid
//! one in that order wins (W3C is the OpenTelemetry default; B3 single wins over multi per the B3
//! spec).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cormorant_core::skywalking_ids;
use percent_encoding::percent_decode_str;

/// A caller's trace context: the trace to join and the span to become a child of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceContext {
    pub trace_id: [u8; 16],
    pub parent_span_id: [u8; 8],
    /// The caller's sampling decision; `None` when it deferred it.
    pub sampled: Option<bool>,
}

/// The header family a context came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TraceFormat {
    W3c,
    B3,
    Jaeger,
    SkyWalking,
}

/// Why a trace header was ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TraceContextError {
    #[error("wrong number of fields")]
    FieldCount,
    #[error("field is not hex of the right length")]
    BadHex,
    #[error("version ff is forbidden")]
    ForbiddenVersion,
    #[error("all-zero trace or span id")]
    ZeroId,
    #[error("bad sampling flag")]
    BadSampling,
    #[error("field is not valid base64")]
    BadBase64,
    #[error("no trace and span ids (sampling decision only)")]
    NoIds,
}

type Result<T> = std::result::Result<T, TraceContextError>;

/// Decodes `len` hex digits (any case) into the right-aligned bytes of `N` zero-padded bytes.
fn hex_padded<const N: usize>(digits: &str, max_digits: usize) -> Result<[u8; N]> {
    if digits.is_empty() || digits.len() > max_digits || digits.len() > N * 2 {
        return Err(TraceContextError::BadHex);
    }
    let mut out = [0u8; N];
    let start_nibble = N * 2 - digits.len();
    for (index, character) in digits.chars().enumerate() {
        let value = character.to_digit(16).ok_or(TraceContextError::BadHex)? as u8;
        let nibble = start_nibble + index;
        out[nibble / 2] |= if nibble.is_multiple_of(2) {
            value << 4
        } else {
            value
        };
    }
    Ok(out)
}

fn exact_lower_hex<const N: usize>(digits: &str) -> Result<[u8; N]> {
    if digits.len() != N * 2 || digits.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(TraceContextError::BadHex);
    }
    hex_padded(digits, N * 2)
}

fn non_zero<const N: usize>(id: [u8; N]) -> Result<[u8; N]> {
    if id.iter().all(|byte| *byte == 0) {
        Err(TraceContextError::ZeroId)
    } else {
        Ok(id)
    }
}

/// W3C Trace Context `traceparent`: `{version}-{trace-id}-{parent-id}-{flags}`. Version `ff`
/// is invalid; version `00` has exactly four fields; higher versions may append fields, of
/// which the first four are read.
pub fn parse_traceparent(value: &str) -> Result<TraceContext> {
    let value = value.trim_matches([' ', '\t']);
    let mut fields = value.split('-');
    let version = fields.next().ok_or(TraceContextError::FieldCount)?;
    let version: [u8; 1] = exact_lower_hex(version)?;
    if version[0] == 0xff {
        return Err(TraceContextError::ForbiddenVersion);
    }
    let (Some(trace), Some(parent), Some(flags)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(TraceContextError::FieldCount);
    };
    if version[0] == 0 && fields.next().is_some() {
        return Err(TraceContextError::FieldCount);
    }
    let trace_id = non_zero(exact_lower_hex(trace)?)?;
    let parent_span_id = non_zero(exact_lower_hex(parent)?)?;
    let flags: [u8; 1] = exact_lower_hex(flags)?;
    Ok(TraceContext {
        trace_id,
        parent_span_id,
        sampled: Some(flags[0] & 0x01 != 0),
    })
}

fn b3_sampling(value: &str) -> Result<Option<bool>> {
    match value {
        "1" | "d" | "true" => Ok(Some(true)),
        "0" | "false" => Ok(Some(false)),
        _ => Err(TraceContextError::BadSampling),
    }
}

fn b3_ids(trace: &str, span: &str) -> Result<([u8; 16], [u8; 8])> {
    if trace.len() != 16 && trace.len() != 32 || span.len() != 16 {
        return Err(TraceContextError::BadHex);
    }
    Ok((
        non_zero(hex_padded(trace, 32)?)?,
        non_zero(hex_padded(span, 16)?)?,
    ))
}

/// B3 single header: `{TraceId}-{SpanId}[-{0|1|d}[-{ParentSpanId}]]`; a lone `0`/`1`/`d` carries
/// only a sampling decision and no context to join.
pub fn parse_b3_single(value: &str) -> Result<TraceContext> {
    let fields: Vec<&str> = value.trim().split('-').collect();
    match fields.as_slice() {
        [sampling] => b3_sampling(sampling).and(Err(TraceContextError::NoIds)),
        [trace, span, rest @ ..] if rest.len() <= 2 => {
            let (trace_id, parent_span_id) = b3_ids(trace, span)?;
            let sampled = rest.first().map(|s| b3_sampling(s)).transpose()?.flatten();
            if let Some(parent) = rest.get(1) {
                hex_padded::<8>(parent, 16)?;
            }
            Ok(TraceContext {
                trace_id,
                parent_span_id,
                sampled,
            })
        }
        _ => Err(TraceContextError::FieldCount),
    }
}

/// B3 multi headers: `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-Sampled` and `X-B3-Flags` (`1` =
/// debug, which implies sampled).
pub fn parse_b3_multi(
    trace_id: &str,
    span_id: &str,
    sampled: Option<&str>,
    flags: Option<&str>,
) -> Result<TraceContext> {
    let (trace_id, parent_span_id) = b3_ids(trace_id.trim(), span_id.trim())?;
    let debug = flags.is_some_and(|flags| flags.trim() == "1");
    let sampled = match sampled {
        Some(value) => b3_sampling(value.trim())?,
        None => None,
    };
    Ok(TraceContext {
        trace_id,
        parent_span_id,
        sampled: if debug { Some(true) } else { sampled },
    })
}

/// Jaeger `uber-trace-id`: `{trace}:{span}:{parent}:{flags}`, URL-encoded in HTTP headers; ids
/// may be shorter than 32/16 hex digits and are left-padded with zeros.
pub fn parse_uber_trace_id(value: &str) -> Result<TraceContext> {
    let decoded = percent_decode_str(value.trim()).decode_utf8_lossy();
    let fields: Vec<&str> = decoded.split(':').collect();
    let [trace, span, _parent, flags] = fields.as_slice() else {
        return Err(TraceContextError::FieldCount);
    };
    let trace_id = non_zero(hex_padded(trace, 32)?)?;
    let parent_span_id = non_zero(hex_padded(span, 16)?)?;
    let flags: [u8; 1] = hex_padded(flags, 2).map_err(|_| TraceContextError::BadSampling)?;
    Ok(TraceContext {
        trace_id,
        parent_span_id,
        sampled: Some(flags[0] & 0x01 != 0),
    })
}

fn base64_text(field: &str) -> Result<String> {
    let bytes = STANDARD
        .decode(field)
        .map_err(|_| TraceContextError::BadBase64)?;
    String::from_utf8(bytes).map_err(|_| TraceContextError::BadBase64)
}

/// SkyWalking `sw8`: eight `-`-separated fields `{sample}-{b64 traceId}-{b64 segmentId}-
/// {spanId}-{b64 service}-{b64 instance}-{b64 endpoint}-{b64 peer}`. The ids map to OTLP ids as
/// the `skywalking` receiver maps them ([`cormorant_core::skywalking_ids`]), so a span captured
/// here joins the agent's segment as its child.
pub fn parse_sw8(value: &str) -> Result<TraceContext> {
    let fields: Vec<&str> = value.trim().split('-').collect();
    let [
        sample,
        trace,
        segment,
        span,
        _service,
        _instance,
        _endpoint,
        _peer,
    ] = fields.as_slice()
    else {
        return Err(TraceContextError::FieldCount);
    };
    let sampled = match *sample {
        "1" => true,
        "0" => false,
        _ => return Err(TraceContextError::BadSampling),
    };
    let trace_id =
        skywalking_ids::id_bytes(&base64_text(trace)?).ok_or(TraceContextError::ZeroId)?;
    let span_index: i32 = span.parse().map_err(|_| TraceContextError::BadHex)?;
    let parent_span_id = skywalking_ids::span_id(&base64_text(segment)?, span_index)
        .ok_or(TraceContextError::ZeroId)?;
    Ok(TraceContext {
        trace_id,
        parent_span_id,
        sampled: Some(sampled),
    })
}

/// The raw trace headers of one HTTP message, collected while its headers are scanned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceHeaders {
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
    pub b3: Option<String>,
    pub x_b3_trace_id: Option<String>,
    pub x_b3_span_id: Option<String>,
    pub x_b3_sampled: Option<String>,
    pub x_b3_flags: Option<String>,
    pub uber_trace_id: Option<String>,
    pub sw8: Option<String>,
}

impl TraceHeaders {
    /// Keeps `value` if `name` (any case) is a trace header; says whether it was one. The
    /// first occurrence of a header wins. The value is raw header bytes (lossy UTF-8), so a
    /// parser converts only the values of trace headers.
    pub fn record(&mut self, name: &str, value: impl AsRef<[u8]>) -> bool {
        let slot = match name.len() {
            2 if name.eq_ignore_ascii_case("b3") => &mut self.b3,
            3 if name.eq_ignore_ascii_case("sw8") => &mut self.sw8,
            10 if name.eq_ignore_ascii_case("tracestate") => &mut self.tracestate,
            10 if name.eq_ignore_ascii_case("x-b3-flags") => &mut self.x_b3_flags,
            11 if name.eq_ignore_ascii_case("traceparent") => &mut self.traceparent,
            11 if name.eq_ignore_ascii_case("x-b3-spanid") => &mut self.x_b3_span_id,
            12 if name.eq_ignore_ascii_case("x-b3-traceid") => &mut self.x_b3_trace_id,
            12 if name.eq_ignore_ascii_case("x-b3-sampled") => &mut self.x_b3_sampled,
            13 if name.eq_ignore_ascii_case("uber-trace-id") => &mut self.uber_trace_id,
            _ => return false,
        };
        if slot.is_none() {
            *slot = Some(String::from_utf8_lossy(value.as_ref()).into_owned());
        }
        true
    }

    /// Whether no trace header was seen.
    pub fn is_empty(&self) -> bool {
        *self == TraceHeaders::default()
    }

    /// The caller's context from the first valid header family, in priority order.
    pub fn context(&self) -> Option<(TraceContext, TraceFormat)> {
        let w3c = || parse_traceparent(self.traceparent.as_deref()?).ok();
        let b3_single = || parse_b3_single(self.b3.as_deref()?).ok();
        let b3_multi = || {
            parse_b3_multi(
                self.x_b3_trace_id.as_deref()?,
                self.x_b3_span_id.as_deref()?,
                self.x_b3_sampled.as_deref(),
                self.x_b3_flags.as_deref(),
            )
            .ok()
        };
        let jaeger = || parse_uber_trace_id(self.uber_trace_id.as_deref()?).ok();
        let skywalking = || parse_sw8(self.sw8.as_deref()?).ok();
        w3c()
            .map(|context| (context, TraceFormat::W3c))
            .or_else(|| b3_single().map(|context| (context, TraceFormat::B3)))
            .or_else(|| b3_multi().map(|context| (context, TraceFormat::B3)))
            .or_else(|| jaeger().map(|context| (context, TraceFormat::Jaeger)))
            .or_else(|| skywalking().map(|context| (context, TraceFormat::SkyWalking)))
    }

    /// `tracestate`, which is only meaningful next to a valid `traceparent`.
    pub fn valid_tracestate(&self) -> Option<&str> {
        let traceparent = self.traceparent.as_deref()?;
        parse_traceparent(traceparent).ok()?;
        self.tracestate.as_deref()
    }
}

#[cfg(test)]
#[path = "trace_context_tests.rs"]
mod tests;
