//! What can go wrong talking to ClickHouse, and which failures are worth retrying.
//!
//! ClickHouse's HTTP interface answers an error with a non-2xx status, the exception code in the
//! `X-ClickHouse-Exception-Code` header and the exception text in the body. The status alone says
//! little (most exceptions are a 500), so the code decides: errors about the data or the schema
//! will fail the same way however often the insert is repeated and are permanent; overload and
//! replication trouble pass and are retried; an unknown code falls back to the status.

use crate::compress::CompressError;
use std::time::Duration;

/// Exception codes for data, schema, permission or request errors: sending the same insert again
/// cannot succeed.
const PERMANENT_CODES: [u32; 32] = [
    6,   // CANNOT_PARSE_TEXT
    16,  // NO_SUCH_COLUMN_IN_TABLE
    20,  // NUMBER_OF_COLUMNS_DOESNT_MATCH
    27,  // CANNOT_PARSE_INPUT_ASSERTION_FAILED
    33,  // CANNOT_READ_ALL_DATA
    36,  // BAD_ARGUMENTS
    38,  // CANNOT_PARSE_DATE
    41,  // CANNOT_PARSE_DATETIME
    43,  // ILLEGAL_TYPE_OF_ARGUMENT
    44,  // ILLEGAL_COLUMN
    47,  // UNKNOWN_IDENTIFIER
    48,  // NOT_IMPLEMENTED
    53,  // TYPE_MISMATCH
    60,  // UNKNOWN_TABLE
    62,  // SYNTAX_ERROR
    69,  // ARGUMENT_OUT_OF_BOUND
    70,  // CANNOT_CONVERT_TYPE
    72,  // CANNOT_PARSE_NUMBER
    73,  // UNKNOWN_FORMAT
    81,  // UNKNOWN_DATABASE
    115, // UNKNOWN_SETTING
    117, // INCORRECT_DATA
    130, // CANNOT_READ_ARRAY_FROM_TEXT
    131, // TOO_LARGE_STRING_SIZE
    164, // READONLY
    192, // UNKNOWN_USER
    193, // WRONG_PASSWORD
    194, // REQUIRED_PASSWORD
    271, // CANNOT_DECOMPRESS
    291, // DATABASE_ACCESS_DENIED
    497, // ACCESS_DENIED
    516, // AUTHENTICATION_FAILED
];

/// Exception codes for conditions that pass: overload, timeouts, replicas or Keeper unavailable.
/// Listed because some come with a 4xx status that would otherwise read as permanent.
const RETRYABLE_CODES: [u32; 16] = [
    3,   // UNEXPECTED_END_OF_FILE
    159, // TIMEOUT_EXCEEDED
    202, // TOO_MANY_SIMULTANEOUS_QUERIES
    203, // NO_FREE_CONNECTION
    209, // SOCKET_TIMEOUT
    210, // NETWORK_ERROR
    236, // ABORTED
    241, // MEMORY_LIMIT_EXCEEDED
    242, // TABLE_IS_READ_ONLY
    252, // TOO_MANY_PARTS
    279, // ALL_CONNECTION_TRIES_FAILED
    285, // TOO_FEW_LIVE_REPLICAS
    319, // UNKNOWN_STATUS_OF_INSERT
    394, // QUERY_WAS_CANCELLED
    425, // SYSTEM_ERROR
    999, // KEEPER_EXCEPTION
];

#[derive(Debug, thiserror::Error)]
pub enum ClickHouseError {
    #[error("cannot reach ClickHouse at {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("no answer from ClickHouse within {0:?}")]
    Timeout(Duration),
    /// ClickHouse (or a proxy in front of it) answered with an error.
    #[error("{}", server_message(*.status, *.code, .message))]
    Server {
        status: u16,
        /// `X-ClickHouse-Exception-Code`; absent when a proxy answered.
        code: Option<u32>,
        /// ClickHouse's exception text (the response body).
        message: String,
    },
    #[error("reading ClickHouse's answer failed: {0}")]
    Answer(String),
    #[error("cannot compress the request body: {0}")]
    Compress(#[from] CompressError),
}

fn server_message(status: u16, code: Option<u32>, message: &str) -> String {
    match code {
        Some(code) => format!("ClickHouse error {code} (HTTP {status}): {message}"),
        None => format!("HTTP {status} from ClickHouse's endpoint: {message}"),
    }
}

impl ClickHouseError {
    /// Whether repeating the same request cannot help.
    pub fn is_permanent(&self) -> bool {
        match self {
            ClickHouseError::Unreachable { .. }
            | ClickHouseError::Timeout(_)
            | ClickHouseError::Answer(_) => false,
            ClickHouseError::Compress(_) => true,
            ClickHouseError::Server { status, code, .. } => match code {
                Some(code) if PERMANENT_CODES.contains(code) => true,
                Some(code) if RETRYABLE_CODES.contains(code) => false,
                _ => (400..500).contains(status) && *status != 408 && *status != 429,
            },
        }
    }

