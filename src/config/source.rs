//! Turning a camera's `uri` into a [`Source`].
//!
//! Messages never quote the URI itself: a mistyped one may still carry a password.

use std::path::{Path, PathBuf};

use url::Url;

use super::{RtspTransport, Source, DEFAULT_TEST_FPS, DEFAULT_TEST_HEIGHT, DEFAULT_TEST_WIDTH};

/// Names GStreamer's `videotestsrc` knows as `pattern`.
pub(crate) const TEST_PATTERNS: &[&str] = &[
    "smpte",
    "snow",
    "black",
    "white",
    "red",
    "green",
    "blue",
    "checkers-1",
    "checkers-2",
    "checkers-4",
    "checkers-8",
    "circular",
    "blink",
    "smpte75",
    "zone-plate",
    "gamut",
    "chroma-zone-plate",
    "solid-color",
    "ball",
    "smpte100",
    "bar",
    "pinwheel",
    "spokes",
    "gradient",
    "colors",
    "smpte-rp-219",
];

/// Which kind of source a URI names, from its scheme alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Rtsp,
    Http,
    Test,
}

/// The URI's scheme, lowercased, if it starts with one (`scheme:`); plain paths have none.
fn scheme(uri: &str) -> Option<String> {
    let (head, _) = uri.split_once(':')?;
    let mut chars = head.chars();
    let first = chars.next()?;
    let ok = first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    ok.then(|| head.to_ascii_lowercase())
}

/// Which kind of source `uri` is, or why it is none.
pub(crate) fn classify(uri: &str) -> Result<Kind, String> {
    if uri.is_empty() {
        return Err("is empty".to_owned());
    }
    match scheme(uri).as_deref() {
        None | Some("file") => Ok(Kind::File),
        Some("rtsp" | "rtsps") => Ok(Kind::Rtsp),
        Some("http" | "https") => Ok(Kind::Http),
        Some("test") => Ok(Kind::Test),
        Some(other) => Err(format!(
            "unsupported scheme {other:?} (use file, rtsp, rtsps, http, https or test)"
        )),
    }
}

/// Parses `uri` (already classified as `kind`) into a source; `base` is the config dir.
pub(crate) fn parse_source(
    kind: Kind,
    uri: &str,
    base: &Path,
    transport: RtspTransport,
) -> Result<Source, String> {
    match kind {
        Kind::File => file_source(uri, base),
        Kind::Rtsp => network_url(uri).map(|_| Source::Rtsp {
            url: uri.to_owned(),
            transport,
        }),
        Kind::Http => network_url(uri).map(|_| Source::Http {
            url: uri.to_owned(),
        }),
        Kind::Test => test_source(uri),
    }
}

fn file_source(uri: &str, base: &Path) -> Result<Source, String> {
    let path = if scheme(uri).is_some() {
        if !uri
            .get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("file://"))
        {
            return Err(
                "a file URL must be file:///absolute/path (or write a plain path)".to_owned(),
            );
        }
        let url = Url::parse(uri).map_err(|e| format!("cannot parse file URL: {e}"))?;
        url.to_file_path().map_err(|()| {
            "a file URL must be file:///absolute/path with no host (or write a plain path)"
                .to_owned()
        })?
    } else {
        resolve(base, Path::new(uri))
    };
    if path.is_file() {
        Ok(Source::File(path))
    } else if path.exists() {
        Err(format!("{path:?} is not a file"))
    } else {
        Err(format!("file {path:?} does not exist"))
    }
}

/// Checks an rtsp/rtsps/http/https URL: parses, has a host, has no user info.
fn network_url(uri: &str) -> Result<Url, String> {
    let url = Url::parse(uri).map_err(|e| format!("cannot parse URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "the URI contains a user name or password: remove it from the URI, put it in an \
             entry of credentials_file and set `credentials` to that entry's name"
                .to_owned(),
        );
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "URL has no host (write {}://HOST[:PORT]/PATH)",
            url.scheme()
        ));
    }
    Ok(url)
}

fn test_source(uri: &str) -> Result<Source, String> {
    let rest = uri.get("test:".len()..).unwrap_or("");
    let (pattern, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    if pattern.starts_with('/') {
        return Err("write test:PATTERN, e.g. test:smpte (no //)".to_owned());
    }
    if !TEST_PATTERNS.contains(&pattern) {
        return Err(format!(
            "unknown test pattern {pattern:?} (known: {})",
            TEST_PATTERNS.join(", ")
        ));
    }
    let (mut fps, mut width, mut height) =
        (DEFAULT_TEST_FPS, DEFAULT_TEST_WIDTH, DEFAULT_TEST_HEIGHT);
    let mut problems = Vec::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (slot, lo, hi) = match key {
            "fps" => (&mut fps, 1, 120),
            "width" => (&mut width, 16, 7680),
            "height" => (&mut height, 16, 4320),
            _ => {
                problems.push(format!(
                    "unknown test parameter {key:?} (use fps, width, height)"
                ));
                continue;
            }
        };
        match value.parse::<u32>() {
            Ok(v) if (lo..=hi).contains(&v) => *slot = v,
            _ => problems.push(format!("{key} must be an integer in {lo}..={hi}")),
        }
    }
    if problems.is_empty() {
        Ok(Source::TestPattern {
            pattern: pattern.to_owned(),
            fps,
            width,
            height,
        })
    } else {
        Err(problems.join("; "))
    }
}

/// `path` if absolute, else `base/path`.
pub(crate) fn resolve(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}
