//! The console end to end: `gridsight run --http` on a generated scene (real pipeline, real
//! store), the HTTP API over a socket, camera and zone changes picked up by the running
//! pipeline, and the browser tests (tests/browser, playwright-core + Debian's Chromium).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{gridsight, repo, scratch, succeeds};

const SENTINEL: &str = "Cam-Sentinel-Pw-5e1d";

/// One HTTP/1.1 request over a fresh connection: (status, JSON body or the text as a string).
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the console");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(cookie) = cookie {
        request.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read");
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let cookie = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .and_then(|c| c.split(';').next())
        .unwrap_or_default()
        .to_owned();
    let value = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()));
    (status, value, cookie)
}

fn login(addr: SocketAddr, user: &str, password: &str) -> String {
    let (status, body, cookie) = http(
        addr,
        "POST",
        "/api/v1/session",
        None,
        Some(&json!({ "username": user, "password": password })),
    );
    assert_eq!(status, 200, "login {user}: {body}");
    cookie
}

/// Polls `check` every 250 ms until it gives a value or `limit` passes.
fn poll<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn add_user(config: &Path, name: &str, role: &str) -> String {
    let password = format!("{name}-pass-1234");
    succeeds(
        gridsight().args(["user", "add"]).arg(config).args([
            name,
            "--role",
            role,
            "--password",
            &password,
        ]),
        "gridsight user add",
    );
    password
}

struct Server {
    child: Child,
    addr: SocketAddr,
    /// Stored-case lines from stdout, as they come.
    cases: mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM: the console and the pipeline stop cleanly.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(config: &Path) -> Server {
    let mut child = gridsight()
        .arg("run")
        .arg(config)
        .args(["--http", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start gridsight run --http");
    let stderr = child.stderr.take().expect("stderr");
    let (addr_tx, addr_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("gridsight: console at http://") {
                let _ = addr_tx.send(rest.trim_end_matches('/').to_owned());
            }
            assert!(
                !line.contains(SENTINEL),
                "a camera password in the log: {line}"
            );
        }
    });
    let stdout = child.stdout.take().expect("stdout");
    let (case_tx, cases) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            assert!(
                !line.contains(SENTINEL),
                "a camera password in the output: {line}"
            );
            if line.starts_with("CASE ") {
                let _ = case_tx.send(line);
            }
        }
    });
    let addr: SocketAddr = addr_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the console announces its address")
        .parse()
        .expect("an address");
    Server { child, addr, cases }
}

fn camera_status(addr: SocketAddr, cookie: &str, id: &str) -> Value {
    let (status, body, _) = http(
        addr,
        "GET",
        &format!("/api/v1/cameras/{id}"),
        Some(cookie),
        None,
    );
    assert_eq!(status, 200, "{body}");
    body
}

fn cases_of(addr: SocketAddr, cookie: &str, camera: &str) -> Vec<Value> {
    let (status, body, _) = http(
        addr,
        "GET",
        &format!("/api/v1/cases?camera={camera}"),
        Some(cookie),
        None,
    );
    assert_eq!(status, 200, "{body}");
    body["cases"].as_array().cloned().unwrap_or_default()
}

