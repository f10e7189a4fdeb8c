//! Attachments: images and files that shoppers and agents send in a conversation.
//!
//! This module owns what an attachment *is* ([`Attachment`]), the rules that decide whether an
//! upload is accepted (an allow-list judged on the real content, checked against the name and the
//! claimed content type: [`accept`]), the limits, the sanitising of file names, the message that
//! carries an attachment (payload and text fallback) and the storage port ([`AttachmentStore`]).
//! The bytes themselves live on disk under the data directory (kefu-http's `attachments.rs`); the
//! database holds one row per upload pointing at its content hash.

use crate::model::{Appended, Id, User};
use crate::time::Millis;
use crate::{Error, ErrorCode, Result};
use async_trait::async_trait;
use serde::Serialize;
use utoipa::ToSchema;

/// The largest image accepted (bytes).
pub const MAX_IMAGE_BYTES: u64 = 10 * 1024 * 1024;
/// The largest other file accepted (bytes).
pub const MAX_FILE_BYTES: u64 = 20 * 1024 * 1024;
/// Thumbnails fit in a square of this many pixels.
pub const THUMB_MAX_PX: u32 = 320;
/// Images wider or taller than this are refused before decoding (decompression bombs).
pub const MAX_IMAGE_SIDE_PX: u32 = 10_000;
/// The most pixels an image may have to be decoded (25 megapixels: every phone's default photo
/// size); decoding one costs at most 100 MB (RGBA), and decodes run one at a time.
pub const MAX_DECODE_PIXELS: u64 = 25_000_000;
/// The most memory one image decode may allocate.
pub const MAX_DECODE_ALLOC: u64 = 128 * 1024 * 1024;
/// How many bytes of the start of a file the type is judged on (OOXML needs the second zip entry).
pub const SNIFF_BYTES: usize = 64 * 1024;
/// File names are cut to this many characters (the extension is kept).
pub const MAX_NAME_CHARS: usize = 120;

/// One accepted type: its MIME type, the extensions a name may carry, whether it is an image
/// (shown inline, thumbnailed, smaller limit) and other content types a client may claim for it.
struct Allowed {
    mime: &'static str,
    exts: &'static [&'static str],
    image: bool,
    aliases: &'static [&'static str],
}

/// The allow-list. Everything else (executables, HTML, SVG, XML, scripts, archives other than zip,
/// macro-enabled office files …) is refused. SVG and HTML can carry scripts and are never accepted.
const ALLOWED: &[Allowed] = &[
    Allowed {
        mime: "image/jpeg",
        exts: &["jpg", "jpeg", "jfif"],
        image: true,
        aliases: &["image/jpg", "image/pjpeg"],
    },
    Allowed {
        mime: "image/png",
        exts: &["png"],
        image: true,
        aliases: &[],
    },
    Allowed {
        mime: "image/gif",
        exts: &["gif"],
        image: true,
        aliases: &[],
    },
    Allowed {
        mime: "image/webp",
        exts: &["webp"],
        image: true,
        aliases: &[],
    },
    Allowed {
        mime: "application/pdf",
        exts: &["pdf"],
        image: false,
        aliases: &[],
    },
    Allowed {
        mime: "application/zip",
        exts: &["zip"],
        image: false,
        aliases: &["application/x-zip-compressed", "application/x-zip"],
    },
    Allowed {
        mime: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        exts: &["docx"],
        image: false,
        aliases: &["application/zip"],
    },
    Allowed {
        mime: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        exts: &["xlsx"],
        image: false,
        aliases: &["application/zip"],
    },
    Allowed {
        mime: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        exts: &["pptx"],
        image: false,
        aliases: &["application/zip"],
    },
    Allowed {
        mime: "video/mp4",
        exts: &["mp4", "m4v"],
        image: false,
        aliases: &["video/x-m4v"],
    },
    Allowed {
        mime: "text/plain",
        exts: &["txt", "csv", "log", "md"],
        image: false,
        aliases: &["text/csv", "text/markdown", "text/x-log"],
    },
];

