//! The server as a browser or a probe meets it over HTTPS (issue 11 items 1 and 2, F4,
//! F13): security headers and HSTS (what `curl -sI` shows), `Secure` cookies, the
//! redirect listener, a renewed certificate served without a restart, `X-Forwarded-*`
//! believed only from trusted proxies, and connections closed when their headers are
//! slow or they sit idle.

mod edge;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use edge::{Response, TestCa};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

#[tokio::test]
async fn demo_tls_serves_https_with_a_ca_it_tells_how_to_trust() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut demo = tokio::process::Command::new(env!("CARGO_BIN_EXE_hoinghi"))
        .args(["demo", "--tls", "--tls-name", "192.0.2.10", "--addr"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(demo.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    let banner = format!("Hoinghi demo: https://127.0.0.1:{port}/");
    let read = async {
        while let Ok(Some(line)) = lines.next_line().await {
            printed.push_str(&line);
            printed.push('\n');
            if line.starts_with(&banner) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(300), read).await;
    assert!(printed.contains(&banner), "{printed}");
    assert!(
        printed.contains("192.0.2.10") && printed.contains("certutil"),
        "{printed}"
    );
    let ca = std::fs::read_to_string(dir.path().join("tls/ca.pem")).unwrap();
    assert!(printed.contains(&dir.path().join("tls/ca.pem").display().to_string()));
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut tls = edge::connect_trusting(&ca, addr)
        .await
        .expect("the demo's certificate verifies against the CA it printed");
    let health = send(
        &mut tls,
        &format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert_eq!(health.status, 200, "{health:?}");
    assert!(health.header("strict-transport-security").is_some());
    let _ = demo.kill().await;
}

/// A running server over a fresh SQLite file with one administrator.
struct Server {
    addr: SocketAddr,
    redirect_port: Option<u16>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

const PASSWORD: &str = "mat-khau-thu-nghiem";

impl Server {
    async fn start(dir: tempfile::TempDir, edit: impl FnOnce(&mut web::Settings)) -> Server {
        let mut settings = web::Settings {
            addr: "127.0.0.1:0".parse().unwrap(),
            database_url: format!("sqlite://{}/hoinghi.db", dir.path().display()),
            attendance_journal: Some(dir.path().join("journal")),
            ..web::Settings::default()
        };
        edit(&mut settings);
        let store = scheduler::Store::connect(&settings.database_url)
            .await
            .unwrap();
        let hash = scheduler::hash_password(PASSWORD).unwrap();
        let admin = scheduler::NewAccount {
            username: "quantri".into(),
            display_name: "Quản trị".into(),
            role: scheduler::Role::Admin,
        };
        store.create_account(admin, &hash).await.unwrap();
        let app = web::Application::with_store(settings, store).await.unwrap();
        let (addr, redirect_port) = (app.local_addr(), app.redirect_port());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(async move {
            app.run_until(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Server {
            addr,
            redirect_port,
            stop: Some(stop),
            done,
            _dir: dir,
        }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().map(|s| s.send(()));
        let _ = tokio::time::timeout(Duration::from_secs(30), &mut self.done).await;
    }
}

/// TLS on, with a test CA's certificate for 127.0.0.1 in `dir`.
fn with_tls(ca: &TestCa, dir: &std::path::Path) -> impl FnOnce(&mut web::Settings) {
    let (cert, key) = ca.issue(dir, "first");
    move |s| {
        s.tls_cert_file = Some(cert);
        s.tls_key_file = Some(key);
    }
}

async fn send<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, request: &str) -> Response {
    stream.write_all(request.as_bytes()).await.unwrap();
    edge::read_response(stream).await
}

fn login_request(host: SocketAddr, username: &str, password: &str, extra: &str) -> String {
    let body = serde_json::json!({ "username": username, "password": password }).to_string();
    format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn over_tls_every_answer_carries_hsts_csp_and_nosniff_and_cookies_are_secure() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let server = Server::start(tempfile::tempdir().unwrap(), with_tls(&ca, dir.path())).await;
    let addr = server.addr;
    // `curl -sI https://127.0.0.1:PORT/login` with the test CA trusted.
    let mut tls = ca.connect(addr).await;
    let head = send(
        &mut tls,
        &format!("HEAD /login HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert_eq!(head.status, 200, "{head:?}");
    assert!(head
        .header("strict-transport-security")
        .unwrap()
        .starts_with("max-age="));
    let csp = head.header("content-security-policy").unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(head.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(head.header("referrer-policy"), Some("same-origin"));
    let permissions = head.header("permissions-policy").unwrap();
    assert!(permissions.contains("camera=(self)") && permissions.contains("microphone=(self)"));
    // API answers and errors too.
    let mut tls = ca.connect(addr).await;
    let me = send(
        &mut tls,
        &format!("GET /api/v1/me HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert_eq!(me.status, 401);
    assert!(me.header("content-security-policy").is_some());
    assert!(me.header("strict-transport-security").is_some());
    assert_eq!(me.header("x-content-type-options"), Some("nosniff"));
    // A login over TLS: its session cookie is Secure.
    let mut tls = ca.connect(addr).await;
    let login = send(&mut tls, &login_request(addr, "quantri", PASSWORD, "")).await;
    assert_eq!(login.status, 200, "{login:?}");
    let cookie = login.header("set-cookie").unwrap();
    assert!(
        cookie.starts_with("hoinghi_session=") && cookie.ends_with("; Secure"),
        "{cookie}"
    );
    // Plain TCP to the TLS port gets no page.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    let _ = plain
        .write_all(format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), plain.read_to_end(&mut buf)).await;
    assert!(!String::from_utf8_lossy(&buf).contains("HTTP/1.1 200"));
    server.stop().await;
}

#[tokio::test]
async fn the_http_listener_only_redirects_to_https() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let tls = with_tls(&ca, dir.path());
    let server = Server::start(tempfile::tempdir().unwrap(), |s| {
        tls(s);
        s.http_redirect_addr = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let port = server.redirect_port.expect("a redirect listener");
    let mut plain = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let answer = send(
        &mut plain,
        &format!(
            "GET /j/abc?lang=en HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert!(matches!(answer.status, 301 | 308), "{answer:?}");
    assert_eq!(
        answer.header("location"),
        Some(format!("https://127.0.0.1:{}/j/abc?lang=en", server.addr.port()).as_str())
    );
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    assert!(
        answer.header("set-cookie").is_none(),
        "no page is served over HTTP"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_renewed_certificate_is_served_to_new_connections_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let tls = with_tls(&ca, dir.path());
    let server = Server::start(tempfile::tempdir().unwrap(), |s| {
        tls(s);
        s.tls_reload_secs = 1;
    })
    .await;
    let first = std::fs::read_to_string(dir.path().join("cert.pem")).unwrap();
    let served = ca.served_certificate(server.addr).await;
    assert_eq!(served, edge::der_of(&first), "the first certificate");
    // An open connection from before the renewal keeps working afterwards.
    let mut old = ca.connect(server.addr).await;
    // The renewal: new files written in place (certbot's deploy hook copies them).
    ca.issue(dir.path(), "renewed");
    let renewed = edge::der_of(&std::fs::read_to_string(dir.path().join("cert.pem")).unwrap());
    assert_ne!(renewed, served);
    let mut seen = served.clone();
    for _ in 0..150 {
        seen = ca.served_certificate(server.addr).await;
        if seen == renewed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(seen, renewed, "new connections get the renewed certificate");
    let addr = server.addr;
    let answer = send(
        &mut old,
        &format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert_eq!(answer.status, 200);
    // A broken renewal (a key that is not the certificate's) is refused; the last good
    // certificate stays.
    std::fs::write(
        dir.path().join("key.pem"),
        rcgen::KeyPair::generate().unwrap().serialize_pem(),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(ca.served_certificate(server.addr).await, renewed);
    server.stop().await;
}

/// A TCP connection to `to` from the local address `from`.
async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(to).await.unwrap()
}

async fn failed_login(from: &str, to: SocketAddr, forwarded_for: &str, n: usize) -> u16 {
    let mut tcp = connect_from(from, to).await;
    let extra = format!("X-Forwarded-For: {forwarded_for}\r\nX-Forwarded-Proto: https\r\n");
    let user = format!("khong-co-{n}");
    let answer = send(&mut tcp, &login_request(to, &user, "sai-mat-khau", &extra)).await;
    answer.status
}

#[tokio::test]
async fn forwarded_headers_are_believed_only_from_trusted_proxies() {
    // 127.0.0.2 is the reverse proxy; 127.0.0.1 any other client. Two failed logins
    // from one address, then it must wait.
    let server = Server::start(tempfile::tempdir().unwrap(), |s| {
        s.trusted_proxies = vec!["127.0.0.2/32".into()];
        s.login_address_free_attempts = 2;
        s.login_account_free_attempts = 100;
    })
    .await;
    let to = server.addr;
    // An untrusted client cannot escape the throttle by making up addresses.
    let untrusted: Vec<u16> = {
        let mut codes = Vec::new();
        for n in 0..3 {
            codes.push(failed_login("127.0.0.1", to, &format!("203.0.113.{n}"), n).await);
        }
        codes
    };
    assert_eq!(untrusted, [401, 401, 429]);
    // Behind the trusted proxy, each client address is throttled on its own…
    let mut proxied = Vec::new();
    for n in 0..3 {
        proxied.push(failed_login("127.0.0.2", to, &format!("198.51.100.{n}"), 10 + n).await);
    }
    assert_eq!(proxied, [401, 401, 401], "three different clients");
    // …and the one it names is throttled, not the proxy.
    let mut same = Vec::new();
    for n in 0..3 {
        same.push(failed_login("127.0.0.2", to, "198.51.100.50", 20 + n).await);
    }
    assert_eq!(same, [401, 401, 429]);
    // The proxy says the page was asked for over HTTPS: the cookie is Secure and HSTS
    // is sent; the same claim from an untrusted client changes nothing.
    let claim = "X-Forwarded-Proto: https\r\nX-Forwarded-For: 192.0.2.77\r\n";
    let mut tcp = connect_from("127.0.0.2", to).await;
    let login = send(&mut tcp, &login_request(to, "quantri", PASSWORD, claim)).await;
    assert_eq!(login.status, 200, "{login:?}");
    assert!(login.header("set-cookie").unwrap().ends_with("; Secure"));
    assert!(login.header("strict-transport-security").is_some());
    // (From 127.0.0.3: 127.0.0.1 must wait after its failures above.)
    let mut tcp = connect_from("127.0.0.3", to).await;
    let login = send(&mut tcp, &login_request(to, "quantri", PASSWORD, claim)).await;
    assert_eq!(login.status, 200, "{login:?}");
    assert!(!login.header("set-cookie").unwrap().contains("Secure"));
    assert!(login.header("strict-transport-security").is_none());
    server.stop().await;
}

/// Reads until the server closes the connection (bounded); true if it did.
async fn closed_by_server<S: AsyncRead + Unpin>(stream: &mut S) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn slow_headers_and_idle_keep_alive_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Arc::new(TestCa::new());
    let tls = with_tls(&ca, dir.path());
    let server = Server::start(tempfile::tempdir().unwrap(), |s| {
        tls(s);
        s.http_header_timeout_secs = 1;
        s.http_idle_timeout_secs = 4;
    })
    .await;
    let addr = server.addr;
    // Slowloris: half a request head, then nothing.
    let mut slow = ca.connect(addr).await;
    slow.write_all(format!("GET /login HTTP/1.1\r\nHost: {addr}\r\nX-Slow: ").as_bytes())
        .await
        .unwrap();
    slow.flush().await.unwrap();
    assert!(closed_by_server(&mut slow).await, "a slow head is cut");
    // A TCP connection that never even starts the TLS handshake.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    assert!(
        closed_by_server(&mut silent).await,
        "a silent connection is cut"
    );
    // Keep-alive: a second request after a pause longer than the header timeout (but
    // shorter than the idle one) is still answered, then the idle connection is closed.
    let mut kept = ca.connect(addr).await;
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    assert_eq!(send(&mut kept, &request).await.status, 200);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        send(&mut kept, &request).await.status,
        200,
        "idle, not slow"
    );
    assert!(
        closed_by_server(&mut kept).await,
        "an idle connection is closed"
    );
    server.stop().await;
}
