//! Connection discipline, spoken over raw sockets: request heads must arrive within the header
//! timeout, idle keep-alive connections are closed after the idle timeout, one client cannot
//! take every connection, a full server says so at once, a shutdown finishes what it received
//! and cuts the rest by its deadline, and a start that cannot listen creates nothing.
//!
//! The timeouts are real network timeouts, configured to 1 second; each is checked with an
//! upper bound with generous slack (and a lower one, so it is the timeout that acted).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::{Binary, TestEnv, TestServer};

/// Slack allowed above a configured timeout before a test fails (the machine may be busy).
const SLACK: Duration = Duration::from_secs(4);
/// How long a test waits for something that should happen at once.
const PROMPTLY: Duration = Duration::from_secs(5);
const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: tessera\r\n\r\n";
const PASSWORD: &str = "connections-admin-password";

fn address(server: &TestServer) -> SocketAddr {
    server
        .base
        .strip_prefix("http://")
        .unwrap()
        .parse()
        .unwrap()
}

/// A connection to `to` from the loopback address `source` (Linux routes all of 127/8 to
/// loopback, so each source is a different client).
async fn connect_from(source: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(source.parse().unwrap(), 0))
        .unwrap();
    socket.connect(to).await.unwrap()
}

/// Reads until the server closes the connection (end of stream or reset), at most `limit`:
/// what arrived, and whether it closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut received = Vec::new();
    let closed = tokio::time::timeout(limit, async {
        let mut buffer = [0_u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await
    .is_ok();
    (String::from_utf8_lossy(&received).into_owned(), closed)
}

/// Reads one response (head, then `content-length` bytes of body) and returns it as text.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    tokio::time::timeout(PROMPTLY, async {
        loop {
            let text = String::from_utf8_lossy(&received).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= length {
                    return text;
                }
            }
            let n = stream.read(&mut buffer).await.unwrap();
            assert!(n > 0, "closed before a whole response: {text:?}");
            received.extend_from_slice(&buffer[..n]);
        }
    })
    .await
    .expect("no response in time")
}

fn assert_within(elapsed: Duration, timeout: Duration, what: &str) {
    assert!(
        elapsed >= timeout.mul_f32(0.9),
        "{what}: closed after {elapsed:?}, before the {timeout:?} timeout"
    );
    assert!(
        elapsed <= timeout + SLACK,
        "{what}: closed after {elapsed:?}, long after the {timeout:?} timeout"
    );
}

