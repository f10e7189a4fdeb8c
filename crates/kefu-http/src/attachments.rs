//! Attachments in chat: receiving an upload (streamed, size-limited, typed by its real content),
//! storing its bytes durably by content hash, thumbnailing images, and the flows that store the
//! attachment's row with its message and publish it.
//!
//! Files live under `<data-dir>/attachments/`: `ab/cd/<sha256>` (the original) and
//! `ab/cd/<sha256>.thumb` (JPEG, or PNG for images with transparency). An upload is written to
//! `tmp/`, fsynced and renamed into place (the directory fsynced too) before its row is written;
//! the request is answered only after both. Identical content is stored once. A rejected upload
//! leaves nothing behind: its temporary file is removed when the upload is dropped.

use crate::AppState;
use crate::chat::Sent;
use axum::extract::multipart::{Field, Multipart, MultipartError};
use axum::http::StatusCode;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};
use kefu_core::attachments::{
    self, Accepted, Attachment, MAX_DECODE_ALLOC, MAX_DECODE_PIXELS, MAX_FILE_BYTES,
    MAX_IMAGE_SIDE_PX, NewAttachment, SNIFF_BYTES, THUMB_MAX_PX,
};
use kefu_core::events::{Event, EventSink};
use kefu_core::model::*;
use kefu_core::{Error, ErrorCode, Result};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// The largest request body of an upload route: the largest file plus room for the multipart
/// framing and the small text fields. The JSON API's 64 KiB limit does not apply to these routes.
pub const MAX_UPLOAD_BODY: usize = MAX_FILE_BYTES as usize + 64 * 1024;

/// The attachment directory under the data directory.
pub struct AttachmentFiles {
    root: PathBuf,
    /// Image decodes running at once: one. A decode may take up to [`MAX_DECODE_ALLOC`], so
    /// four large images at once would multiply that (four 10,000² PNGs once took 1.7 GB).
    decodes: tokio::sync::Semaphore,
}

impl AttachmentFiles {
    /// Opens (creating) `<data_dir>/attachments` and clears temporary files a crash left behind.
    pub fn open(data_dir: &Path) -> std::io::Result<Self> {
        let root = data_dir.join("attachments");
        let tmp = root.join("tmp");
        std::fs::create_dir_all(&tmp)?;
        for entry in std::fs::read_dir(&tmp)?.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
        Ok(AttachmentFiles {
            root,
            decodes: tokio::sync::Semaphore::new(1),
        })
    }

    /// Where the original of `sha256` lives (`ab/cd/<hash>`: no directory grows too large).
    pub fn path(&self, sha256: &str) -> PathBuf {
        self.root
            .join(&sha256[0..2])
            .join(&sha256[2..4])
            .join(sha256)
    }

    pub fn thumb_path(&self, sha256: &str) -> PathBuf {
        let mut p = self.path(sha256);
        p.set_extension("thumb");
        p
    }

    fn tmp_path(&self) -> PathBuf {
        self.root
            .join("tmp")
            .join(format!("{}.part", kefu_core::token::generate("up")))
    }
}

/// A file in `tmp/` that is removed unless it was moved into place.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// An upload that passed every check, durable on disk.
pub struct Received {
    pub attachment: NewAttachment,
    pub client_msg_id: String,
}

fn multipart_err(e: MultipartError) -> Error {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large(MAX_FILE_BYTES)
    } else {
        Error::bad_request(format!("malformed multipart body: {}", e.body_text()))
    }
}

fn too_large(limit: u64) -> Error {
    Error::new(
        ErrorCode::PayloadTooLarge,
        format!(
            "file: larger than the limit of {} MB for this type (images 10 MB, other files 20 MB)",
            limit / (1024 * 1024)
        ),
    )
}

/// Checks that a text upload stays UTF-8 without control bytes across chunk boundaries.
#[derive(Default)]
struct TextCheck {
    carry: Vec<u8>,
}

