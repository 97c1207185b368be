//! What Redis commands look like: which have subcommands, where their first key is, and which
//! names are common enough to identify the protocol from a connection's first bytes.

/// Container commands whose first argument names the real operation.
const WITH_SUBCOMMAND: [&str; 16] = [
    "ACL", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "DEBUG", "FUNCTION", "LATENCY", "MEMORY",
    "MODULE", "OBJECT", "PUBSUB", "SCRIPT", "SLOWLOG", "XGROUP", "XINFO",
];

/// Commands whose arguments hold no key (channels, patterns, options and scripts are not keys).
const WITHOUT_KEY: [&str; 44] = [
    "ACL",
    "AUTH",
    "BGREWRITEAOF",
    "BGSAVE",
    "CLIENT",
    "CLUSTER",
    "COMMAND",
    "CONFIG",
    "DBSIZE",
    "DEBUG",
    "DISCARD",
    "ECHO",
    "EXEC",
    "FLUSHALL",
    "FLUSHDB",
    "FUNCTION",
    "HELLO",
    "INFO",
    "KEYS",
    "LASTSAVE",
    "LATENCY",
    "MODULE",
    "MONITOR",
    "MULTI",
    "PING",
    "PSUBSCRIBE",
    "PUBLISH",
    "PUBSUB",
    "PUNSUBSCRIBE",
    "QUIT",
    "RANDOMKEY",
    "READONLY",
    "READWRITE",
    "RESET",
    "ROLE",
    "SAVE",
    "SCAN",
    "SCRIPT",
    "SELECT",
    "SLOWLOG",
    "SPUBLISH",
    "SUBSCRIBE",
    "TIME",
    "UNSUBSCRIBE",
];

/// Common commands: seeing one of these first makes a connection certainly Redis.
const KNOWN: [&str; 64] = [
    "APPEND",
    "AUTH",
    "BLPOP",
    "BRPOP",
    "CLIENT",
    "CLUSTER",
    "COMMAND",
    "CONFIG",
    "DBSIZE",
    "DECR",
    "DECRBY",
    "DEL",
    "EVAL",
    "EVALSHA",
    "EXEC",
    "EXISTS",
    "EXPIRE",
    "FLUSHALL",
    "FLUSHDB",
    "GET",
    "GETDEL",
    "GETEX",
    "HDEL",
    "HELLO",
    "HEXISTS",
    "HGET",
    "HGETALL",
    "HINCRBY",
    "HKEYS",
    "HLEN",
    "HMGET",
    "HMSET",
    "HSET",
    "INCR",
    "INCRBY",
    "INFO",
    "KEYS",
    "LLEN",
    "LPOP",
    "LPUSH",
    "LRANGE",
    "MGET",
    "MSET",
    "MULTI",
    "PEXPIRE",
    "PING",
    "PUBLISH",
    "RPOP",
    "RPUSH",
    "SADD",
    "SCAN",
    "SELECT",
    "SET",
    "SETEX",
    "SISMEMBER",
    "SMEMBERS",
    "SREM",
    "SUBSCRIBE",
    "TTL",
    "TYPE",
    "UNLINK",
    "XADD",
    "ZADD",
    "ZRANGE",
];

pub fn has_subcommand(name: &str) -> bool {
    WITH_SUBCOMMAND.contains(&name)
}

pub fn is_known_command(name: &str) -> bool {
    KNOWN.contains(&name)
}

fn numeric_argument(arguments: &[&[u8]], index: usize) -> Option<usize> {
    std::str::from_utf8(arguments.get(index)?)
        .ok()?
        .parse()
        .ok()
}

/// The first key among `arguments` (`arguments[0]` is the command name, already uppercased in
/// `name`). Arguments missing because they were skipped as a body simply yield no key.
pub fn first_key<'a>(name: &str, arguments: &[&'a [u8]]) -> Option<&'a [u8]> {
    let argument = |index: usize| arguments.get(index).copied();
    match name {
        _ if WITHOUT_KEY.contains(&name) => None,
        // EVAL script numkeys key... ; FCALL function numkeys key...
        "EVAL" | "EVALSHA" | "EVAL_RO" | "EVALSHA_RO" | "FCALL" | "FCALL_RO" => {
            (numeric_argument(arguments, 2)? > 0)
                .then(|| argument(3))
                .flatten()
        }
        // numkeys key...
        "LMPOP" | "ZMPOP" | "SINTERCARD" | "ZINTER" | "ZINTERCARD" | "ZUNION" | "ZDIFF" => {
            (numeric_argument(arguments, 1)? > 0)
                .then(|| argument(2))
                .flatten()
        }
        // timeout numkeys key...
        "BLMPOP" | "BZMPOP" => (numeric_argument(arguments, 2)? > 0)
            .then(|| argument(3))
            .flatten(),
        // BITOP operation destkey key...
        "BITOP" => argument(2),
        // OBJECT ENCODING key; MEMORY USAGE key
        "OBJECT" | "MEMORY" => argument(2),
        // MIGRATE host port key|"" destination-db timeout [...]
        "MIGRATE" => argument(3).filter(|key| !key.is_empty()),
        "XREAD" | "XREADGROUP" => {
            let streams = arguments
                .iter()
                .position(|word| word.eq_ignore_ascii_case(b"STREAMS"))?;
            argument(streams + 1)
        }
        _ => argument(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(words: &[&str]) -> Option<String> {
        let arguments: Vec<&[u8]> = words.iter().map(|word| word.as_bytes()).collect();
        first_key(&words[0].to_ascii_uppercase(), &arguments)
            .map(|key| String::from_utf8_lossy(key).into_owned())
    }

    #[test]
    fn first_keys() {
        assert_eq!(key(&["GET", "user:1"]).as_deref(), Some("user:1"));
        assert_eq!(key(&["PING"]), None);
        assert_eq!(key(&["PUBLISH", "news", "hello"]), None);
        assert_eq!(
            key(&["EVAL", "return 1", "1", "k1", "a"]).as_deref(),
            Some("k1")
        );
        assert_eq!(key(&["EVALSHA", "abc", "0", "arg"]), None);
        assert_eq!(
            key(&["XREAD", "COUNT", "2", "streams", "s1", "0"]).as_deref(),
            Some("s1")
        );
        assert_eq!(
            key(&["BLMPOP", "0", "2", "l1", "l2", "LEFT"]).as_deref(),
            Some("l1")
        );
        assert_eq!(key(&["OBJECT", "ENCODING", "k"]).as_deref(), Some("k"));
        assert_eq!(
            key(&["BITOP", "AND", "dest", "a", "b"]).as_deref(),
            Some("dest")
        );
        assert_eq!(
            key(&["MIGRATE", "h", "6379", "", "0", "5000", "KEYS", "a"]),
            None
        );
    }
}