#[test]
fn console_runs_with_the_pipeline_and_passes_the_browser_tests() {
    let node_modules = repo().join("tests/browser/node_modules/playwright-core");
    assert!(
        node_modules.exists(),
        "playwright-core is not installed: run `npm ci --prefix tests/browser` (scripts/test does)"
    );
    let video = crate::scene::scene_video();
    let dir = scratch().join("console");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("secrets.toml"),
        format!("[gate]\nuser = \"viewer\"\npassword = \"{SENTINEL}\"\n"),
    )
    .expect("secrets");
    let camera = |id: &str| {
        format!(
            r#"
[[cameras]]
id = "{id}"
uri = {video:?}
[cameras.detectors.static]
interval_s = 1.0
[[cameras.zones]]
id = "sidewalk"
kind = "no_vending"
polygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
[cameras.rules.defaults.sidewalk_occupation]
min_dwell = 20
"#,
            video = video.display().to_string()
        )
    };
    let config = dir.join("pipeline.toml");
    std::fs::write(
        &config,
        format!(
            r#"data_dir = "data"
credentials_file = "secrets.toml"
[[models]]
name = "text"
manifest = {manifest:?}
{street1}{street2}
[[cameras]]
id = "gate"
name = "Gate (unreachable, has a password)"
uri = "rtsp://127.0.0.1:9/gate"
credentials = "gate"
[cameras.detectors.static]
interval_s = 1.0
"#,
            manifest = repo()
                .join("models/ppocr-det/model.toml")
                .display()
                .to_string(),
            street1 = camera("street-1"),
            street2 = camera("street-2"),
        ),
    )
    .expect("write config");
    let admin_pass = add_user(&config, "admin1", "admin");
    let operator_pass = add_user(&config, "op1", "operator");
    let viewer_pass = add_user(&config, "view1", "viewer");

    let server = start(&config);
    let addr = server.addr;
    // The scene's stack becomes a real candidate on each street camera.
    for _ in 0..2 {
        let line = server
            .cases
            .recv_timeout(Duration::from_secs(180))
            .expect("a case is stored");
        assert!(line.contains("sidewalk_occupation"), "{line}");
    }
    let admin = login(addr, "admin1", &admin_pass);

    // An admin adds a camera without zones: it runs (the pipeline took it without a restart)
    // but proposes nothing, as nothing is forbidden anywhere.
    let (status, body, _) = http(
        addr,
        "POST",
        "/api/v1/cameras",
        Some(&admin),
        Some(
            &json!({ "id": "street-3", "uri": video.display().to_string(), "detectors": { "static": 1.0 },
                      "rules": { "defaults": { "sidewalk_occupation": { "min_dwell": 20 } } } }),
        ),
    );
    assert_eq!(status, 201, "{body}");
    poll(
        Duration::from_secs(180),
        "street-3 to play its file to the end",
        || (camera_status(addr, &admin, "street-3")["status"] == "ended").then_some(()),
    );
    assert!(
        cases_of(addr, &admin, "street-3").is_empty(),
        "no zone, no case"
    );
    // Then draws the sidewalk as a no-vending zone: the file has played to its end, so the
    // camera plays it again with the zone, and the stack becomes a case.
    let zone = json!([{ "id": "sidewalk", "kind": "no_vending", "polygon": [[0.0, 0.3], [1.0, 0.3], [1.0, 1.0], [0.0, 1.0]] }]);
    let (status, body, _) = http(
        addr,
        "PUT",
        "/api/v1/cameras/street-3/zones",
        Some(&admin),
        Some(&zone),
    );
    assert_eq!(status, 200, "{body}");
    let case = poll(
        Duration::from_secs(180),
        "a case on street-3 after its zone was drawn",
        || cases_of(addr, &admin, "street-3").into_iter().next(),
    );
    assert_eq!(case["zone"], "sidewalk", "{case}");
    assert_eq!(case["event_code"], "0504", "{case}");

    // Signage baseline: refused while the camera runs no text detector; once it does, the text
    // regions of its current frame become its approved signage.
    let (status, body, _) = http(
        addr,
        "POST",
        "/api/v1/cameras/street-3/baseline",
        Some(&admin),
        None,
    );
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("no text detector")),
        "{body}"
    );
    let (status, body, _) = http(
        addr,
        "PUT",
        "/api/v1/cameras/street-3",
        Some(&admin),
        Some(&json!({ "detectors": { "static": 1.0, "text": 2.0 } })),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["zones"][0]["id"], "sidewalk",
        "the zone is kept: {body}"
    );
    let regions = poll(
        Duration::from_secs(60),
        "a baseline from street-3's frame",
        || {
            let (status, body, _) = http(
                addr,
                "POST",
                "/api/v1/cameras/street-3/baseline",
                Some(&admin),
                None,
            );
            (status == 200).then_some(body)
        },
    );
    assert_eq!(regions["picture"], true, "{regions}");
    let regions = regions["regions"].as_array().cloned().unwrap_or_default();
    assert!(
        !regions.is_empty(),
        "the scene's shop signs are text regions"
    );
    let saved = camera_status(addr, &admin, "street-3");
    assert_eq!(
        saved["signage_baseline"].as_array().map(Vec::len),
        Some(regions.len()),
        "{saved}"
    );
    // The picture of the approved scene is kept in the data directory and named in the camera.
    let picture = saved["signage_picture"].as_str().expect("a picture path");
    assert!(
        picture.ends_with("baselines/street-3.png") && std::path::Path::new(picture).is_file(),
        "{saved}"
    );

    // Live updates: a change to a case reaches an open event stream.
    let mut live = TcpStream::connect(addr).expect("connect");
    live.set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    write!(live, "GET /api/v1/live HTTP/1.1\r\nHost: {addr}\r\nCookie: {admin}\r\nAccept: text/event-stream\r\n\r\n").expect("send");
    let mut live = BufReader::new(live);
    let mut line = String::new();
    live.read_line(&mut line).expect("status line");
    assert!(line.contains(" 200 "), "{line}");
    let id = case["id"].as_i64().expect("case id");
    let (status, body, _) = http(
        addr,
        "POST",
        &format!("/api/v1/cases/{id}/notes"),
        Some(&admin),
        Some(&json!({ "text": "seen on the wall screen" })),
    );
    assert_eq!(status, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut saw_event = false;
    while Instant::now() < deadline {
        line.clear();
        if live.read_line(&mut line).expect("read the event stream") == 0 {
            break;
        }
        if line.contains("seen on the wall screen") && line.contains(&format!("\"id\":{id}")) {
            saw_event = true;
            break;
        }
    }
    assert!(saw_event, "the note's case arrived on /api/v1/live");
    drop(live);

    // The unreachable camera is reported with its reason; its password never shows.
    let gate = poll(Duration::from_secs(60), "the gate camera to fail", || {
        let gate = camera_status(addr, &admin, "gate");
        (gate["status"] == "failed").then_some(gate)
    });
    assert!(
        gate["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{gate}"
    );
    assert_eq!(gate["has_password"], true);
    for path in [
        "/api/v1/cameras",
        "/api/v1/cameras/gate",
        "/",
        "/ui/admin.js",
    ] {
        let (_, body, _) = http(addr, "GET", path, Some(&admin), None);
        assert!(
            !body.to_string().contains(SENTINEL),
            "{path} shows the camera password"
        );
    }

    // The browser tests, against this server. The camera the admin adds is an RTSP stream that
    // demands the login the admin types: it streams only if the password reached the camera.
    gridsight::ingest::init().expect("GStreamer");
    let new_camera_password = "Bt-Rtsp-Pw-93c1";
    let mut rtsp = gridsight::ingest::rtsp_server::RtspServer::start_with_credentials(
        0,
        "bt-user",
        new_camera_password,
    )
    .expect("RTSP server");
    let new_camera_uri = rtsp.add_clip("bt", &video).expect("mount");
    let out = Command::new("node")
        .args(["--test", "--test-reporter=spec"])
        .arg(repo().join("tests/browser/console.test.mjs"))
        .env("GS_URL", format!("http://{addr}"))
        .env("GS_ADMIN_USER", "admin1")
        .env("GS_ADMIN_PASS", &admin_pass)
        .env("GS_OPERATOR_USER", "op1")
        .env("GS_OPERATOR_PASS", &operator_pass)
        .env("GS_VIEWER_USER", "view1")
        .env("GS_VIEWER_PASS", &viewer_pass)
        .env("GS_CAMERA_PASSWORD_SENTINEL", SENTINEL)
        .env("GS_NEW_CAMERA_URI", &new_camera_uri)
        .env("GS_NEW_CAMERA_USER", "bt-user")
        .env("GS_NEW_CAMERA_PASSWORD", new_camera_password)
        .output()
        .expect("node runs the browser tests");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "browser tests failed:\n{report}");
    assert!(
        report.contains("pass 4"),
        "all four browser tests ran:\n{report}"
    );
    drop(server);
    rtsp.stop();
}

#[test]
fn the_api_load_benchmark_runs_and_reports_percentiles() {
    let dir = scratch().join("bench-api");
    let out = succeeds(
        gridsight()
            .args([
                "bench-api",
                "--cases",
                "300",
                "--rate",
                "50",
                "--seconds",
                "2",
                "--connections",
                "4",
                "--dir",
            ])
            .arg(&dir),
        "gridsight bench-api",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("300 cases in SQLite"), "{stdout}");
    assert!(stdout.contains("100 requests, 0 errors"), "{stdout}");
    assert!(stdout.contains("p99"), "{stdout}");
}
