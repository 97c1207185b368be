use std::sync::Arc;

use cormorant_receiver_ebpf::pairing::ConnectionEvent;
use cormorant_receiver_ebpf::redis::ReplyKind;
use cormorant_receiver_ebpf::{
    BodyFraming, Chunk, Connection, Direction, Exchange, L7Parser, Parsed, RedisCommand,
    RedisParser, RedisReply, Request, Response, Role, Transport,
};

use crate::captures::*;
use crate::common::*;

fn redis() -> Arc<dyn L7Parser> {
    Arc::new(RedisParser)
}

fn command(exchange: &Exchange) -> &RedisCommand {
    match &exchange.request.message {
        Request::Redis(command) => command,
        other => panic!("not Redis: {other:?}"),
    }
}

fn reply(exchange: &Exchange) -> &RedisReply {
    match &exchange.response.message {
        Response::Redis(reply) => reply,
        other => panic!("not Redis: {other:?}"),
    }
}

/// (operation, key, reply kind, error) of every exchange.
fn summary(events: &[cormorant_receiver_ebpf::pairing::ConnectionEvent]) -> Vec<String> {
    exchanges(events)
        .iter()
        .map(|exchange| {
            format!(
                "{} {:?} -> {:?} {:?}",
                command(exchange).operation(),
                command(exchange).key,
                reply(exchange).kind,
                reply(exchange).error
            )
        })
        .collect()
}

#[test]
fn redis_cli_resp2_pipeline() {
    let events = run_whole(
        redis(),
        Transport::Stream,
        REDIS_CLI_COMMANDS,
        REDIS_CLI_REPLIES,
    );
    assert_eq!(
        summary(&events),
        [
            r#"SET Some("user:100") -> SimpleString None"#,
            r#"GET Some("user:100") -> BulkString None"#,
            r#"GET Some("missing") -> Null None"#,
            r#"INCR Some("user:100") -> Error Some("ERR value is not an integer or out of range")"#,
            r#"CLIENT SETNAME None -> SimpleString None"#,
            r#"HSET Some("profile1") -> Integer None"#,
            r#"PING None -> SimpleString None"#,
        ]
    );
    assert_eq!(completions(&events).len(), 7);
    let all = exchanges(&events);
    assert!(all[3].response.message.is_error());
    assert!(!all[0].response.message.is_error());
    assert_eq!(command(all[5]).argument_count, 4);
    assert!(command(all[6]).inline);
    assert!(!command(all[0]).inline);
}

#[test]
fn resp3_session_with_push_in_between() {
    let events = run_whole(
        redis(),
        Transport::Stream,
        REDIS_RESP3_COMMANDS,
        REDIS_RESP3_REPLIES,
    );
    assert_eq!(
        summary(&events),
        [
            r#"HELLO None -> Map None"#,
            r#"HGETALL Some("profile1") -> Map None"#,
            r#"SMEMBERS Some("tags") -> Set None"#,
            r#"INCRBYFLOAT Some("price") -> Double None"#,
            r#"SISMEMBER Some("tags") -> Boolean None"#,
            r#"INFO None -> Verbatim None"#,
            r#"GET Some("none") -> Null None"#,
            r#"LPUSH Some("list") -> BulkError Some("ERR wrong number of arguments for 'lpush'")"#,
        ]
    );
    assert_eq!(
        completions(&events).len(),
        8,
        "the push message answers nothing"
    );
}

#[test]
fn split_and_coalesced_reads_give_the_same_exchanges() {
    assert_split_invariant(redis(), REDIS_CLI_COMMANDS, REDIS_CLI_REPLIES);
    assert_split_invariant(redis(), REDIS_RESP3_COMMANDS, REDIS_RESP3_REPLIES);
}

/// The kernel's view of one large write: its first 1024 bytes.
fn captured(timestamp_ns: u64, data: &[u8]) -> Chunk<'_> {
    Chunk {
        timestamp_ns,
        data: &data[..1024],
        length: data.len(),
    }
}

