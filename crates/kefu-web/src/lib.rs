//! kefu-web: the built web console, widget and demo page (`web/dist`), embedded in the binary.
//!
//! In debug builds rust-embed reads the files from disk, so a rebuilt console shows without
//! recompiling Rust; release builds carry them inside the binary. Missing files (web not built
//! yet) are allowed: the server then answers 404 for them and says so in the log.

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
}

/// The embedded file at `path` (no leading slash), if any.
pub fn get(path: &str) -> Option<Asset> {
    let file = Dist::get(path)?;
    let content_type = mime_guess::from_path(path)
        .first_or_octet_stream()
        .essence_str()
        .to_owned();
    let content_type =
        if content_type.starts_with("text/") || content_type == "application/javascript" {
            format!("{content_type}; charset=utf-8")
        } else {
            content_type
        };
    Some(Asset {
        bytes: file.data,
        content_type,
        immutable: path.starts_with("assets/"),
    })
}

/// Whether the console has been built into this binary.
pub fn has_console() -> bool {
    Dist::get("index.html").is_some()
}