#[tokio::test]
async fn a_request_head_sent_slowly_is_cut_at_the_header_timeout() {
    let env = TestEnv::new();
    let server = env
        .spawn(&[
            ("TESSERA_HEADER_TIMEOUT_SECONDS", "1"),
            ("TESSERA_IDLE_TIMEOUT_SECONDS", "60"),
        ])
        .await;
    let timeout = Duration::from_secs(1);

    // The first request: counted from the connection's start, whatever trickles in.
    let mut stream = connect_from("127.0.0.1", address(&server)).await;
    let started = Instant::now();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: tessera\r\n")
        .await
        .unwrap();
    // Trickle a header line every 200 ms, as slowloris does: progress must not extend the
    // deadline.
    let mut drip = tokio::time::interval(Duration::from_millis(200));
    let mut buffer = [0_u8; 1024];
    let cut = tokio::time::timeout(timeout + SLACK, async {
        loop {
            tokio::select! {
                _ = drip.tick() => {
                    if stream.write_all(b"X-Slow: 1\r\n").await.is_err() {
                        return started.elapsed();
                    }
                }
                read = stream.read(&mut buffer) => match read {
                    Ok(0) | Err(_) => return started.elapsed(),
                    Ok(n) => panic!("answered a head that never ended: {:?}",
                        String::from_utf8_lossy(&buffer[..n])),
                },
            }
        }
    })
    .await
    .expect("a trickling request head was never cut");
    assert_within(cut, timeout, "trickled first head");

    // A later request on a kept-alive connection: counted from its first byte, and cut at
    // the header timeout although the idle timeout is a minute.
    let mut stream = connect_from("127.0.0.1", address(&server)).await;
    stream.write_all(HEALTHZ).await.unwrap();
    assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (answer, closed) = read_until_closed(&mut stream, timeout + SLACK).await;
    assert!(closed, "a half-sent second head was never cut");
    assert_eq!(answer, "", "a half-sent head got an answer");
    assert_within(started.elapsed(), timeout, "half-sent second head");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_at_the_idle_timeout() {
    let env = TestEnv::new();
    let server = env
        .spawn(&[
            ("TESSERA_HEADER_TIMEOUT_SECONDS", "60"),
            ("TESSERA_IDLE_TIMEOUT_SECONDS", "1"),
        ])
        .await;
    let timeout = Duration::from_secs(1);
    let mut stream = connect_from("127.0.0.1", address(&server)).await;
    // Two requests on the connection: it is kept alive between them.
    for _ in 0..2 {
        stream.write_all(HEALTHZ).await.unwrap();
        let response = read_response(&mut stream).await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    }
    let idle_since = Instant::now();
    let (more, closed) = read_until_closed(&mut stream, timeout + SLACK).await;
    assert!(closed, "an idle connection was kept past the idle timeout");
    assert_eq!(more, "");
    assert_within(idle_since.elapsed(), timeout, "idle keep-alive connection");
}

#[tokio::test]
async fn one_client_over_its_connection_cap_is_refused_while_others_are_served() {
    let env = TestEnv::new();
    let server = env
        .spawn(&[
            ("TESSERA_MAX_CONNECTIONS", "16"),
            ("TESSERA_MAX_CONNECTIONS_PER_CLIENT", "4"),
            ("TESSERA_HEADER_TIMEOUT_SECONDS", "60"),
        ])
        .await;
    let to = address(&server);
    // The attacker holds its 4 connections silently, then tries for more.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect_from("127.0.0.1", to).await);
    }
    for attempt in 0..8 {
        let mut extra = connect_from("127.0.0.1", to).await;
        let (answer, closed) = read_until_closed(&mut extra, PROMPTLY).await;
        assert!(closed, "connection {attempt} over the cap was kept open");
        assert!(answer.starts_with("HTTP/1.1 429 "), "{answer:?}");
        let answer = answer.to_ascii_lowercase();
        assert!(answer.contains("\r\nretry-after: 1\r\n"), "{answer}");
        assert!(answer.contains("\r\nconnection: close\r\n"), "{answer}");
        assert!(answer.contains("\"too_many_connections\""), "{answer}");
    }
    // Another client is served at once, and so are the attacker's admitted connections.
    let mut other = connect_from("127.0.0.2", to).await;
    other.write_all(HEALTHZ).await.unwrap();
    let response = read_response(&mut other).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    held[0].write_all(HEALTHZ).await.unwrap();
    let response = read_response(&mut held[0]).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    // A closed connection gives its place back.
    drop(held);
    let (_, served) = tokio::time::timeout(PROMPTLY, async {
        loop {
            let mut again = connect_from("127.0.0.1", to).await;
            again.write_all(HEALTHZ).await.unwrap();
            let (answer, _) = read_until_closed(&mut again, Duration::from_millis(500)).await;
            if answer.starts_with("HTTP/1.1 200") {
                return ((), true);
            }
            // Refused while the server had not yet seen the old ones close: try again.
            assert!(answer.starts_with("HTTP/1.1 429 "), "{answer:?}");
        }
    })
    .await
    .unwrap_or(((), false));
    assert!(served, "closing connections did not give their places back");
}

#[tokio::test]
async fn a_server_at_its_connection_cap_answers_503_at_once() {
    let env = TestEnv::new();
    let server = env
        .spawn(&[
            ("TESSERA_MAX_CONNECTIONS", "6"),
            ("TESSERA_MAX_CONNECTIONS_PER_CLIENT", "3"),
            ("TESSERA_HEADER_TIMEOUT_SECONDS", "60"),
        ])
        .await;
    let to = address(&server);
    let mut held = Vec::new();
    for source in ["127.0.0.3", "127.0.0.4"] {
        for _ in 0..3 {
            held.push(connect_from(source, to).await);
        }
    }
    let asked = Instant::now();
    let mut late = connect_from("127.0.0.5", to).await;
    late.write_all(HEALTHZ).await.unwrap();
    let (answer, closed) = read_until_closed(&mut late, PROMPTLY).await;
    assert!(closed && asked.elapsed() < PROMPTLY);
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer:?}");
    let answer = answer.to_ascii_lowercase();
    assert!(answer.contains("\r\nretry-after: 1\r\n"), "{answer}");
    assert!(answer.contains("\r\nconnection: close\r\n"), "{answer}");
    // The admitted connections are served.
    held[5].write_all(HEALTHZ).await.unwrap();
    assert!(
        read_response(&mut held[5])
            .await
            .starts_with("HTTP/1.1 200")
    );
}