#[test]
fn large_values_are_skipped_across_capture_gaps() {
    let value_length = 100_000;
    let mut set = format!("*3\r\n$3\r\nSET\r\n$7\r\nblob:42\r\n${value_length}\r\n").into_bytes();
    set.resize(set.len() + value_length, b'v');
    set.extend_from_slice(b"\r\n");
    let get = b"*2\r\n$3\r\nGET\r\n$7\r\nblob:42\r\n";
    let mut get_reply = format!("${value_length}\r\n").into_bytes();
    get_reply.resize(get_reply.len() + value_length, b'v');
    get_reply.extend_from_slice(b"\r\n");

    let mut connection = Connection::new(redis(), Role::Client, Transport::Stream);
    let mut events = connection.on_data(Direction::Egress, captured(1, &set));
    events.extend(connection.on_data(Direction::Egress, Chunk::whole(2, get)));
    events.extend(connection.on_data(Direction::Ingress, Chunk::whole(3, b"+OK\r\n")));
    events.extend(connection.on_data(Direction::Ingress, captured(4, &get_reply)));
    assert_eq!(
        summary(&events),
        [
            r#"SET Some("blob:42") -> SimpleString None"#,
            r#"GET Some("blob:42") -> BulkString None"#,
        ]
    );
    let all = exchanges(&events);
    assert_eq!(
        command(all[0]).body,
        BodyFraming::Length(value_length as u64 + 2)
    );
    assert!(all[1].response.body_complete);
}

#[test]
fn eval_and_subcommands() {
    let parser = RedisParser;
    let eval = b"*5\r\n$4\r\nEVAL\r\n$8\r\nreturn 1\r\n$1\r\n1\r\n$6\r\nlock:a\r\n$2\r\n30\r\n";
    let Parsed::Complete { consumed, message } = parser.parse_command(eval) else {
        panic!("complete command expected");
    };
    assert_eq!(consumed, eval.len());
    assert_eq!(message.key.as_deref(), Some("lock:a"));
    let config = b"*3\r\n$6\r\nconfig\r\n$3\r\nget\r\n$10\r\nmaxmemory*\r\n";
    let Parsed::Complete { message, .. } = parser.parse_command(config) else {
        panic!("complete command expected");
    };
    assert_eq!(message.operation(), "CONFIG GET");
    assert_eq!(message.key, None);
}

#[test]
fn garbage_is_rejected() {
    let parser = RedisParser;
    let rejects: [&[u8]; 6] = [
        b"\x16\x03\x01\x02\x00",
        b"*1\r\n:5\r\n",
        b"*0\r\n",
        b"*1\r\n$3\r\n\x00\x01\x02\r\n",
        b"*1\r\n$-1\r\n",
        b"GET \x00key\r\n",
    ];
    for bytes in rejects {
        assert!(
            matches!(parser.parse_command(bytes), Parsed::Invalid(_)),
            "{bytes:?}"
        );
    }
    assert!(matches!(
        parser.parse_reply(b"?what\r\n"),
        Parsed::Invalid(_)
    ));
    assert!(matches!(
        parser.parse_reply(b"$5\r\nabcdefg\r\n"),
        Parsed::Invalid(_)
    ));
    assert_eq!(parser.parse_reply(b"%1\r\n+a\r\n"), Parsed::NeedMore);
    assert!(parser.infer(b"\x16\x03\x01\x02\x00").is_none());
    assert!(parser.infer(b"HELLOTHERE friend\r\n").is_none());
    assert_eq!(
        parser.parse_reply(b"|1\r\n+ttl\r\n:3\r\n:7\r\n"),
        Parsed::Complete {
            consumed: 18,
            message: RedisReply {
                kind: ReplyKind::Integer,
                error: None,
                body: BodyFraming::None
            }
        }
    );
}

#[test]
fn lost_reply_does_not_shift_later_replies() {
    let mut big_map = b"*2000\r\n".to_vec();
    for index in 0..2000 {
        big_map.extend_from_slice(format!("$6\r\nf{index:05}\r\n").as_bytes());
    }
    let mut connection = Connection::new(redis(), Role::Client, Transport::Stream);
    let hgetall = b"*2\r\n$7\r\nHGETALL\r\n$4\r\nhuge\r\n";
    let mut events = connection.on_data(Direction::Egress, Chunk::whole(1, hgetall));
    events.extend(connection.on_data(Direction::Ingress, captured(2, &big_map)));
    let get = b"*2\r\n$3\r\nGET\r\n$5\r\nsmall\r\n";
    events.extend(connection.on_data(Direction::Egress, Chunk::whole(3, get)));
    events.extend(connection.on_data(Direction::Ingress, Chunk::whole(4, b"$2\r\nok\r\n")));
    let unanswered: Vec<&str> = events
        .iter()
        .filter_map(|event| match event {
            ConnectionEvent::Unanswered(pending) => match &pending.request.message {
                Request::Redis(command) => Some(command.name.as_str()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(unanswered, ["HGETALL"]);
    assert_eq!(
        summary(&events),
        [r#"GET Some("small") -> BulkString None"#]
    );
    assert!(connection.stats().1.lost_bytes > 0);
}
