//! `gridsight bench api`: the review queue's list route under load.
//!
//! Fills a SQLite store with `cases` candidates (once; a later run reuses it), starts the
//! console server on 127.0.0.1 (API only, no pipeline), logs in, and drives
//! `GET /api/v1/cases` from a load generator in the same process at a fixed request rate for a
//! fixed time. The generator is open-loop: each request has a scheduled send time and its
//! latency is measured from that time, so a slow server cannot hide its queueing delay by
//! slowing the generator down (no coordinated omission). Requests go over a pool of keep-alive
//! HTTP/1.1 connections written by hand, to keep a client library out of the measurement.
//!
//! The mix is what operators do: the open queue (candidates and field checks, newest first),
//! the queue filtered by category or by grid, and everything.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use crate::api::{ApiOptions, ConsoleServer};
use crate::cases::{CaseState, NewCandidate};
use crate::config::Config;
use crate::domain::{BBox, CameraId};

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Where the store lives (reused between runs).
    pub work: PathBuf,
    pub cases: u32,
    /// Requests per second.
    pub rate: u32,
    pub duration: Duration,
    /// Keep-alive connections.
    pub connections: usize,
    /// The p99 the route must meet.
    pub target_p99: Duration,
}

/// What it measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub cases: u64,
    pub requests: usize,
    pub errors: usize,
    pub achieved_rate: f64,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub target_p99: Duration,
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        writeln!(
            f,
            "review queue GET /api/v1/cases, {} cases in SQLite, open-loop at {:.0} requests/s:",
            self.cases, self.achieved_rate
        )?;
        writeln!(
            f,
            "  {} requests, {} errors; latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            self.requests,
            self.errors,
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            ms(self.max)
        )?;
        write!(
            f,
            "  p99 / target ({:.0} ms) = {:.2}: {}",
            ms(self.target_p99),
            self.p99.as_secs_f64() / self.target_p99.as_secs_f64(),
            if self.p99 <= self.target_p99 && self.errors == 0 {
                "met"
            } else {
                "NOT met"
            }
        )
    }
}

const CATEGORIES: [&str; 4] = [
    "street_vending",
    "sidewalk_stacking",
    "sidewalk_occupation",
    "illegal_signage",
];

fn bench_candidate(i: u32, now: SystemTime) -> NewCandidate {
    let at = now - Duration::from_secs(u64::from(100_000 - i.min(99_999)) * 30);
    NewCandidate {
        dedupe_key: format!("bench/{i}"),
        camera: CameraId::new(&format!("cam-{}", i % 40)),
        category: CATEGORIES[(i % 4) as usize].to_owned(),
        event_code: "0501".to_owned(),
        event_name: "无照经营游商".to_owned(),
        score: 0.8,
        bbox: BBox::new(0.2, 0.3, 0.4, 0.6),
        lat: Some(31.23 + f64::from(i % 100) * 1e-5),
        lon: Some(121.47),
        grid_code: Some(format!("3101010010{:04}", i % 500)),
        community: Some("南京东路社区".to_owned()),
        street: Some(format!("街道{}", i % 10)),
        unit: Some("城管中队".to_owned()),
        zone: Some("sidewalk".to_owned()),
        arrived_at: at,
        detected_at: at,
        recurrence_of: None,
        recurrence_count: 1,
        evidence: vec![],
    }
}

/// Fills the store up to `n` cases (a tenth of them already decided), printing progress.
async fn fill(
    store: &dyn crate::cases::CaseStore,
    n: u32,
    progress: &mut dyn FnMut(String),
) -> anyhow::Result<u64> {
    let have = store
        .console()
        .stats(crate::cases::StatsQuery {
            since: None,
            until: None,
            utc_offset_s: 0,
        })
        .await?
        .total;
    let now = SystemTime::now();
    let started = Instant::now();
    for i in u32::try_from(have).unwrap_or(u32::MAX)..n {
        let (case, _) = store.insert_candidate(bench_candidate(i, now)).await?;
        if i % 10 == 0 {
            store
                .transition(
                    case.id,
                    CaseState::Rejected,
                    "bench",
                    Some("bench".to_owned()),
                    None,
                )
                .await?;
        }
        if i % 10_000 == 0 && i > 0 {
            progress(format!(
                "inserted {i} of {n} cases ({:.0} s)",
                started.elapsed().as_secs_f64()
            ));
        }
    }
    Ok(u64::from(n.max(u32::try_from(have).unwrap_or(0))))
}

/// One keep-alive connection.
struct Connection {
    reader: BufReader<TcpStream>,
}