/// What the upload turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The MIME type it is stored and served as (never the client's claim).
    pub mime: &'static str,
    pub image: bool,
    /// The size limit for this type.
    pub max_bytes: u64,
    /// The extension a name without one gets.
    pub ext: &'static str,
}

fn refuse(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::UnsupportedMediaType, message)
}

/// The lower-case extension of a file name, if any.
pub fn extension(name: &str) -> Option<String> {
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

/// Text that a browser could take for markup: HTML, SVG or XML (which may carry scripts).
fn looks_like_markup(head: &[u8]) -> bool {
    let start = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let window = &start[..start.len().min(1024)];
    let lower = String::from_utf8_lossy(window).to_ascii_lowercase();
    let trimmed = lower.trim_start();
    trimmed.starts_with('<')
        || [
            "<html",
            "<svg",
            "<script",
            "<!doctype",
            "<?xml",
            "<iframe",
            "<body",
        ]
        .iter()
        .any(|tag| lower.contains(tag))
}

/// Plain text: UTF-8 (a character cut at the end of `head` is fine) with no NUL or other control
/// bytes than tab, line breaks and form feed.
pub fn is_plain_text_chunk(bytes: &[u8]) -> bool {
    !bytes
        .iter()
        .any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c) || b == 0x7f)
}

/// Decides whether an upload is accepted, from the MIME type detected in its first bytes
/// (`detected`, by magic numbers), those bytes (`head`, at most [`SNIFF_BYTES`]), the file name
/// and the content type the client claimed. The content decides the type; the name's extension and
/// the claim must agree with it, so an `.exe` renamed `.jpg` or an HTML page called `notes.txt`
/// is refused. `head` is the whole file when it is shorter than [`SNIFF_BYTES`].
pub fn accept(
    detected: Option<&str>,
    head: &[u8],
    name: &str,
    claimed: Option<&str>,
) -> Result<Accepted> {
    if head.is_empty() {
        return Err(Error::validation("file: the file is empty"));
    }
    let allowed = match detected {
        Some(mime) => ALLOWED
            .iter()
            .find(|a| a.mime == mime && mime != "text/plain")
            .ok_or_else(|| {
                refuse(format!(
                    "file: {mime} files are not accepted (images: jpeg, png, gif, webp; files: pdf, \
                     txt, csv, zip, docx, xlsx, pptx, mp4)"
                ))
            })?,
        None => {
            // No magic number: only plain text qualifies, and never markup.
            // `error_len() == None`: only a character cut at the end of the window (the upload
            // checks the whole stream as it arrives).
            let text = match std::str::from_utf8(head) {
                Ok(_) => true,
                Err(e) => e.error_len().is_none(),
            };
            if !text || !is_plain_text_chunk(head) {
                return Err(refuse(
                    "file: unrecognised binary content; accepted: images (jpeg, png, gif, webp), \
                     pdf, txt, csv, zip, docx, xlsx, pptx, mp4",
                ));
            }
            if looks_like_markup(head) {
                return Err(refuse(
                    "file: HTML, SVG and XML are not accepted (they can carry scripts)",
                ));
            }
            ALLOWED
                .iter()
                .find(|a| a.mime == "text/plain")
                .expect("text/plain is on the allow-list")
        }
    };
    if let Some(ext) = extension(name)
        && !allowed.exts.contains(&ext.as_str())
    {
        return Err(refuse(format!(
            "file: the content is {} but the name ends in .{ext}",
            allowed.mime
        )));
    }
    if let Some(claim) = claimed.map(|c| {
        c.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    }) && !claim.is_empty()
        && claim != "application/octet-stream"
        && claim != allowed.mime
        && !allowed.aliases.contains(&claim.as_str())
    {
        return Err(refuse(format!(
            "file: the content is {} but it was sent as {claim}",
            allowed.mime
        )));
    }
    Ok(Accepted {
        mime: allowed.mime,
        image: allowed.image,
        max_bytes: if allowed.image {
            MAX_IMAGE_BYTES
        } else {
            MAX_FILE_BYTES
        },
        ext: allowed.exts[0],
    })
}