impl TextCheck {
    fn feed(&mut self, chunk: &[u8]) -> bool {
        if !attachments::is_plain_text_chunk(chunk) {
            return false;
        }
        let mut joined = std::mem::take(&mut self.carry);
        joined.extend_from_slice(chunk);
        match std::str::from_utf8(&joined) {
            Ok(_) => true,
            Err(e) if e.error_len().is_none() => {
                self.carry = joined[e.valid_up_to()..].to_vec();
                true
            }
            Err(_) => false,
        }
    }

    fn finish(&self) -> bool {
        self.carry.is_empty()
    }
}

fn not_text() -> Error {
    Error::new(
        ErrorCode::UnsupportedMediaType,
        "file: a text file must be UTF-8 without control characters",
    )
}

/// What the image decoder found.
struct ImageInfo {
    width: u32,
    height: u32,
    thumb: Option<Vec<u8>>,
}

/// Decodes an image with limits (decompression bombs), checks its format is the sniffed one and
/// makes a thumbnail when it is larger than [`THUMB_MAX_PX`]. Blocking: run off the runtime.
fn inspect_image(path: &Path, mime: &str) -> Result<ImageInfo> {
    let unreadable = |e: image::ImageError| {
        Error::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "file: the image could not be read ({e}); images up to \
                 {MAX_IMAGE_SIDE_PX}×{MAX_IMAGE_SIDE_PX} pixels are accepted"
            ),
        )
    };
    let expected = match mime {
        "image/jpeg" => ImageFormat::Jpeg,
        "image/png" => ImageFormat::Png,
        "image/gif" => ImageFormat::Gif,
        "image/webp" => ImageFormat::WebP,
        other => return Err(Error::internal(format!("not an image type: {other}"))),
    };
    let mut reader = ImageReader::open(path)
        .map_err(Error::internal)?
        .with_guessed_format()
        .map_err(Error::internal)?;
    if reader.format() != Some(expected) {
        return Err(Error::new(
            ErrorCode::UnsupportedMediaType,
            "file: the image data does not match its type",
        ));
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE_PX);
    limits.max_image_height = Some(MAX_IMAGE_SIDE_PX);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    // The header tells the size before any pixel is decoded: a small file can describe a huge
    // image (a 379 KiB PNG of 10,000 × 10,000 pixels costs 400 MB to decode).
    let (w, h) = decoder.dimensions();
    if u64::from(w) * u64::from(h) > MAX_DECODE_PIXELS {
        return Err(Error::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "file: the image has too many pixels ({w}×{h}); at most {} million are accepted",
                MAX_DECODE_PIXELS / 1_000_000
            ),
        ));
    }
    let orientation = decoder.orientation().map_err(unreadable)?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    // Phones store portrait photos sideways with an EXIF orientation; show them upright.
    img.apply_orientation(orientation);
    let (width, height) = (img.width(), img.height());
    let thumb = if width > THUMB_MAX_PX || height > THUMB_MAX_PX {
        let small = img.thumbnail(THUMB_MAX_PX, THUMB_MAX_PX);
        let mut out = Vec::new();
        if small.color().has_alpha() {
            small
                .write_to(&mut std::io::Cursor::new(&mut out), ImageFormat::Png)
                .map_err(Error::internal)?;
        } else {
            let rgb = DynamicImage::ImageRgb8(small.to_rgb8());
            let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 82);
            encoder.encode_image(&rgb).map_err(Error::internal)?;
        }
        Some(out)
    } else {
        None
    };
    Ok(ImageInfo {
        width,
        height,
        thumb,
    })
}

/// fsync a directory so a rename into it survives a crash.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Moves the fsynced temporary file to its content-addressed place (unless identical content is
/// already there) and writes the thumbnail next to it. Blocking.
fn place(
    files: &AttachmentFiles,
    tmp: &mut TempFile,
    sha256: &str,
    thumb: Option<&[u8]>,
) -> std::io::Result<()> {
    let dest = files.path(sha256);
    let dir = dest.parent().expect("sharded path has a parent").to_owned();
    std::fs::create_dir_all(&dir)?;
    if !dest.exists() {
        std::fs::rename(&tmp.path, &dest)?;
        tmp.keep = true;
        sync_dir(&dir)?;
    }
    if let Some(bytes) = thumb {
        let thumb_dest = files.thumb_path(sha256);
        if !thumb_dest.exists() {
            let mut part = TempFile {
                path: files.tmp_path(),
                keep: false,
            };
            let mut f = std::fs::File::create(&part.path)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            std::fs::rename(&part.path, &thumb_dest)?;
            part.keep = true;
            sync_dir(&dir)?;
        }
    }
    Ok(())
}

