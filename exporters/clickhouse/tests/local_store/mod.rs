//! A ClickHouse HTTP endpoint for tests, and a minimal client for it.
//!
//! `CLICKHOUSE_ENDPOINT` (e.g. `http://127.0.0.1:8123`) points the tests at a running server, a
//! real `clickhouse-server` included. Otherwise the project's chdb-backed server
//! (`deploy/clickhouse-local/server.py`) is started on a free port with throw-away data, using
//! `CLICKHOUSE_LOCAL_PYTHON`, else `tests/.venv/bin/python`, else `python3`. When that Python
//! cannot import chdb-core the tests say so and skip; any other failure to start fails them.
//!
//! The client speaks just enough HTTP/1.1 over a `TcpStream` (one request per connection, plain
//! and chunked bodies) to keep the test independent of the exporter's own client.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const START_TIMEOUT: Duration = Duration::from_secs(90);

pub struct Store {
    address: String,
    server: Option<Child>,
    _data: Option<tempfile::TempDir>,
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some(server) = &mut self.server {
            // The data directory is a TempDir removed after this, so no graceful stop is needed.
            let _ = server.kill();
            let _ = server.wait();
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("CLICKHOUSE_LOCAL_PYTHON") {
        return python.into();
    }
    let venv = workspace_root().join("tests/.venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

impl Store {
    /// The store to test against, or `None` (after saying why) when chdb-core is not installed.
    pub fn start() -> Option<Store> {
        if let Ok(endpoint) = std::env::var("CLICKHOUSE_ENDPOINT") {
            let address = endpoint
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_owned();
            return Some(Store {
                address,
                server: None,
                _data: None,
            });
        }
        let python = python();
        let has_chdb = Command::new(&python)
            .args(["-c", "import chdb"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !has_chdb {
            eprintln!(
                "SKIPPED: chdb-core is not installed for {} (pip install chdb-core), and \
                 CLICKHOUSE_ENDPOINT is not set",
                python.display()
            );
            return None;
        }
        let data = tempfile::tempdir().expect("temporary directory");
        let port_file = data.path().join("address");
        let mut server = Command::new(&python)
            .arg(workspace_root().join("deploy/clickhouse-local/server.py"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--log-level",
                "warning",
                "--path",
            ])
            .arg(data.path().join("data"))
            .arg("--port-file")
            .arg(&port_file)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start deploy/clickhouse-local/server.py");
        let deadline = Instant::now() + START_TIMEOUT;
        let address = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                break text.trim().to_owned();
            }
            if let Ok(Some(status)) = server.try_wait() {
                panic!("the chdb-backed store exited at start ({status}); see its log above");
            }
            assert!(
                Instant::now() < deadline,
                "the store did not start within {START_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let store = Store {
            address,
            server: Some(server),
            _data: Some(data),
        };
        store.wait_until_ready(deadline);
        Some(store)
    }

    fn wait_until_ready(&self, deadline: Instant) {
        loop {
            match self.request("GET", "/ping", b"") {
                Ok((200, _)) => return,
                other => assert!(
                    Instant::now() < deadline,
                    "store not ready in time: {other:?}"
                ),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs one statement sent as the POST body; panics with ClickHouse's message on failure.
    pub fn execute(&self, statement: &str) -> String {
        self.post(&[], statement.as_bytes())
            .unwrap_or_else(|error| panic!("{error}\nstatement: {statement}"))
    }

    /// Runs `query` (in the URL) with `body` as its data, e.g. an INSERT's rows.
    pub fn post(&self, query: &[(&str, &str)], body: &[u8]) -> Result<String, String> {
        let target = if query.is_empty() {
            "/".to_owned()
        } else {
            let pairs: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
                .collect();
            format!("/?{}", pairs.join("&"))
        };
        match self.request("POST", &target, body) {
            Ok((200, text)) => Ok(text),
            Ok((status, text)) => Err(format!("HTTP {status}: {text}")),
            Err(error) => Err(format!("request failed: {error}")),
        }
    }

    fn request(&self, method: &str, target: &str, body: &[u8]) -> std::io::Result<(u16, String)> {
        let mut stream = TcpStream::connect(&self.address)?;
        stream.set_read_timeout(Some(Duration::from_secs(120)))?;
        let head = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.address,
            body.len()
        );
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        let mut reader = BufReader::new(stream);
        let mut status_line = String::new();
        reader.read_line(&mut status_line)?;
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let mut chunked = false;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                chunked |= name.eq_ignore_ascii_case("transfer-encoding")
                    && value.trim().eq_ignore_ascii_case("chunked");
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let mut size_line = String::new();
                reader.read_line(&mut size_line)?;
                let size_text = size_line.trim().split(';').next().unwrap_or("");
                let size = usize::from_str_radix(size_text, 16).unwrap_or(0);
                if size == 0 {
                    break;
                }
                let start = body.len();
                body.resize(start + size, 0);
                reader.read_exact(&mut body[start..])?;
                let mut crlf = [0; 2];
                reader.read_exact(&mut crlf)?;
            }
        } else {
            reader.read_to_end(&mut body)?;
        }
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