/// A file name safe to store and show: no directories, no control or markup characters, at most
/// [`MAX_NAME_CHARS`] characters with the extension kept; `file.<ext>` when nothing is left.
pub fn sanitize_name(raw: &str, accepted: &Accepted) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| match c {
            '<' | '>' | '"' | '\'' | '`' | ':' | '*' | '?' | '|' | '\u{202e}' | '\u{202d}' => '_',
            c => c,
        })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim().to_owned();
    let (stem, ext) = match extension(&cleaned) {
        Some(ext) => {
            let stem = cleaned[..cleaned.len() - ext.len() - 1].to_owned();
            (stem, ext)
        }
        None => (cleaned, accepted.ext.to_owned()),
    };
    let stem = if stem.trim().is_empty() {
        "file".to_owned()
    } else {
        stem
    };
    let keep = MAX_NAME_CHARS
        .saturating_sub(ext.chars().count() + 1)
        .max(1);
    let stem: String = stem.chars().take(keep).collect();
    format!("{}.{ext}", stem.trim_end())
}

/// One stored attachment (one upload; its bytes are shared with every upload of the same hash).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attachment {
    pub id: Id,
    #[serde(skip)]
    pub shop_id: Id,
    pub conversation_id: Id,
    /// `customer` or `agent`.
    pub uploader_type: String,
    pub uploader_id: Id,
    /// SHA-256 of the content (hex): the file's name on disk.
    #[serde(skip)]
    pub sha256: String,
    pub name: String,
    pub mime: String,
    pub size: i64,
    pub width: Option<i64>,
    pub height: Option<i64>,
    /// A thumbnail exists (images larger than [`THUMB_MAX_PX`]).
    pub has_thumb: bool,
    pub created_at: Millis,
}

impl Attachment {
    pub fn is_image(&self) -> bool {
        self.mime.starts_with("image/")
    }
}

/// An attachment whose bytes are already durable on disk, about to get its row.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub sha256: String,
    pub name: String,
    pub mime: String,
    pub size: i64,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub has_thumb: bool,
}

/// The message payload of an attachment (`kind = "attachment"`): what clients render without
/// another request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttachmentPayload {
    pub attachment_id: Id,
    pub name: String,
    pub mime: String,
    pub size: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<i64>,
    /// Whether `/thumb` serves a smaller image (otherwise it serves the original).
    pub thumb: bool,
}

/// The payload of the message that carries `a`.
pub fn payload(a: &Attachment) -> serde_json::Value {
    serde_json::to_value(AttachmentPayload {
        attachment_id: a.id,
        name: a.name.clone(),
        mime: a.mime.clone(),
        size: a.size,
        width: a.width,
        height: a.height,
        thumb: a.has_thumb,
    })
    .unwrap_or_default()
}

/// The plain-text fallback of an attachment message (previews, notifications, old clients).
pub fn fallback_body(name: &str, mime: &str) -> String {
    if mime.starts_with("image/") {
        format!("[图片] {name}")
    } else {
        format!("[文件] {name}")
    }
}

