//! The `http-sink` subcommand as a process: it says where it listens, answers, and prints what
//! it received when it is told to stop.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

/// Sends one `Connection: close` POST and returns the raw answer.
fn post(address: &str, body: &[u8]) -> String {
    let mut tcp = TcpStream::connect(address).unwrap();
    let head = format!(
        "POST /?query=INSERT%20INTO%20t%20FORMAT%20RowBinary HTTP/1.1\r\nHost: sink\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).unwrap();
    tcp.write_all(body).unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn http_sink_reports_what_it_received_on_sigterm() {
    let mut sink = Command::new(env!("CARGO_BIN_EXE_cormorant-loadgen"))
        .args(["http-sink", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(sink.stderr.take().unwrap());
    let mut first_line = String::new();
    stderr.read_line(&mut first_line).unwrap();
    let address = first_line
        .trim()
        .strip_prefix("http-sink: listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first_line:?}"))
        .to_owned();

    for size in [1000usize, 250_000] {
        let answer = post(&address, &vec![b'x'; size]);
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(
            answer.ends_with("\r\n\r\n"),
            "the answer has a body: {answer}"
        );
    }

    let killed = Command::new("kill")
        .args(["-TERM", &sink.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = sink.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let summary = String::from_utf8(output.stdout).unwrap();
    assert!(
        summary.starts_with("http-sink: requests=2 bytes=251000 broken_requests=0 connections=2 "),
        "{summary}"
    );
}

#[test]
fn http_sink_fails_clearly_when_the_port_is_taken() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_cormorant-loadgen"))
        .args(["http-sink", "--listen", &address])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains(&format!("listening on {address}")),
        "{stderr}"
    );
}