/// A file part spooled to `tmp/`, accepted, not yet in place.
struct Spooled {
    tmp: TempFile,
    accepted: Accepted,
    sha256: String,
    size: u64,
    raw_name: String,
}

/// Streams the `file` field to a temporary file: judged by its first bytes, hashed, limited.
async fn receive_file(
    files: &AttachmentFiles,
    field: &mut Field<'_>,
    images_only: bool,
) -> Result<Spooled> {
    let raw_name = field.file_name().unwrap_or_default().to_owned();
    let claimed = field.content_type().map(str::to_owned);
    let mut head: Vec<u8> = Vec::new();
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut accepted: Option<Accepted> = None;
    let mut text = TextCheck::default();
    let tmp = TempFile {
        path: files.tmp_path(),
        keep: false,
    };
    let mut out: Option<tokio::fs::File> = None;

    // Judges the head and opens the temporary file; called once.
    async fn decide(
        head: &[u8],
        name: &str,
        claimed: Option<&str>,
        tmp: &TempFile,
        text: &mut TextCheck,
        images_only: bool,
    ) -> Result<(Accepted, tokio::fs::File)> {
        let detected = infer::get(head).map(|t| t.mime_type());
        let accepted = attachments::accept(detected, head, name, claimed)?;
        if images_only && !accepted.image {
            return Err(Error::new(
                ErrorCode::UnsupportedMediaType,
                format!(
                    "file: only photos are accepted here (jpeg, png, gif, webp), not {}",
                    accepted.mime
                ),
            ));
        }
        if accepted.mime == "text/plain" && !text.feed(head) {
            return Err(not_text());
        }
        let mut f = tokio::fs::File::create(&tmp.path)
            .await
            .map_err(Error::internal)?;
        f.write_all(head).await.map_err(Error::internal)?;
        Ok((accepted, f))
    }

    while let Some(chunk) = field.chunk().await.map_err(multipart_err)? {
        size += chunk.len() as u64;
        let limit = accepted.map_or(MAX_FILE_BYTES, |a| a.max_bytes);
        if size > limit {
            return Err(too_large(limit));
        }
        hasher.update(&chunk);
        match (&accepted, &mut out) {
            (Some(a), Some(f)) => {
                if a.mime == "text/plain" && !text.feed(&chunk) {
                    return Err(not_text());
                }
                f.write_all(&chunk).await.map_err(Error::internal)?;
            }
            _ => {
                head.extend_from_slice(&chunk);
                if head.len() >= SNIFF_BYTES {
                    let (a, f) = decide(
                        &head,
                        &raw_name,
                        claimed.as_deref(),
                        &tmp,
                        &mut text,
                        images_only,
                    )
                    .await?;
                    if size > a.max_bytes {
                        return Err(too_large(a.max_bytes));
                    }
                    accepted = Some(a);
                    out = Some(f);
                    head = Vec::new();
                }
            }
        }
    }
    let (accepted, mut f) = match (accepted, out) {
        (Some(a), Some(f)) => (a, f),
        _ => {
            decide(
                &head,
                &raw_name,
                claimed.as_deref(),
                &tmp,
                &mut text,
                images_only,
            )
            .await?
        }
    };
    if accepted.mime == "text/plain" && !text.finish() {
        return Err(not_text());
    }
    f.flush().await.map_err(Error::internal)?;
    f.sync_all().await.map_err(Error::internal)?;
    drop(f);
    let sha256: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Spooled {
        tmp,
        accepted,
        sha256,
        size,
        raw_name,
    })
}