/// `Content-Disposition` for a download: `inline` for images, `attachment` otherwise, with an
/// ASCII fallback name and the UTF-8 name percent-encoded (RFC 6266 / RFC 5987).
pub fn content_disposition(name: &str, inline: bool) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._- ()[]".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"._-".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    let kind = if inline { "inline" } else { "attachment" };
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Storage of attachment rows. The row is written in the same transaction as the message that
/// carries it, so a message never points at a missing row and a row never lacks its message.
#[async_trait]
pub trait AttachmentStore: Send + Sync + 'static {
    /// An agent's attachment into a conversation (the caller checked the agent may see it): the
    /// row and an `attachment` message in one transaction. A retry (same `client_msg_id`) returns
    /// the original message and stores nothing.
    async fn append_agent_attachment(
        &self,
        agent: &User,
        conversation_id: Id,
        attachment: NewAttachment,
        client_msg_id: &str,
    ) -> Result<Appended>;

    /// A shopper's attachment: like a shopper's message (it creates or reopens the conversation,
    /// with the greeting and offline notice), and the row, in one transaction.
    async fn append_customer_attachment(
        &self,
        shop_id: Id,
        customer_id: Id,
        attachment: NewAttachment,
        client_msg_id: &str,
    ) -> Result<Appended>;

    /// One attachment of the shop; `None` for another shop's or an unknown id.
    async fn attachment(&self, shop_id: Id, id: Id) -> Result<Option<Attachment>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_decides_and_name_must_agree() {
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10];
        let ok = accept(Some("image/jpeg"), &jpeg, "photo.JPG", Some("image/jpeg")).unwrap();
        assert!(ok.image);
        assert_eq!(ok.max_bytes, MAX_IMAGE_BYTES);
        let exe = accept(
            Some("application/vnd.microsoft.portable-executable"),
            b"MZ\x90\0",
            "photo.jpg",
            Some("image/jpeg"),
        )
        .unwrap_err();
        assert_eq!(exe.code, ErrorCode::UnsupportedMediaType);
        // A real PNG named .jpg is refused: the name lies.
        assert!(accept(Some("image/png"), b"\x89PNG", "a.jpg", None).is_err());
        // A real PNG claimed as text/html is refused.
        assert!(accept(Some("image/png"), b"\x89PNG", "a.png", Some("text/html")).is_err());
        assert!(
            accept(
                Some("image/png"),
                b"\x89PNG",
                "a.png",
                Some("application/octet-stream")
            )
            .is_ok()
        );
    }

    #[test]
    fn markup_is_never_text() {
        for head in [
            &b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"[..],
            b"  <!DOCTYPE html><p>hi",
            b"\xEF\xBB\xBF<?xml version='1.0'?><svg/>",
            b"hello <script>alert(1)</script>",
        ] {
            let e = accept(None, head, "notes.txt", Some("text/plain")).unwrap_err();
            assert_eq!(e.code, ErrorCode::UnsupportedMediaType, "{head:?}");
        }
        let ok = accept(None, "退货单号 123\n".as_bytes(), "单号.txt", None).unwrap();
        assert_eq!(ok.mime, "text/plain");
        assert!(accept(None, b"a\0b", "x.txt", None).is_err());
        assert!(accept(None, b"plain", "x.html", None).is_err());
        assert!(accept(None, b"", "x.txt", None).is_err());
        // A UTF-8 character cut by the sniff window is still text.
        let cut = &"好".as_bytes()[..2];
        assert!(accept(None, &[b"ab".as_slice(), cut].concat(), "x.txt", None).is_ok());
    }

    #[test]
    fn names_are_sanitised() {
        let png = accept(Some("image/png"), b"\x89PNG", "x.png", None).unwrap();
        assert_eq!(sanitize_name("../../etc/passwd.png", &png), "passwd.png");
        assert_eq!(sanitize_name("C:\\Users\\a\\照片.png", &png), "照片.png");
        assert_eq!(sanitize_name("<img src=x>.png", &png), "_img src=x_.png");
        assert_eq!(sanitize_name("", &png), "file.png");
        assert_eq!(sanitize_name("noext", &png), "noext.png");
        assert_eq!(
            sanitize_name(".png", &png),
            "png.png",
            "a hidden-file name loses its dot"
        );
        let long = format!("{}.png", "长".repeat(300));
        let cut = sanitize_name(&long, &png);
        assert_eq!(cut.chars().count(), MAX_NAME_CHARS);
        assert!(cut.ends_with(".png"));
    }

    #[test]
    fn disposition_encodes_utf8() {
        assert_eq!(
            content_disposition("照片 1.png", true),
            "inline; filename=\"__ 1.png\"; filename*=UTF-8''%E7%85%A7%E7%89%87%201.png"
        );
        assert!(
            content_disposition("a\"b.pdf", false).starts_with("attachment; filename=\"a_b.pdf\"")
        );
        assert_eq!(fallback_body("a.png", "image/png"), "[图片] a.png");
        assert_eq!(fallback_body("a.pdf", "application/pdf"), "[文件] a.pdf");
    }
}
