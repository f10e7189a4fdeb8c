//! kefu-web: the built web console, widget and demo page (`web/dist`), embedded in the binary.
//!
//! In debug builds rust-embed reads the files from disk, so a rebuilt console shows without
//! recompiling Rust; release builds carry them inside the binary. Missing files (web not built
//! yet) are allowed: the server then answers 404 for them and says so in the log.
//!
//! `npm run build` also writes a Brotli (`.br`) and a gzip (`.gz`) copy beside each text asset
//! (`web/scripts/compress.mjs`); [`get`] hands out the smallest one the client accepts, so the
//! server never compresses at request time. Every answer carries a strong ETag: the SHA-256 of
//! the bytes sent, which rust-embed has already computed.

use rust_embed::RustEmbed;
use std::borrow::Cow;

#[derive(RustEmbed)]
#[folder = "$CARGO_MANIFEST_DIR/../../web/dist"]
#[allow_missing = true]
struct Dist;

/// A file ready to serve.
pub struct Asset {
    pub bytes: Cow<'static, [u8]>,
    pub content_type: String,
    /// Vite's hashed assets never change under the same name.
    pub immutable: bool,
    /// `Content-Encoding` of `bytes` when they are a precompressed copy (`br` or `gzip`).
    pub encoding: Option<&'static str>,
    /// Whether compressed copies exist, so the answer depends on `Accept-Encoding`.
    pub varies: bool,
    /// A strong ETag (quoted) of exactly these bytes.
    pub etag: String,
}

/// The precompressed copies the build writes, most preferred first: (suffix, content coding).
const ENCODINGS: [(&str, &str); 2] = [(".br", "br"), (".gz", "gzip")];

/// The embedded file at `path` (no leading slash), if any, in the best encoding that
/// `accept_encoding` (the request's `Accept-Encoding` header, possibly empty) allows.
pub fn get(path: &str, accept_encoding: &str) -> Option<Asset> {
    let plain = Dist::get(path)?;
    let mut varies = false;
    let mut chosen = None;
    for (suffix, coding) in ENCODINGS {
        let Some(file) = Dist::get(&format!("{path}{suffix}")) else {
            continue;
        };
        varies = true;
        if chosen.is_none() && accepts(accept_encoding, coding) {
            chosen = Some((file, coding));
        }
    }
    let (file, encoding) = match chosen {
        Some((file, coding)) => (file, Some(coding)),
        None => (plain, None),
    };
    Some(Asset {
        etag: etag(&file.metadata.sha256_hash()),
        bytes: file.data,
        content_type: content_type(path),
        immutable: path.starts_with("assets/"),
        encoding,
        varies,
    })
}

/// Whether the console has been built into this binary.
pub fn has_console() -> bool {
    Dist::get("index.html").is_some()
}

fn content_type(path: &str) -> String {
    let essence = mime_guess::from_path(path)
        .first_or_octet_stream()
        .essence_str()
        .to_owned();
    if essence.starts_with("text/") || essence == "application/javascript" {
        format!("{essence}; charset=utf-8")
    } else {
        essence
    }
}

/// Whether an `Accept-Encoding` value allows `coding` (named, or `*`, without `q=0`).
fn accepts(header: &str, coding: &str) -> bool {
    let mut wildcard = false;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let refused = parts.any(|p| {
            let p = p.trim();
            p.strip_prefix("q=")
                .or_else(|| p.strip_prefix("Q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        if name.eq_ignore_ascii_case(coding) {
            return !refused;
        }
        if name == "*" {
            wildcard = !refused;
        }
    }
    wildcard
}

/// The first 16 bytes of a SHA-256 as a quoted hex ETag (plenty to tell two builds apart).
fn etag(hash: &[u8; 32]) -> String {
    let mut s = String::with_capacity(34);
    s.push('"');
    for b in &hash[..16] {
        s.push_str(&format!("{b:02x}"));
    }
    s.push('"');
    s
}

/// Whether an `If-None-Match` value matches `etag` (a list of tags, `*`, weak forms included).
pub fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').any(|tag| {
        let tag = tag.trim();
        tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        assert!(accepts("gzip, deflate, br, zstd", "br"));
        assert!(accepts("gzip, deflate, br", "gzip"));
        assert!(!accepts("gzip, deflate", "br"));
        assert!(!accepts("", "gzip"));
        assert!(!accepts("br;q=0, gzip", "br"));
        assert!(accepts("br;q=0.5", "br"));
        assert!(accepts("*", "br"));
        assert!(!accepts("*, br;q=0", "br"));
        assert!(!accepts("identity", "gzip"));
    }

    #[test]
    fn etags_match_lists_and_weak_forms() {
        let tag = etag(&[0xab; 32]);
        assert_eq!(tag, format!("\"{}\"", "ab".repeat(16)));
        assert!(etag_matches(&tag, &tag));
        assert!(etag_matches(&format!("\"x\", W/{tag}"), &tag));
        assert!(etag_matches("*", &tag));
        assert!(!etag_matches("\"other\"", &tag));
    }
}