/// Reads an upload request: one `file` field and a `client_msg_id` text field (in any order).
/// The file is checked, made durable and thumbnailed; nothing is left on disk when it fails.
pub async fn receive(files: Arc<AttachmentFiles>, multipart: Multipart) -> Result<Received> {
    let (attachment, client_msg_id) = read_upload(files, multipart, false, true).await?;
    let client_msg_id = client_msg_id.unwrap_or_default();
    Ok(Received {
        attachment,
        client_msg_id,
    })
}

/// Like [`receive`] for uploads that are not messages (ticket files): the `file` field only
/// (a `client_msg_id` is read if sent, never required).
pub async fn receive_upload(
    files: Arc<AttachmentFiles>,
    multipart: Multipart,
) -> Result<(NewAttachment, Option<String>)> {
    read_upload(files, multipart, false, false).await
}

/// Reads a photo upload (one `file` field; images only, judged by content like every upload):
/// after-sales evidence.
pub async fn receive_photo(
    files: Arc<AttachmentFiles>,
    multipart: Multipart,
) -> Result<NewAttachment> {
    Ok(read_upload(files, multipart, true, false).await?.0)
}

/// The one upload reader: `images_only` refuses other types, `needs_msg_id` (chat uploads, which
/// are messages) checks the `client_msg_id` before the file is placed.
async fn read_upload(
    files: Arc<AttachmentFiles>,
    mut multipart: Multipart,
    images_only: bool,
    needs_msg_id: bool,
) -> Result<(NewAttachment, Option<String>)> {
    let mut client_msg_id: Option<String> = None;
    let mut file: Option<Spooled> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_err)? {
        match field.name().unwrap_or_default() {
            "file" if file.is_none() => {
                let got = receive_file(&files, &mut field, images_only).await;
                match got {
                    Ok(received) => file = Some(received),
                    Err(e) => {
                        // Read the rest of the (size-limited) body so the client hears the
                        // error instead of a reset connection.
                        drop(field);
                        while let Ok(Some(mut rest)) = multipart.next_field().await {
                            while let Ok(Some(_)) = rest.chunk().await {}
                        }
                        return Err(e);
                    }
                }
            }
            "file" => return Err(Error::validation("file: send one file per request")),
            "client_msg_id" => {
                let mut value = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(multipart_err)? {
                    value.extend_from_slice(&chunk);
                    if value.len() > 256 {
                        return Err(Error::validation("client_msg_id is too long"));
                    }
                }
                client_msg_id = Some(
                    String::from_utf8(value)
                        .map_err(|_| Error::validation("client_msg_id must be text"))?,
                );
            }
            _ => {
                // Unknown fields are skipped (bounded by the body limit).
                while field.chunk().await.map_err(multipart_err)?.is_some() {}
            }
        }
    }
    // Chat uploads are messages: their id is checked before the file is placed.
    if needs_msg_id {
        let id = client_msg_id
            .as_deref()
            .ok_or_else(|| Error::validation("client_msg_id is required"))?;
        validate_client_msg_id(id)?;
    }
    let Spooled {
        mut tmp,
        accepted,
        sha256,
        size,
        raw_name,
    } = file.ok_or_else(|| Error::validation("file is required (a multipart field named file)"))?;
    let name = attachments::sanitize_name(&raw_name, &accepted);
    let files2 = files.clone();
    let _decoding = match accepted.image {
        true => Some(files.decodes.acquire().await.map_err(Error::internal)?),
        false => None,
    };
    let (width, height, has_thumb, sha256) = tokio::task::spawn_blocking(move || {
        let info = if accepted.image {
            Some(inspect_image(&tmp.path, accepted.mime)?)
        } else {
            None
        };
        place(
            &files2,
            &mut tmp,
            &sha256,
            info.as_ref().and_then(|i| i.thumb.as_deref()),
        )
        .map_err(Error::internal)?;
        Ok::<_, Error>((
            info.as_ref().map(|i| i64::from(i.width)),
            info.as_ref().map(|i| i64::from(i.height)),
            info.as_ref().is_some_and(|i| i.thumb.is_some()),
            sha256,
        ))
    })
    .await
    .map_err(Error::internal)??;
    Ok((
        NewAttachment {
            sha256,
            name,
            mime: accepted.mime.to_owned(),
            size: size as i64,
            width,
            height,
            has_thumb,
        },
        client_msg_id,
    ))
}

