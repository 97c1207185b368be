//! The SkyWalking data-collect protocol v3 messages this receiver reads, declared by field number
//! (`shared/reference/protocols.md` §3.3) rather than generated, so the build needs no `protoc`.
//! Enum fields are kept as their numbers; fields the receiver does not use are not declared and
//! are skipped when decoding, as protobuf allows.

/// The reply to every RPC. Agents read commands from it; an empty one asks nothing of them.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Commands {
    #[prost(message, repeated, tag = "1")]
    pub commands: Vec<Command>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Command {
    #[prost(string, tag = "1")]
    pub command: String,
    #[prost(message, repeated, tag = "2")]
    pub args: Vec<KeyStringValuePair>,
}

/// The body of an RPC whose content the receiver does not use (keep-alives, instance
/// properties, profiling queries): any message decodes into it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Ignored {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyStringValuePair {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// One process's part of a trace.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SegmentObject {
    #[prost(string, tag = "1")]
    pub trace_id: String,
    #[prost(string, tag = "2")]
    pub trace_segment_id: String,
    #[prost(message, repeated, tag = "3")]
    pub spans: Vec<SpanObject>,
    #[prost(string, tag = "4")]
    pub service: String,
    #[prost(string, tag = "5")]
    pub service_instance: String,
    #[prost(bool, tag = "6")]
    pub is_size_limited: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SpanObject {
    /// The span's index in its segment.
    #[prost(int32, tag = "1")]
    pub span_id: i32,
    /// The parent's index in the same segment; −1 for the segment's first span.
    #[prost(int32, tag = "2")]
    pub parent_span_id: i32,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "3")]
    pub start_time: i64,
    #[prost(int64, tag = "4")]
    pub end_time: i64,
    /// Parents in other segments (other processes or threads).
    #[prost(message, repeated, tag = "5")]
    pub refs: Vec<SegmentReference>,
    #[prost(string, tag = "6")]
    pub operation_name: String,
    #[prost(string, tag = "7")]
    pub peer: String,
    /// Entry 0, Exit 1, Local 2.
    #[prost(int32, tag = "8")]
    pub span_type: i32,
    /// Unknown 0, Database 1, RPCFramework 2, Http 3, MQ 4, Cache 5, FAAS 6.
    #[prost(int32, tag = "9")]
    pub span_layer: i32,
    #[prost(int32, tag = "10")]
    pub component_id: i32,
    #[prost(bool, tag = "11")]
    pub is_error: bool,
    #[prost(message, repeated, tag = "12")]
    pub tags: Vec<KeyStringValuePair>,
    #[prost(message, repeated, tag = "13")]
    pub logs: Vec<SpanLog>,
    #[prost(bool, tag = "14")]
    pub skip_analysis: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SegmentReference {
    /// CrossProcess 0, CrossThread 1.
    #[prost(int32, tag = "1")]
    pub ref_type: i32,
    #[prost(string, tag = "2")]
    pub trace_id: String,
    #[prost(string, tag = "3")]
    pub parent_trace_segment_id: String,
    #[prost(int32, tag = "4")]
    pub parent_span_id: i32,
    #[prost(string, tag = "5")]
    pub parent_service: String,
    #[prost(string, tag = "6")]
    pub parent_service_instance: String,
    #[prost(string, tag = "7")]
    pub parent_endpoint: String,
    #[prost(string, tag = "8")]
    pub network_address_used_at_peer: String,
}

/// A timestamped set of key-value pairs on a span (`Log` in the protocol).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SpanLog {
    #[prost(int64, tag = "1")]
    pub time: i64,
    #[prost(message, repeated, tag = "2")]
    pub data: Vec<KeyStringValuePair>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SegmentCollection {
    #[prost(message, repeated, tag = "1")]
    pub segments: Vec<SegmentObject>,
}

/// One log line from an agent.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LogData {
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "1")]
    pub timestamp: i64,
    #[prost(string, tag = "2")]
    pub service: String,
    #[prost(string, tag = "3")]
    pub service_instance: String,
    #[prost(string, tag = "4")]
    pub endpoint: String,
    #[prost(message, optional, tag = "5")]
    pub body: Option<LogDataBody>,
    #[prost(message, optional, tag = "6")]
    pub trace_context: Option<LogTraceContext>,
    #[prost(message, optional, tag = "7")]
    pub tags: Option<LogTags>,
    #[prost(string, tag = "8")]
    pub layer: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LogDataBody {
    /// `text`, `json` or `yaml`, as the sender names it.
    #[prost(string, tag = "1")]
    pub r#type: String,
    #[prost(oneof = "LogContent", tags = "2, 3, 4")]
    pub content: Option<LogContent>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum LogContent {
    #[prost(message, tag = "2")]
    Text(TextLog),
    #[prost(message, tag = "3")]
    Json(JsonLog),
    #[prost(message, tag = "4")]
    Yaml(YamlLog),
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TextLog {
    #[prost(string, tag = "1")]
    pub text: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct JsonLog {
    #[prost(string, tag = "1")]
    pub json: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct YamlLog {
    #[prost(string, tag = "1")]
    pub yaml: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LogTraceContext {
    #[prost(string, tag = "1")]
    pub trace_id: String,
    #[prost(string, tag = "2")]
    pub trace_segment_id: String,
    #[prost(int32, tag = "3")]
    pub span_id: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LogTags {
    #[prost(message, repeated, tag = "1")]
    pub data: Vec<KeyStringValuePair>,
}

/// One meter reading. Java agents set the service, instance and time on a stream's first
/// reading only; the receiver carries them over to the readings after it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MeterData {
    #[prost(oneof = "MeterValue", tags = "1, 2")]
    pub metric: Option<MeterValue>,
    #[prost(string, tag = "3")]
    pub service: String,
    #[prost(string, tag = "4")]
    pub service_instance: String,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "5")]
    pub timestamp: i64,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum MeterValue {
    #[prost(message, tag = "1")]
    SingleValue(MeterSingleValue),
    #[prost(message, tag = "2")]
    Histogram(MeterHistogram),
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct MeterSingleValue {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, repeated, tag = "2")]
    pub labels: Vec<Label>,
    #[prost(double, tag = "3")]
    pub value: f64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct MeterHistogram {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, repeated, tag = "2")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "3")]
    pub values: Vec<MeterBucketValue>,
}

/// A histogram bucket: its lower bound and how many values fell in it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MeterBucketValue {
    #[prost(double, tag = "1")]
    pub bucket: f64,
    #[prost(int64, tag = "2")]
    pub count: i64,
    #[prost(bool, tag = "3")]
    pub is_negative_infinity: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct MeterDataCollection {
    #[prost(message, repeated, tag = "1")]
    pub meter_data: Vec<MeterData>,
}