impl Connection {
    async fn open(addr: std::net::SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            reader: BufReader::new(stream),
        })
    }

    /// Sends a GET and reads the whole response; returns the status.
    async fn get(&mut self, host: &str, path: &str, cookie: &str) -> std::io::Result<u16> {
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nAccept: application/json\r\n\r\n");
        self.reader.get_mut().write_all(request.as_bytes()).await?;
        let mut line = String::new();
        self.reader.read_line(&mut line).await?;
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut length = 0usize;
        loop {
            line.clear();
            if self.reader.read_line(&mut line).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; length];
        self.reader.read_exact(&mut body).await?;
        Ok(status)
    }
}

/// Which request the `n`th is: 70 % the open queue, 15 % by category, 10 % by grid, 5 % all.
fn mix(n: usize) -> usize {
    match n % 20 {
        0..=13 => 0,
        14..=16 => 1,
        17..=18 => 2,
        _ => 3,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Runs the benchmark.
pub fn run(options: &LoadOptions, progress: &mut dyn FnMut(String)) -> anyhow::Result<LoadReport> {
    let dir = options.work.join("api-bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let config = Config::new(dir.join("pipeline.toml"), dir.clone(), vec![], vec![]);
    let server = ConsoleServer::start(
        Arc::new(config),
        None,
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        ApiOptions::default(),
    )?;
    let store = Arc::clone(&server.state.store);
    let cases = server.block_on(fill(&*store, options.cases, progress))?;
    server.block_on(async {
        let console = store.console();
        if console.user("bench").await?.is_none() {
            crate::api::auth::add_user(console, "bench", "bench-password", "operator", vec![])
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        anyhow::Ok(())
    })?;
    let addr = server.addr;
    progress(format!(
        "{cases} cases; driving {addr} at {} requests/s for {} s over {} connections",
        options.rate,
        options.duration.as_secs(),
        options.connections
    ));

    // The generator has its own runtime and threads, apart from the server's.
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let report = client.block_on(drive(addr, options))?;
    server.stop();
    Ok(LoadReport { cases, ..report })
}

async fn login(addr: std::net::SocketAddr) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    let body = r#"{"username":"bench","password":"bench-password"}"#;
    let request = format!(
        "POST /api/v1/session HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    response
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("set-cookie").then(|| {
                value
                    .trim()
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
        })
        .context("the login gave no session cookie")
}

async fn drive(addr: std::net::SocketAddr, options: &LoadOptions) -> anyhow::Result<LoadReport> {
    let cookie = Arc::new(login(addr).await?);
    let host = Arc::new(addr.to_string());
    let paths: Arc<Vec<String>> = Arc::new(vec![
        "/api/v1/cases?state=candidate,field_check&limit=50".to_owned(),
        "/api/v1/cases?state=candidate,field_check&category=street_vending&limit=50".to_owned(),
        "/api/v1/cases?state=candidate&grid=31010100100042&limit=50".to_owned(),
        "/api/v1/cases?limit=50".to_owned(),
    ]);
    let total = (f64::from(options.rate) * options.duration.as_secs_f64()) as usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(options.rate.max(1)));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
    let rx = Arc::new(Mutex::new(rx));
    let mut workers = Vec::new();
    for _ in 0..options.connections.max(1) {
        let (rx, cookie, host, paths) = (
            Arc::clone(&rx),
            Arc::clone(&cookie),
            Arc::clone(&host),
            Arc::clone(&paths),
        );
        let mut connection = Connection::open(addr).await?;
        workers.push(tokio::spawn(async move {
            let mut samples: Vec<(Duration, bool)> = Vec::new();
            loop {
                let next = rx.lock().await.recv().await;
                let Some((n, scheduled)) = next else { break };
                let path = &paths[mix(n)];
                let ok = match connection.get(&host, path, &cookie).await {
                    Ok(status) => status == 200,
                    Err(_) => {
                        if let Ok(fresh) = Connection::open(addr).await {
                            connection = fresh;
                        }
                        false
                    }
                };
                samples.push((scheduled.elapsed(), ok));
            }
            samples
        }));
    }
    let started = Instant::now();
    for n in 0..total {
        let scheduled = started + interval * u32::try_from(n).unwrap_or(u32::MAX);
        tokio::time::sleep_until(scheduled.into()).await;
        tx.send((n, scheduled))?;
    }
    drop(tx);
    let mut latencies = Vec::with_capacity(total);
    let mut errors = 0;
    for worker in workers {
        for (latency, ok) in worker.await? {
            latencies.push(latency);
            errors += usize::from(!ok);
        }
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    Ok(LoadReport {
        cases: 0,
        requests: latencies.len(),
        errors,
        achieved_rate: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.50),
        p90: percentile(&latencies, 0.90),
        p99: percentile(&latencies, 0.99),
        max: latencies.last().copied().unwrap_or_default(),
        target_p99: options.target_p99,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_rank_above() {
        let ms = |v: u64| Duration::from_millis(v);
        let sorted: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&sorted, 0.99), ms(99));
        assert_eq!(percentile(&sorted, 0.5), ms(50));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }
}