impl AppState {
    pub(crate) fn attachment_files(&self) -> Result<Arc<AttachmentFiles>> {
        self.attachments.clone().ok_or_else(|| {
            Error::not_found("attachment storage (the server has no data directory)")
        })
    }

    /// An agent uploads a file into a conversation they may see; it is sent as a message.
    pub async fn agent_attachment(
        &self,
        agent: &User,
        conversation_id: Id,
        multipart: Multipart,
    ) -> Result<Sent> {
        let files = self.attachment_files()?;
        // Check entitlement before reading the body: nothing is stored for a stranger.
        self.visible_conversation(agent, conversation_id).await?;
        let received = receive(files, multipart).await?;
        let appended = self
            .store
            .append_agent_attachment(
                agent,
                conversation_id,
                received.attachment,
                &received.client_msg_id,
            )
            .await?;
        if !appended.duplicate {
            self.hub.publish(Event::MessageCreated {
                conversation: Arc::new(appended.conversation),
                message: Arc::new(appended.message.clone()),
            });
        }
        Ok(Sent {
            message: appended.message,
            duplicate: appended.duplicate,
        })
    }

    /// A shopper uploads a file into their conversation (starting or reopening it, like a text).
    pub async fn shopper_attachment(
        &self,
        visitor: &Visitor,
        multipart: Multipart,
    ) -> Result<Sent> {
        let files = self.attachment_files()?;
        if visitor.blocked {
            return Err(Error::new(
                ErrorCode::Blocked,
                "this shopper may not start chats",
            ));
        }
        let received = receive(files, multipart).await?;
        let appended = self
            .store
            .append_customer_attachment(
                visitor.shop_id,
                visitor.customer_id,
                received.attachment,
                &received.client_msg_id,
            )
            .await?;
        self.shopper_appended(visitor, appended).await
    }

    /// The attachment if `viewer` is entitled to its conversation; `not_found` otherwise (another
    /// shop's, another shopper's, or a conversation this agent may not see).
    pub async fn entitled_attachment(&self, viewer: &Viewer, id: Id) -> Result<Attachment> {
        let shop_id = match viewer {
            Viewer::Agent(u) => u.shop_id,
            Viewer::Shopper(v) => v.shop_id,
        };
        let attachment = self
            .store
            .attachment(shop_id, id)
            .await?
            .ok_or_else(|| Error::not_found("attachment"))?;
        match viewer {
            Viewer::Agent(u) => {
                self.visible_conversation(u, attachment.conversation_id)
                    .await
                    .map_err(|_| Error::not_found("attachment"))?;
            }
            Viewer::Shopper(v) => {
                let conversation = self
                    .store
                    .conversation(shop_id, attachment.conversation_id)
                    .await?;
                if conversation.is_none_or(|c| c.customer.id != v.customer_id) {
                    return Err(Error::not_found("attachment"));
                }
            }
        }
        Ok(attachment)
    }
}

/// Who asks for an attachment: an agent (session token or console cookie) or a shopper (visitor
/// token).
pub enum Viewer {
    Agent(User),
    Shopper(Visitor),
}

#[cfg(test)]
mod tests {
    use super::TextCheck;

    #[test]
    fn text_check_spans_chunks() {
        let bytes = "退货 ok\n".as_bytes();
        let mut check = TextCheck::default();
        // Split inside the first character.
        assert!(check.feed(&bytes[..1]));
        assert!(check.feed(&bytes[1..]));
        assert!(check.finish());

        let mut cut = TextCheck::default();
        assert!(cut.feed(&bytes[..2]));
        assert!(
            !cut.finish(),
            "a character cut at the end of the file is not text"
        );

        let mut bad = TextCheck::default();
        assert!(!bad.feed(b"ok \xff\xfe"));
        let mut nul = TextCheck::default();
        assert!(!nul.feed(b"a\0b"));
    }
}