#[test]
fn a_start_on_a_busy_port_creates_no_admin_and_prints_no_password() {
    let env = TestEnv::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (code, stdout, stderr) = Binary::new(env.path())
        .env("TESSERA_LISTEN", &format!("127.0.0.1:{port}"))
        .output();
    assert_eq!(code, 1, "stdout: {stdout} stderr: {stderr}");
    assert!(
        stderr.contains(&format!("failed to listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(stderr.to_lowercase().contains("in use"), "{stderr}");
    assert!(
        !stdout.contains("password"),
        "a password was printed: {stdout}"
    );
    if env.path().join("tessera.db").exists() {
        let (_, users, _) = Binary::new(env.path()).arg("user").arg("list").output();
        panic!("a start that could not listen created a database holding:\n{users}");
    }
    // Once the port is free, the first start that serves creates the admin and says how.
    drop(taken);
    let server = Binary::new(env.path())
        .env("TESSERA_LISTEN", &format!("127.0.0.1:{port}"))
        .serve();
    assert!(
        server.announced.iter().any(|line| line
            .contains("created the first admin user 'admin' with the generated password")),
        "{:?}",
        server.announced
    );
}

/// Sends the head of a login with `Expect: 100-continue` and waits for `100 Continue`: the
/// server has then read the head and the handler is reading the body, so the request is in
/// flight. Returns the connection and the body still to send.
async fn login_in_flight(base: &str) -> (TcpStream, String) {
    let to: SocketAddr = base.strip_prefix("http://").unwrap().parse().unwrap();
    let mut stream = connect_from("127.0.0.1", to).await;
    let body = format!(r#"{{"username":"admin","password":"{PASSWORD}"}}"#);
    let head = format!(
        "POST /api/auth/login HTTP/1.1\r\nHost: tessera\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut buffer = [0_u8; 64];
    let mut received = Vec::new();
    tokio::time::timeout(PROMPTLY, async {
        while !received.ends_with(b"\r\n\r\n") {
            let n = stream.read(&mut buffer).await.unwrap();
            assert!(n > 0, "closed instead of 100 Continue");
            received.extend_from_slice(&buffer[..n]);
        }
    })
    .await
    .expect("no 100 Continue");
    assert!(
        received.starts_with(b"HTTP/1.1 100 Continue"),
        "{:?}",
        String::from_utf8_lossy(&received)
    );
    (stream, body)
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_finishes_a_request_in_flight_and_cuts_half_sent_and_idle_ones() {
    let env = TestEnv::new();
    let mut server = Binary::new(env.path())
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .env("TESSERA_ADMIN_PASSWORD", PASSWORD)
        .env("TESSERA_SHUTDOWN_TIMEOUT_SECONDS", "60")
        .serve();
    let to: SocketAddr = server
        .base
        .strip_prefix("http://")
        .unwrap()
        .parse()
        .unwrap();
    let mut half_sent = connect_from("127.0.0.1", to).await;
    half_sent.write_all(b"G").await.unwrap();
    let mut idle = connect_from("127.0.0.1", to).await;
    idle.write_all(HEALTHZ).await.unwrap();
    assert!(read_response(&mut idle).await.starts_with("HTTP/1.1 200"));
    let (mut in_flight, body) = login_in_flight(&server.base).await;

    let terminated = Instant::now();
    server.terminate();
    for (name, stream) in [("half-sent", &mut half_sent), ("idle", &mut idle)] {
        let (answer, closed) = read_until_closed(stream, PROMPTLY).await;
        assert!(closed, "the {name} connection was kept open after SIGTERM");
        assert_eq!(answer, "", "the {name} connection got an answer");
    }
    // The server is shutting down now; the login it received still completes.
    in_flight.write_all(body.as_bytes()).await.unwrap();
    let response = read_response(&mut in_flight).await;
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    assert!(response.contains("\"access_token\""), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("\r\nconnection: close\r\n"),
        "{response}"
    );
    // With nothing left open it exits at once, long before the 60 s deadline.
    let (status, stderr) = server
        .wait_for_exit(PROMPTLY + SLACK)
        .expect("still running after SIGTERM with every connection closed");
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(terminated.elapsed() < PROMPTLY + SLACK);
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_exits_by_the_shutdown_deadline_whatever_the_clients_do() {
    let env = TestEnv::new();
    let mut server = Binary::new(env.path())
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .env("TESSERA_ADMIN_PASSWORD", PASSWORD)
        .env("TESSERA_SHUTDOWN_TIMEOUT_SECONDS", "1")
        .serve();
    // A request in flight whose body never comes (the request timeout is 30 s).
    let (mut stuck, _body) = login_in_flight(&server.base).await;
    let terminated = Instant::now();
    server.terminate();
    let (status, stderr) = server
        .wait_for_exit(Duration::from_secs(1) + SLACK)
        .expect("still running past the shutdown deadline");
    let elapsed = terminated.elapsed();
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(stderr.contains("shutdown deadline"), "{stderr}");
    let (answer, closed) = read_until_closed(&mut stuck, PROMPTLY).await;
    assert!(closed);
    assert_eq!(answer, "", "the cut request got an answer");
}

#[cfg(unix)]
#[test]
fn the_server_raises_its_open_file_limit_and_derives_its_connection_cap() {
    use std::io::{BufRead as _, BufReader, Read as _};
    use std::process::{Command, Stdio};
    let hard = Command::new("sh")
        .arg("-c")
        .arg("ulimit -Hn")
        .output()
        .unwrap();
    let hard = String::from_utf8_lossy(&hard.stdout).trim().to_owned();
    if hard.parse::<u64>().is_ok_and(|hard| hard <= 512) {
        eprintln!("skipped: the hard open-file limit ({hard}) leaves nothing to raise");
        return;
    }
    let env = TestEnv::new();
    // Start with a soft limit of 256, as many systems still default to 1024.
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("ulimit -Sn 256 && exec \"$0\" serve")
        .arg(env!("CARGO_BIN_EXE_tessera"))
        .current_dir(env.path());
    for (key, _) in std::env::vars() {
        if key.starts_with("TESSERA_") || key.starts_with("AYANOVA_") {
            command.env_remove(key);
        }
    }
    let mut child = command
        .env("TESSERA_LOG", "info")
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .env("TESSERA_ADMIN_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let listening = stdout
        .lines()
        .map_while(Result::ok)
        .any(|line| line.starts_with("tessera listening on "));
    let _ = child.kill();
    let _ = child.wait();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(listening, "{stderr}");
    let raised = stderr
        .lines()
        .find(|line| line.contains("raised the open-file limit"))
        .unwrap_or_else(|| panic!("no line about the open-file limit in {stderr}"));
    assert!(raised.contains("from=256"), "{raised}");
    let limit: u64 = raised.rsplit_once("to=").unwrap().1.trim().parse().unwrap();
    assert!(limit > 256, "{raised}");
    // The connection cap comes from the raised limit, not from the 256 it started with.
    let expected = tessera::serve::derived_max_connections(limit);
    assert!(
        stderr.contains(&format!("max_connections={expected} ")),
        "expected max_connections={expected} in {stderr}"
    );
}

/// A client that pipelines requests and never reads the answers stalls hyper (it can neither
/// write nor go on reading); the connection is still dropped at a deadline, giving its place
/// back, instead of being held forever.
#[tokio::test]
async fn a_client_that_never_reads_its_answers_loses_its_connection() {
    let env = TestEnv::new();
    let server = env
        .spawn(&[
            ("TESSERA_HEADER_TIMEOUT_SECONDS", "1"),
            ("TESSERA_IDLE_TIMEOUT_SECONDS", "1"),
            ("TESSERA_MAX_CONNECTIONS", "8"),
            ("TESSERA_MAX_CONNECTIONS_PER_CLIENT", "1"),
        ])
        .await;
    let to = address(&server);
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket
        .bind(SocketAddr::new("127.0.0.3".parse().unwrap(), 0))
        .unwrap();
    let mut hog = socket.connect(to).await.unwrap();
    // Far more answers than the socket buffers on both sides hold.
    let pipelined = HEALTHZ.repeat(40_000);
    let _ = tokio::time::timeout(PROMPTLY, hog.write_all(&pipelined)).await;
    let start = Instant::now();

    // While the hog holds its one place, the same client is refused; once the server drops
    // the stalled connection, it is served again. The in-flight deadline is the request
    // timeout (30 s) plus the header timeout.
    let limit = Duration::from_secs(31) + SLACK + SLACK;
    let mut attempts = tokio::time::interval(Duration::from_millis(250));
    loop {
        attempts.tick().await;
        let mut probe = connect_from("127.0.0.3", to).await;
        probe.write_all(HEALTHZ).await.unwrap();
        let (answer, _) = read_until_closed(&mut probe, PROMPTLY).await;
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
        assert!(
            start.elapsed() < limit,
            "the stalled connection was still held after {:?}",
            start.elapsed()
        );
    }
    drop(hog);
}
