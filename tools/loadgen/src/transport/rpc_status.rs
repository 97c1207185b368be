//! The parts of `google.rpc.Status` a client needs: the message of an OTLP/HTTP error
//! body, and the `RetryInfo` delay that makes gRPC RESOURCE_EXHAUSTED retryable and tells a
//! throttled client how long to wait.

use prost::Message;
use std::time::Duration;

const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";

#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<AnyDetail>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, Message)]
struct AnyDetail {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, Message)]
struct ProtoDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

/// The `retry_delay` of a `RetryInfo` detail in an encoded `google.rpc.Status`
/// (`grpc-status-details-bin`), if there is one.
pub(super) fn retry_delay(encoded_status: &[u8]) -> Option<Duration> {
    let status = RpcStatus::decode(encoded_status).ok()?;
    let detail = status
        .details
        .iter()
        .find(|d| d.type_url == RETRY_INFO_TYPE)?;
    let delay = RetryInfo::decode(detail.value.as_slice())
        .ok()?
        .retry_delay?;
    let seconds = u64::try_from(delay.seconds).ok()?;
    let nanos = u32::try_from(delay.nanos).ok()?;
    Some(Duration::new(seconds, nanos))
}

/// The `message` of an encoded `google.rpc.Status` error body, if the body is one.
pub(super) fn message(encoded_status: &[u8]) -> Option<String> {
    RpcStatus::decode(encoded_status)
        .ok()
        .map(|status| status.message)
        .filter(|message| !message.is_empty())
}

#[cfg(test)]
pub(crate) fn encode_with_retry_delay(code: i32, message: &str, delay: Duration) -> Vec<u8> {
    let retry_info = RetryInfo {
        retry_delay: Some(ProtoDuration {
            seconds: delay.as_secs() as i64,
            nanos: delay.subsec_nanos() as i32,
        }),
    };
    RpcStatus {
        code,
        message: message.to_owned(),
        details: vec![AnyDetail {
            type_url: RETRY_INFO_TYPE.to_owned(),
            value: retry_info.encode_to_vec(),
        }],
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_retry_delay_and_message() {
        let encoded = encode_with_retry_delay(8, "slow down", Duration::from_millis(1_500));
        assert_eq!(retry_delay(&encoded), Some(Duration::from_millis(1_500)));
        assert_eq!(message(&encoded).as_deref(), Some("slow down"));
    }

    #[test]
    fn no_retry_info_means_no_delay() {
        let encoded = RpcStatus {
            code: 14,
            message: String::new(),
            details: vec![AnyDetail {
                type_url: "type.googleapis.com/google.rpc.BadRequest".to_owned(),
                value: Vec::new(),
            }],
        }
        .encode_to_vec();
        assert_eq!(retry_delay(&encoded), None);
        assert_eq!(message(&encoded), None);
        assert_eq!(retry_delay(b"not protobuf \xff"), None);
    }
}