    /// Whether the failure says nothing about the statement itself: the store was not there,
    /// was overloaded, or answered through a proxy that could not reach it. Start-up retries these
    /// and fails at once on anything else, since ClickHouse rejecting DDL does not pass.
    pub fn is_transient(&self) -> bool {
        match self {
            ClickHouseError::Unreachable { .. }
            | ClickHouseError::Timeout(_)
            | ClickHouseError::Answer(_) => true,
            ClickHouseError::Compress(_) => false,
            ClickHouseError::Server { status, code, .. } => match code {
                Some(code) => RETRYABLE_CODES.contains(code),
                None => *status >= 500 || *status == 408 || *status == 429,
            },
        }
    }

    /// The exception code, for counting rejections by cause.
    pub fn code(&self) -> Option<u32> {
        match self {
            ClickHouseError::Server { code, .. } => *code,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(status: u16, code: Option<u32>) -> ClickHouseError {
        ClickHouseError::Server {
            status,
            code,
            message: "Code: 0. DB::Exception: test".into(),
        }
    }

    #[test]
    fn data_and_schema_errors_are_permanent() {
        for code in [16, 27, 33, 47, 53, 60, 62, 81, 117, 516] {
            assert!(server(500, Some(code)).is_permanent(), "code {code}");
            assert!(server(400, Some(code)).is_permanent(), "code {code}");
        }
    }

    #[test]
    fn overload_and_transport_errors_are_retried() {
        for code in [159, 202, 241, 242, 252, 319, 999] {
            assert!(!server(500, Some(code)).is_permanent(), "code {code}");
            assert!(!server(400, Some(code)).is_permanent(), "code {code}");
        }
        assert!(
            !ClickHouseError::Unreachable {
                url: "http://h:8123/".into(),
                message: "connection refused".into()
            }
            .is_permanent()
        );
        assert!(!ClickHouseError::Timeout(Duration::from_secs(5)).is_permanent());
        assert!(!ClickHouseError::Answer("reset".into()).is_permanent());
    }

    #[test]
    fn unknown_codes_and_proxies_fall_back_on_the_status() {
        assert!(!server(500, Some(1234)).is_permanent());
        assert!(!server(502, None).is_permanent());
        assert!(!server(503, None).is_permanent());
        assert!(!server(429, None).is_permanent());
        assert!(!server(408, None).is_permanent());
        assert!(server(401, None).is_permanent());
        assert!(server(404, Some(1234)).is_permanent());
    }

    #[test]
    fn start_up_retries_only_what_says_nothing_about_the_statement() {
        assert!(server(500, Some(252)).is_transient());
        assert!(server(503, None).is_transient());
        assert!(ClickHouseError::Timeout(Duration::from_secs(1)).is_transient());
        // An unknown engine (UNKNOWN_STORAGE) is a 500 that no retry fixes.
        assert!(!server(500, Some(56)).is_transient());
        assert!(!server(500, Some(62)).is_transient());
        assert!(!server(401, None).is_transient());
    }

    #[test]
    fn messages_carry_clickhouse_text_and_code() {
        let text = server(500, Some(60)).to_string();
        assert_eq!(
            text,
            "ClickHouse error 60 (HTTP 500): Code: 0. DB::Exception: test"
        );
        assert_eq!(server(500, Some(60)).code(), Some(60));
        assert!(server(502, None).to_string().starts_with("HTTP 502"));
    }
}
