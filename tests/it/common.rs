//! Shared helpers: ONNX Runtime set-up, generated clips, fixture manifests, bounded waits.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use gridsight::ingest::media::{generate_clip, ClipSpec};
use gridsight::runtime::{Runtime, RuntimeEvent};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `gridsight` binary built for these tests.
pub fn gridsight() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gridsight"))
}

/// Runs `cmd` and returns its output; the test fails with its stdout and stderr, headed by
/// `what`, when it does not succeed.
pub fn succeeds(cmd: &mut Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not run: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Loads ONNX Runtime from where scripts/setup.sh put it (or $GRIDSIGHT_ONNXRUNTIME).
pub fn onnxruntime() {
    gridsight::inference::ensure_onnxruntime(None, None)
        .expect("ONNX Runtime is installed (scripts/setup.sh)");
}

/// A per-process scratch folder.
pub fn scratch() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("gridsight-it-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    })
    .clone()
}

/// A 320×240, 25 fps, 1 s GOP clip with a text poster, `seconds` long (made once per process).
pub fn poster_clip(seconds: u32) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let path = scratch().join(format!("poster-{seconds}s.mp4"));
    if !path.exists() {
        let spec = ClipSpec {
            width: 320,
            height: 240,
            fps: 25,
            seconds,
            gop_frames: 25,
            bitrate_kbps: 400,
            text: Some("SALE 50% OFF".to_string()),
        };
        generate_clip(&path, &spec).expect("generate clip");
    }
    path
}

/// Writes a manifest for an ONNX file and returns its path. `body` holds everything but
/// `name`, `file` and `sha256`; `sha256` is the file's own unless given.
pub fn write_manifest(name: &str, onnx: &Path, sha256: Option<&str>, body: &str) -> PathBuf {
    let dir = scratch().join("manifests").join(name);
    std::fs::create_dir_all(&dir).expect("manifest dir");
    let hash = match sha256 {
        Some(h) => h.to_string(),
        None => {
            use sha2::Digest;
            let bytes = std::fs::read(onnx).expect("read onnx");
            gridsight::inference::manifest::hex(&sha2::Sha256::digest(&bytes))
        }
    };
    let path = dir.join("model.toml");
    let text = format!(
        "name = {name:?}\nfile = {:?}\nsha256 = {hash:?}\n{body}",
        onnx.display().to_string()
    );
    std::fs::write(&path, text).expect("write manifest");
    path
}

/// Waits up to `limit` for an event that `pred` accepts, handing every event to `seen` too.
pub fn wait_for(
    runtime: &Runtime,
    limit: Duration,
    mut seen: impl FnMut(&RuntimeEvent),
    mut pred: impl FnMut(&RuntimeEvent) -> bool,
) -> bool {
    let deadline = Instant::now() + limit;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match runtime
            .events()
            .recv_timeout(left.min(Duration::from_millis(200)))
        {
            Ok(event) => {
                seen(&event);
                if pred(&event) {
                    return true;
                }
            }
            Err(_) => continue,
        }
    }
    false
}

/// Black text on a white `width` × `height` picture, drawn by GStreamer and written to `path`
/// with `encoder` (`pngenc`, `jpegenc`).
pub fn text_picture(path: &Path, width: u32, height: u32, text: &str, font: &str, encoder: &str) {
    let status = std::process::Command::new("gst-launch-1.0")
        .args(["-q", "videotestsrc", "num-buffers=1", "pattern=white", "!"])
        .arg(format!("video/x-raw,width={width},height={height}"))
        .args(["!", "textoverlay"])
        .arg(format!("text={text}"))
        .arg(format!("font-desc={font}"))
        .args([
            "color=0xff000000",
            "!",
            "videoconvert",
            "!",
            encoder,
            "!",
            "filesink",
        ])
        .arg(format!("location={}", path.display()))
        .status()
        .expect("gst-launch-1.0");
    assert!(status.success(), "gst-launch-1.0 drew {}", path.display());
}
