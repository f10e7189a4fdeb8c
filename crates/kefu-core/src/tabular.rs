//! Tabular input as shops really have it: one reader for every import (orders, reviews, scripts)
//! and the value forms a Chinese Excel writes. Pure: no IO besides the `Read` it is handed.
//!
//! - **Formats**, chosen by content, never by file name: XLSX/XLS/ODS (a zip `PK\x03\x04` or an
//!   OLE `D0 CF 11 E0` file; the first sheet, through `calamine`) or delimited text.
//! - **Text encodings**: UTF-8 with or without BOM, UTF-16 LE/BE with BOM (Excel's "Unicode text",
//!   tab-separated) and GBK/GB18030 (what Excel's "CSV" writes on a Chinese Windows). Without a BOM
//!   the text is passed through untouched while it is ASCII; at the first other byte the next
//!   64 KiB decide: valid UTF-8 stays UTF-8 (no copy, no transcoding: the hot path of a million-order
//!   import is unchanged), anything else is GB18030 and is transcoded as it streams (`encoding_rs`).
//! - **Delimiter**: a tab when the header line has more tabs than commas, else a comma.
//! - **Line numbers** are the file's own: each record carries the line it starts on, counting
//!   `\r\n`, `\n` and a lone `\r` as one line break each, inside quoted cells too (the CSV parser's
//!   own count misses breaks inside quoted cells of CRLF files and lone `\r`s).
//! - **Values**: times like `2026/12/6 16:00`, `2026-12-06 16:00:00`, `2026年12月6日 16:00` or an
//!   Excel serial, read in the shop's zone ([`parse_local_time`]); amounts like `1,329.00`,
//!   `¥1,329.00`, `￥1329` to cents ([`parse_amount`]), ambiguous ones refused.
//! - **Headers**: each import lists its columns with Chinese (Taobao/JD export) alternatives;
//!   [`resolve_headers`] maps a file's header row onto them.
//! - **Reasons**: a bad row is reported with a stable [`Reason`] code that the console translates
//!   (web/src/errorText.js, `IMPORT_REASONS`), plus the field and an English message.

use crate::time::Millis;
use crate::{Error, Result};
use std::collections::{HashMap, VecDeque};
use std::io::{self, Read};

/// Why a row (or a cell of it) was refused. The console translates each code; a web unit test
/// reads [`Reason::as_str`] and fails when one has no Chinese and English text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The row cannot be parsed (unbalanced quotes, bytes that are no text).
    UnreadableRow,
    /// A cell holds the NUL character.
    NulCharacter,
    /// A required cell is empty.
    Required,
    /// Required because another field (`other_field`) is given.
    RequiredWith,
    /// The rows of one order must be consecutive.
    NotConsecutive,
    /// Another row of the same order is bad, so the whole order is refused.
    OrderRejected,
    /// An order-level cell differs from an earlier row (`other_line`) of the same order.
    Differs,
    /// Not a whole number.
    NotWholeNumber,
    /// Not an amount.
    BadAmount,
    /// An amount whose separators could mean two things (`1,32`, `1.329,00`).
    AmbiguousAmount,
    /// A number or amount beyond the allowed maximum.
    TooLarge,
    /// A number below the allowed minimum.
    TooSmall,
    /// Text longer than allowed.
    TooLong,
    /// Not a time or date.
    BadTime,
    /// Not one of the allowed values (a status, a rating, a platform).
    BadValue,
    /// An order needs a buyer id, phone or e-mail.
    BuyerRequired,
    /// Not a phone number.
    BadPhone,
    /// Not an e-mail address.
    BadEmail,
    /// Already taken by another record (a shortcut, a tracking number).
    AlreadyUsed,
    /// Any other refused value (the English message says which).
    Invalid,
}

impl Reason {
    /// The stable code sent to clients.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::UnreadableRow => "unreadable_row",
            Reason::NulCharacter => "nul_character",
            Reason::Required => "required",
            Reason::RequiredWith => "required_with",
            Reason::NotConsecutive => "not_consecutive",
            Reason::OrderRejected => "order_rejected",
            Reason::Differs => "differs",
            Reason::NotWholeNumber => "not_whole_number",
            Reason::BadAmount => "bad_amount",
            Reason::AmbiguousAmount => "ambiguous_amount",
            Reason::TooLarge => "too_large",
            Reason::TooSmall => "too_small",
            Reason::TooLong => "too_long",
            Reason::BadTime => "bad_time",
            Reason::BadValue => "bad_value",
            Reason::BuyerRequired => "buyer_required",
            Reason::BadPhone => "bad_phone",
            Reason::BadEmail => "bad_email",
            Reason::AlreadyUsed => "already_used",
            Reason::Invalid => "invalid",
        }
    } // end of codes (web/test/errors.test.mjs reads up to here)

    /// The reason behind one of the domain's English validation sentences (the part after
    /// `field: `), so every refusal a validator gives reaches the console as a code.
    pub fn of_message(reason: &str) -> Reason {
        let r = reason.trim();
        let has = |s: &str| r.contains(s);
        if r == "must not be empty" || r.starts_with("is required") {
            Reason::Required
        } else if r.starts_with("required when") {
            Reason::RequiredWith
        } else if has("NUL character") {
            Reason::NulCharacter
        } else if has("needs customer_id or one of") || has("needs one of buyer") {
            Reason::BuyerRequired
        } else if has("must be a time") || has("RFC 3339") || has("must be a date") {
            Reason::BadTime
        } else if has("characters") && (has("at most") || has("too long")) {
            Reason::TooLong
        } else if has("too large") || r.starts_with("must be at most") || has("must not exceed") {
            Reason::TooLarge
        } else if r.starts_with("must be at least") {
            Reason::TooSmall
        } else if has("must be an amount") {
            Reason::BadAmount
        } else if has("whole number") {
            Reason::NotWholeNumber
        } else if has("5-20 digits") || has("phone") {
            Reason::BadPhone
        } else if has("e-mail") {
            Reason::BadEmail
        } else if has("must be one of") || r.starts_with("unknown") || has("must be between") {
            Reason::BadValue
        } else if has("already") {
            Reason::AlreadyUsed
        } else {
            Reason::Invalid
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// How many bytes after the first non-ASCII byte decide between UTF-8 and GB18030.
const SNIFF_BYTES: usize = 64 * 1024;

/// The text encoding a file turned out to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// Only ASCII so far (also UTF-8 and GB18030).
    Ascii,
    Utf8,
    Utf16Le,
    Utf16Be,
    Gb18030,
}

enum Mode {
    /// ASCII so far, passed through.
    Sniff,
    /// UTF-8, passed through.
    Utf8,
    /// Transcoded to UTF-8.
    Decode(Box<encoding_rs::Decoder>),
}

/// A `Read` of UTF-8 bytes over a file in any of the accepted encodings (see the module docs).
pub struct Decoded<R> {
    inner: R,
    mode: Mode,
    encoding: TextEncoding,
    /// Bytes read from `inner` but not yet handed on (passed through or decoded).
    raw: Vec<u8>,
    raw_at: usize,
    /// Decoded bytes not yet handed out.
    out: Vec<u8>,
    out_at: usize,
    eof: bool,
    finished: bool,
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl<R: Read> Decoded<R> {
    /// Reads the first bytes to look for a byte-order mark.
    pub fn new(mut inner: R) -> io::Result<Self> {
        let mut head = vec![0u8; 4];
        let n = read_full(&mut inner, &mut head)?;
        head.truncate(n);
        let (mode, encoding, skip) = if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
            (Mode::Utf8, TextEncoding::Utf8, 3)
        } else if head.starts_with(&[0xFF, 0xFE]) {
            let d = encoding_rs::UTF_16LE.new_decoder_without_bom_handling();
            (Mode::Decode(Box::new(d)), TextEncoding::Utf16Le, 2)
        } else if head.starts_with(&[0xFE, 0xFF]) {
            let d = encoding_rs::UTF_16BE.new_decoder_without_bom_handling();
            (Mode::Decode(Box::new(d)), TextEncoding::Utf16Be, 2)
        } else {
            (Mode::Sniff, TextEncoding::Ascii, 0)
        };
        Ok(Self {
            inner,
            mode,
            encoding,
            raw: head,
            raw_at: skip,
            out: Vec::new(),
            out_at: 0,
            eof: n < 4,
            finished: false,
        })
    }

    /// The encoding seen so far.
    pub fn encoding(&self) -> TextEncoding {
        self.encoding
    }

    fn take_raw(&mut self, buf: &mut [u8]) -> usize {
        let n = (self.raw.len() - self.raw_at).min(buf.len());
        buf[..n].copy_from_slice(&self.raw[self.raw_at..self.raw_at + n]);
        self.raw_at += n;
        n
    }

    /// In `Sniff` mode: the first non-ASCII byte is at `buf[i]` of the `n` bytes read; decides.
    fn decide(&mut self, buf: &[u8], i: usize, n: usize) -> io::Result<usize> {
        let mut look = buf[i..n].to_vec();
        // Whatever was pending in `raw` has been handed out already (it is read before `inner`).
        let rest = self.raw.len() - self.raw_at;
        look.extend_from_slice(&self.raw[self.raw_at..]);
        let before = look.len();
        if before < SNIFF_BYTES && !self.eof {
            look.resize(SNIFF_BYTES, 0);
            let k = read_full(&mut self.inner, &mut look[before..])?;
            look.truncate(before + k);
            if before + k < SNIFF_BYTES {
                self.eof = true;
            }
        }
        let utf8 = match std::str::from_utf8(&look) {
            Ok(_) => true,
            // Cut off in the middle of a character by the look-ahead's end: valid so far.
            Err(e) if e.error_len().is_none() && !self.eof => true,
            // A broken byte after plenty of valid UTF-8 text is a damaged UTF-8 file (its row
            // is reported), not GBK: GBK text does not form runs of valid UTF-8 characters.
            Err(e) => {
                let valid = &look[..e.valid_up_to()];
                let chars = valid
                    .iter()
                    .filter(|&&b| (0xC2..=0xF4).contains(&b))
                    .count();
                chars >= 8
            }
        };
        let _ = rest;
        if utf8 {
            self.mode = Mode::Utf8;
            self.encoding = TextEncoding::Utf8;
            // `buf[..n]` goes out as it is; what was read beyond it waits in `raw`.
            self.raw = look.split_off(n - i);
            self.raw_at = 0;
            Ok(n)
        } else {
            self.mode = Mode::Decode(Box::new(
                encoding_rs::GB18030.new_decoder_without_bom_handling(),
            ));
            self.encoding = TextEncoding::Gb18030;
            self.raw = look;
            self.raw_at = 0;
            Ok(i) // the ASCII before it; may be 0, then the caller decodes at once
        }
    }
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match &mut self.mode {
                Mode::Utf8 => {
                    if self.raw_at < self.raw.len() {
                        return Ok(self.take_raw(buf));
                    }
                    if self.eof {
                        return Ok(0);
                    }
                    return self.inner.read(buf);
                }
                Mode::Sniff => {
                    let n = if self.raw_at < self.raw.len() {
                        self.take_raw(buf)
                    } else if self.eof {
                        0
                    } else {
                        self.inner.read(buf)?
                    };
                    if n == 0 {
                        return Ok(0);
                    }
                    match buf[..n].iter().position(|b| !b.is_ascii()) {
                        None => return Ok(n),
                        Some(i) => {
                            let k = self.decide(buf, i, n)?;
                            if k > 0 {
                                return Ok(k);
                            }
                        }
                    }
                }
                Mode::Decode(dec) => {
                    if self.out_at < self.out.len() {
                        let n = (self.out.len() - self.out_at).min(buf.len());
                        buf[..n].copy_from_slice(&self.out[self.out_at..self.out_at + n]);
                        self.out_at += n;
                        return Ok(n);
                    }
                    if self.finished {
                        return Ok(0);
                    }
                    if self.raw_at >= self.raw.len() && !self.eof {
                        self.raw.resize(SNIFF_BYTES, 0);
                        let k = self.inner.read(&mut self.raw)?;
                        self.raw.truncate(k);
                        self.raw_at = 0;
                        if k == 0 {
                            self.eof = true;
                        }
                    }
                    let src = &self.raw[self.raw_at..];
                    let cap = dec
                        .max_utf8_buffer_length(src.len())
                        .unwrap_or(src.len() * 3 + 16);
                    self.out.clear();
                    self.out.resize(cap, 0);
                    let last = self.eof;
                    let (_, read, written, _) = dec.decode_to_utf8(src, &mut self.out, last);
                    self.raw_at += read;
                    self.out.truncate(written);
                    self.out_at = 0;
                    if last && self.raw_at >= self.raw.len() {
                        self.finished = true;
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Line numbers

/// Counts the line breaks of the bytes passing through it, so a record's start offset (which the
/// CSV parser knows) can be turned into the file's own line number.
struct LineCounter<R> {
    inner: R,
    /// Line breaks (where each begins, where the next line starts) not yet passed by a record.
    breaks: VecDeque<(u64, u64)>,
    /// Breaks before the ones in `breaks`.
    passed: u64,
    /// Bytes that went through.
    pos: u64,
    /// The last byte seen was a `\r` (a break; one together with the `\n` that may follow).
    after_cr: bool,
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        // Only the line-break bytes are visited (SIMD search): this runs over every byte of a
        // million-order import.
        for i in memchr::memchr2_iter(b'\n', b'\r', &buf[..n]) {
            let at = self.pos + i as u64;
            let follows_cr = if i == 0 {
                self.after_cr
            } else {
                buf[i - 1] == b'\r'
            };
            if buf[i] == b'\n' && follows_cr {
                // `\r\n` is one break: its `\r` is the last one recorded (if not passed yet).
                if let Some(last) = self.breaks.back_mut() {
                    last.1 = at + 1;
                }
            } else {
                self.breaks.push_back((at, at + 1));
            }
        }
        if n > 0 {
            self.after_cr = buf[n - 1] == b'\r';
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R> LineCounter<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            breaks: VecDeque::new(),
            passed: 0,
            pos: 0,
            after_cr: false,
        }
    }

    /// The 1-based line of a record the parser says starts at byte `offset` (offsets asked in
    /// increasing order). The parser may place a record's start on the line break (or blank
    /// lines) before its first cell, so breaks that follow `offset` back to back count as before.
    fn line_at(&mut self, offset: u64) -> u64 {
        let mut cur = offset;
        while let Some(&(begin, end)) = self.breaks.front() {
            if begin < offset || begin == cur {
                self.breaks.pop_front();
                self.passed += 1;
                cur = cur.max(end);
            } else {
                break;
            }
        }
        self.passed + 1
    }
}

// ---------------------------------------------------------------------------------------------
// Tables

/// One record: the file line it starts on and its cells (trimmed).
#[derive(Debug, Clone)]
pub struct Record {
    pub line: u64,
    pub cells: csv::StringRecord,
}

/// A record that could not be read.
#[derive(Debug, Clone)]
pub struct Unreadable {
    pub line: u64,
    pub message: String,
}

type Raw<R> = io::Chain<io::Cursor<Vec<u8>>, R>;
type TextReader<R> = csv::Reader<LineCounter<io::Chain<io::Cursor<Vec<u8>>, Decoded<Raw<R>>>>>;

enum Source<R> {
    Text(Box<TextReader<R>>),
    Sheet(std::vec::IntoIter<Record>),
}

/// A table read from an upload: its header row and then its records, one at a time.
pub struct Table<R> {
    headers: Vec<String>,
    header_line: u64,
    source: Source<R>,
    encoding: TextEncoding,
    last_line: u64,
    scratch: csv::StringRecord,
}

/// The largest workbook read (XLSX is compressed: ~100,000 order lines fit).
pub const MAX_SPREADSHEET_BYTES: usize = 10_000_000;

/// What an upload is, judged by its first bytes.
fn is_spreadsheet(head: &[u8]) -> bool {
    head.starts_with(b"PK\x03\x04") || head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0])
}

fn file_error(reason: &str) -> Error {
    Error::validation(format!("file: {reason}"))
}

impl<R: Read> Table<R> {
    /// Opens an upload: a spreadsheet (read whole, first sheet) or delimited text (streamed).
    /// Fails with `validation_failed` on field `file` when nothing can be read or there is no
    /// header row.
    pub fn open(mut input: R) -> Result<Self> {
        let mut head = vec![0u8; 4];
        let n = read_full(&mut input, &mut head).map_err(|_| file_error("could not be read"))?;
        head.truncate(n);
        if n == 0 {
            return Err(file_error("must not be empty"));
        }
        if is_spreadsheet(&head) {
            // A workbook is unpacked whole in memory (about ten times its size and more): keep
            // it bounded; larger exports go as CSV, which streams.
            let mut all = head;
            input
                .take(MAX_SPREADSHEET_BYTES as u64 + 1)
                .read_to_end(&mut all)
                .map_err(|_| file_error("could not be read"))?;
            if all.len() > MAX_SPREADSHEET_BYTES {
                return Err(file_error(&format!(
                    "a spreadsheet may be at most {} MB; save larger ones as CSV",
                    MAX_SPREADSHEET_BYTES / 1_000_000
                )));
            }
            return Self::sheet(all);
        }
        let decoded = Decoded::new(io::Cursor::new(head).chain(input))
            .map_err(|_| file_error("could not be read"))?;
        Self::text(decoded)
    }

    /// Delimited text: the header line decides the delimiter, then records stream.
    fn text(mut decoded: Decoded<Raw<R>>) -> Result<Self> {
        let mut first = Vec::with_capacity(4096);
        let mut buf = [0u8; 4096];
        while first.len() < SNIFF_BYTES && !first.iter().any(|&b| b == b'\n' || b == b'\r') {
            let n = decoded
                .read(&mut buf)
                .map_err(|_| file_error("could not be read"))?;
            if n == 0 {
                break;
            }
            first.extend_from_slice(&buf[..n]);
        }
        let end = first
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .unwrap_or(first.len());
        let tabs = first[..end].iter().filter(|&&b| b == b'\t').count();
        let commas = first[..end].iter().filter(|&&b| b == b',').count();
        let delimiter = if tabs > commas { b'\t' } else { b',' };
        let encoding = decoded.encoding();
        let counted = LineCounter::new(io::Cursor::new(first).chain(decoded));
        let rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .trim(csv::Trim::All)
            .from_reader(counted);
        let mut table = Table {
            headers: Vec::new(),
            header_line: 1,
            source: Source::Text(Box::new(rdr)),
            encoding,
            last_line: 0,
            scratch: csv::StringRecord::new(),
        };
        table.read_headers()?;
        Ok(table)
    }

    /// The first sheet of a workbook.
    fn sheet(bytes: Vec<u8>) -> Result<Self> {
        use calamine::Reader;
        let mut book = calamine::open_workbook_auto_from_rs(io::Cursor::new(bytes))
            .map_err(|_| file_error("could not be read as a spreadsheet (XLSX)"))?;
        let range = match book.worksheet_range_at(0) {
            Some(Ok(r)) => r,
            _ => return Err(file_error("could not be read as a spreadsheet (XLSX)")),
        };
        let (row0, col0) = range.start().unwrap_or((0, 0));
        let mut records = Vec::with_capacity(range.height());
        for (i, row) in range.rows().enumerate() {
            let mut cells = csv::StringRecord::new();
            for _ in 0..col0 {
                cells.push_field("");
            }
            for c in row {
                cells.push_field(cell_text(c).trim());
            }
            if cells.iter().all(str::is_empty) {
                continue;
            }
            records.push(Record {
                line: u64::from(row0) + i as u64 + 1,
                cells,
            });
        }
        let mut table = Table {
            headers: Vec::new(),
            header_line: 1,
            source: Source::Sheet(records.into_iter()),
            encoding: TextEncoding::Utf8,
            last_line: 0,
            scratch: csv::StringRecord::new(),
        };
        table.read_headers()?;
        Ok(table)
    }

    fn read_headers(&mut self) -> Result<()> {
        match self.next_record() {
            None => Err(file_error("must not be empty")),
            Some(Err(_)) => Err(Error::validation(
                "header: could not be read (is it a CSV or XLSX file?)",
            )),
            Some(Ok(r)) => {
                self.header_line = r.line;
                self.headers = r
                    .cells
                    .iter()
                    .map(|h| h.trim_start_matches('\u{feff}').trim().to_owned())
                    .collect();
                Ok(())
            }
        }
    }
}

impl<R: Read> Table<R> {
    /// The header row's cells (trimmed, BOM removed).
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// The line of the header row.
    pub fn header_line(&self) -> u64 {
        self.header_line
    }

    /// The encoding of a text upload (`Ascii` until a non-ASCII byte was read).
    pub fn encoding(&self) -> TextEncoding {
        match &self.source {
            Source::Text(r) => r.get_ref().inner.get_ref().1.encoding(),
            Source::Sheet(_) => self.encoding,
        }
    }

    /// The next record; `None` at the end. Blank rows are skipped.
    pub fn next_record(&mut self) -> Option<std::result::Result<Record, Unreadable>> {
        match &mut self.source {
            Source::Sheet(rows) => rows.next().map(Ok),
            Source::Text(rdr) => loop {
                // One record read into again and again, handed out as an exact-size copy (what
                // `csv::Reader::records` does): a fresh record per row would regrow its buffers.
                let rec = &mut self.scratch;
                match rdr.read_record(rec) {
                    Ok(false) => return None,
                    Ok(true) => {
                        let at = rec.position().map_or(0, |p| p.byte());
                        let line = rdr.get_mut().line_at(at);
                        self.last_line = line;
                        if rec.iter().all(str::is_empty) {
                            continue;
                        }
                        return Some(Ok(Record {
                            line,
                            cells: rec.clone(),
                        }));
                    }
                    Err(e) => {
                        let line = match e.position() {
                            Some(p) => rdr.get_mut().line_at(p.byte()),
                            None => self.last_line + 1,
                        };
                        self.last_line = line;
                        let message = match e.kind() {
                            csv::ErrorKind::Utf8 { .. } => {
                                "the row is not valid text in the file's encoding".to_owned()
                            }
                            csv::ErrorKind::Io(_) => {
                                return Some(Err(Unreadable {
                                    line,
                                    message: "the file could not be read to its end".into(),
                                }));
                            }
                            _ => format!("unreadable row: {e}"),
                        };
                        return Some(Err(Unreadable { line, message }));
                    }
                }
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Spreadsheet cells

/// Days from Excel's day 0 (1899-12-30, past the 1900 leap-year bug) to 1970-01-01.
const EXCEL_EPOCH_DAYS: f64 = 25_569.0;

/// An Excel date serial (days since 1899-12-30, the fraction the time of day) as local
/// `YYYY-MM-DD[ HH:MM:SS]` text; `None` outside years 1900–9999.
pub fn excel_serial_text(serial: f64) -> Option<String> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let secs = ((serial - EXCEL_EPOCH_DAYS) * 86_400.0).round() as i64;
    let t = ::time::OffsetDateTime::from_unix_timestamp(secs).ok()?;
    let (y, m, d) = (t.year(), u8::from(t.month()), t.day());
    if serial.fract() == 0.0 {
        Some(format!("{y:04}-{m:02}-{d:02}"))
    } else {
        Some(format!(
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
            t.hour(),
            t.minute(),
            t.second()
        ))
    }
}

/// A number as a person typed it: whole numbers without `.0`, amounts without float noise
/// (`59.970000000000006` → `59.97`).
fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        return format!("{}", f as i64);
    }
    let cents = (f * 100.0).round() / 100.0;
    if (f - cents).abs() < 1e-9 {
        format!("{cents}")
    } else {
        format!("{f}")
    }
}

fn cell_text(c: &calamine::Data) -> String {
    use calamine::Data;
    match c {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => number_text(*f),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
        Data::DateTime(d) if d.is_datetime() => {
            excel_serial_text(d.as_f64()).unwrap_or_else(|| number_text(d.as_f64()))
        }
        Data::DateTime(d) => number_text(d.as_f64()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Values

/// The largest amount accepted, in cents (see `commerce::money::MAX_CENTS`).
const MAX_AMOUNT_CENTS: i64 = 10_000_000_000_000;

/// An amount in yuan as shops write it — `1329`, `1329.5`, `1,329.00`, `¥1,329.00`, `￥1329`,
/// `1329元` — in cents, exactly. Refuses signs, more than two decimals, and separators that could
/// mean two things (`1,32`, `1.329,00`, `13,29`: [`Reason::AmbiguousAmount`]).
pub fn parse_amount(s: &str) -> std::result::Result<i64, Reason> {
    let mut t = s.trim();
    for p in ["¥", "￥", "RMB", "CNY"] {
        if let Some(rest) = t.strip_prefix(p) {
            t = rest.trim_start();
            break;
        }
    }
    if let Some(rest) = t.strip_suffix('元') {
        t = rest.trim_end();
    }
    let (whole, frac) = match t.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (t, None),
    };
    let whole_digits: String;
    let whole = if whole.contains(',') {
        // Thousands separators: groups of three after a first group of one to three digits.
        let mut groups = whole.split(',');
        let first = groups.next().unwrap_or("");
        let ok_first = (1..=3).contains(&first.len()) && first.bytes().all(|b| b.is_ascii_digit());
        let rest: Vec<&str> = groups.collect();
        let ok_rest = rest
            .iter()
            .all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()));
        if !ok_first || !ok_rest {
            return Err(if whole.bytes().all(|b| b.is_ascii_digit() || b == b',') {
                Reason::AmbiguousAmount
            } else {
                Reason::BadAmount
            });
        }
        whole_digits = std::iter::once(first).chain(rest).collect();
        whole_digits.as_str()
    } else {
        whole
    };
    if let Some(f) = frac {
        if f.contains(',') {
            return Err(Reason::AmbiguousAmount); // `1.329,00`
        }
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Reason::BadAmount);
        }
        if f.len() > 2 {
            return Err(Reason::BadAmount);
        }
    }
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Reason::BadAmount);
    }
    if whole.len() > 12 {
        return Err(Reason::TooLarge);
    }
    let w: i64 = whole.parse().map_err(|_| Reason::BadAmount)?;
    let f: i64 = match frac {
        None => 0,
        Some(f) if f.len() == 1 => f.parse::<i64>().map_err(|_| Reason::BadAmount)? * 10,
        Some(f) => f.parse().map_err(|_| Reason::BadAmount)?,
    };
    let cents = w * 100 + f;
    if cents > MAX_AMOUNT_CENTS {
        return Err(Reason::TooLarge);
    }
    Ok(cents)
}

/// A whole number as shops write it (`2`, `1,000`, `2.0` from a spreadsheet).
pub fn parse_whole(s: &str) -> std::result::Result<i64, Reason> {
    let t = s.trim();
    let t = t.strip_suffix(".0").unwrap_or(t);
    let plain: String = if t.contains(',') {
        match parse_amount(t) {
            Ok(c) if c % 100 == 0 && !t.contains('.') => return Ok(c / 100),
            _ => return Err(Reason::NotWholeNumber),
        }
    } else {
        t.to_owned()
    };
    plain.parse::<i64>().map_err(|_| Reason::NotWholeNumber)
}

/// Days since 1970-01-01 of a civil date, `None` when it is no date.
fn civil_days(y: i64, m: i64, d: i64) -> Option<i64> {
    let month = ::time::Month::try_from(u8::try_from(m).ok()?).ok()?;
    let date =
        ::time::Date::from_calendar_date(i32::try_from(y).ok()?, month, u8::try_from(d).ok()?)
            .ok()?;
    Some(i64::from(date.to_julian_day()) - 2_440_588)
}

/// Splits `s` at the first of `seps`, parsing the part before as a number.
fn take_num<'a>(s: &'a str, seps: &[char]) -> Option<(i64, &'a str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if end == 0 || end > 4 {
        return None;
    }
    let n = s[..end].parse().ok()?;
    let rest = &s[end..];
    match rest.chars().next() {
        None => Some((n, rest)),
        Some(c) if seps.contains(&c) => Some((n, &rest[c.len_utf8()..])),
        Some(_) if seps.is_empty() => Some((n, rest)),
        Some(_) => None,
    }
}

/// A local wall-clock time as milliseconds if it were UTC; `None` when it is no time.
fn local_naive_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    // Date: YYYY-M-D, YYYY/M/D, YYYY.M.D or YYYY年M月D日.
    let (y, rest) = take_num(s, &['-', '/', '.', '年'])?;
    let (m, rest) = take_num(rest, &['-', '/', '.', '月'])?;
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    if end == 0 || end > 2 || !(1000..=9999).contains(&y) {
        return None;
    }
    let d: i64 = rest[..end].parse().ok()?;
    let rest = rest[end..].strip_prefix('日').unwrap_or(&rest[end..]);
    let days = civil_days(y, m, d)?;
    let rest = rest.trim_start_matches([' ', 'T', '\u{3000}']);
    if rest.is_empty() {
        return Some(days * 86_400_000);
    }
    // Time: H:MM, H:MM:SS, H:MM:SS.fff, or 16时05分(30秒).
    let (h, rest) = take_num(rest, &[':', '时', '點', '点'])?;
    let (mi, rest) = take_num(rest, &[':', '分'])?;
    let (sec, frac_ms, rest) = if rest.is_empty() {
        (0, 0, rest)
    } else {
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if end == 0 || end > 2 {
            return None;
        }
        let sec: i64 = rest[..end].parse().ok()?;
        let rest = rest[end..].strip_prefix('秒').unwrap_or(&rest[end..]);
        match rest.strip_prefix('.') {
            Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
                let ms: i64 = format!("{f:0<3}")[..3].parse().ok()?;
                (sec, ms, "")
            }
            _ => (sec, 0, rest),
        }
    };
    if !rest.trim().is_empty() || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    Some(days * 86_400_000 + ((h * 60 + mi) * 60 + sec) * 1000 + frac_ms)
}

/// A time as shops write it, read in the shop's zone `zone` when it carries no offset:
/// `2026/12/6 16:00`, `2026-12-06 16:00:00`, `2026/12/6`, `2026年12月6日 16:00`, an Excel date
/// serial (`46362.6667`), RFC 3339 with an offset, or epoch milliseconds (11+ digits).
pub fn parse_local_time(s: &str, zone: &str) -> std::result::Result<Millis, Reason> {
    use ::time::OffsetDateTime;
    use ::time::format_description::well_known::Rfc3339;
    let t = s.trim();
    if t.is_empty() {
        return Err(Reason::Required);
    }
    if let Ok(at) = OffsetDateTime::parse(t, &Rfc3339) {
        return Ok(Millis((at.unix_timestamp_nanos() / 1_000_000) as i64));
    }
    let naive = if t.bytes().all(|b| b.is_ascii_digit()) && t.len() >= 11 {
        return t.parse::<i64>().map(Millis).map_err(|_| Reason::BadTime);
    } else if let Ok(serial) = t.parse::<f64>() {
        // An Excel serial, within 1954–2119 (a bare year or a small number is no time).
        if !(20_000.0..80_000.0).contains(&serial) || t.starts_with(['+', '-']) {
            return Err(Reason::BadTime);
        }
        ((serial - EXCEL_EPOCH_DAYS) * 86_400_000.0).round() as i64
    } else {
        local_naive_ms(t).ok_or(Reason::BadTime)?
    };
    let offset_at = |ms: i64| {
        crate::tools::utc_offset_minutes(zone, Millis(ms)).unwrap_or(8 * 60) as i64 * 60_000
    };
    // The zone's offset at that wall-clock time (for zones with daylight saving, as judged from
    // the standard-time guess).
    let guess = naive - offset_at(naive);
    Ok(Millis(naive - offset_at(guess)))
}

// ---------------------------------------------------------------------------------------------
// Headers

/// One column an import reads: its canonical (English) name and the other names it goes by in
/// files (Chinese headers, Taobao/JD export names).
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub required: bool,
}

/// A header as compared: lower-case ASCII, no spaces, no `*` marks or unit notes (`金额(元)`).
fn normalize_header(h: &str) -> String {
    let h = h.trim_start_matches('\u{feff}').trim();
    let h = match h.find(['(', '（']) {
        Some(i) if i > 0 => &h[..i],
        _ => h,
    };
    h.chars()
        .filter(|c| !c.is_whitespace() && *c != '*' && *c != '＊')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Maps a header row onto `columns`: each column's index in the row. Unknown headers are
/// ignored; a missing required column fails with one `validation_failed` naming every missing
/// one (`header: missing required columns: order_no, quantity`).
pub fn resolve_headers(
    headers: &[String],
    columns: &[Column],
) -> Result<HashMap<&'static str, usize>> {
    let mut by_name: HashMap<String, &'static str> = HashMap::new();
    for c in columns {
        by_name.insert(normalize_header(c.name), c.name);
        for a in c.aliases {
            by_name.insert(normalize_header(a), c.name);
        }
    }
    let mut found = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        if let Some(&name) = by_name.get(&normalize_header(h)) {
            found.entry(name).or_insert(i);
        }
    }
    let missing: Vec<&str> = columns
        .iter()
        .filter(|c| c.required && !found.contains_key(c.name))
        .map(|c| c.name)
        .collect();
    if !missing.is_empty() {
        return Err(Error::validation(format!(
            "header: missing required columns: {}",
            missing.join(", ")
        )));
    }
    Ok(found)
}

// ---------------------------------------------------------------------------------------------
// Templates

/// A CSV template: UTF-8 with BOM (Excel opens it with the right encoding), CRLF, the Chinese
/// headers and example rows.
pub fn template_csv(headers: &[&str], examples: &[&[&str]]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(vec![0xEF, 0xBB, 0xBF]);
    let _ = w.write_record(headers);
    for row in examples {
        let _ = w.write_record(*row);
    }
    w.into_inner().unwrap_or_default()
}

/// An XLSX template: a bold header row, example rows, every cell text (so order numbers and
/// phone numbers keep their digits).
pub fn template_xlsx(sheet: &str, headers: &[&str], examples: &[&[&str]]) -> Result<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    let fail = |e: rust_xlsxwriter::XlsxError| Error::internal(e);
    ws.set_name(sheet).map_err(fail)?;
    let bold = Format::new().set_bold();
    let text = Format::new().set_num_format("@");
    for (c, h) in headers.iter().enumerate() {
        let c = c as u16;
        ws.write_string_with_format(0, c, *h, &bold).map_err(fail)?;
        ws.set_column_width(c, (h.chars().count() as f64 * 2.2).max(12.0))
            .map_err(fail)?;
        ws.set_column_format(c, &text).map_err(fail)?;
    }
    for (r, row) in examples.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            ws.write_string_with_format(r as u32 + 1, c as u16, *v, &text)
                .map_err(fail)?;
        }
    }
    book.save_to_buffer().map_err(fail)
}

/// `?format=csv|xlsx` of a template download.
pub fn template_format(format: Option<&str>) -> Result<&'static str> {
    match format.unwrap_or("csv") {
        "csv" => Ok("csv"),
        "xlsx" => Ok("xlsx"),
        _ => Err(Error::validation("format: must be one of csv, xlsx")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Headers, records (line and cells) and the encoding seen.
    type Parsed = (Vec<String>, Vec<(u64, Vec<String>)>, TextEncoding);

    fn rows(bytes: Vec<u8>) -> Parsed {
        let mut t = Table::open(io::Cursor::new(bytes)).unwrap();
        let mut out = Vec::new();
        while let Some(r) = t.next_record() {
            let r = r.unwrap();
            out.push((r.line, r.cells.iter().map(str::to_owned).collect()));
        }
        (t.headers().to_vec(), out, t.encoding())
    }

    const TEXT: &str = "订单号,商品\r\nA1,\"耳机\r\n白色\"\r\nA2,数据线\r\n";

    fn check(bytes: Vec<u8>, encoding: TextEncoding) {
        let (h, r, e) = rows(bytes);
        assert_eq!(h, ["订单号", "商品"]);
        assert_eq!(r[0], (2, vec!["A1".into(), "耳机\r\n白色".into()]));
        assert_eq!(r[1], (4, vec!["A2".into(), "数据线".into()]));
        assert_eq!(e, encoding);
    }

    #[test]
    fn reads_utf8_with_and_without_bom() {
        check(TEXT.as_bytes().to_vec(), TextEncoding::Utf8);
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(TEXT.as_bytes());
        check(bom, TextEncoding::Utf8);
    }

    #[test]
    fn reads_gbk_and_gb18030() {
        let (gbk, _, _) = encoding_rs::GBK.encode(TEXT);
        check(gbk.into_owned(), TextEncoding::Gb18030);
        // Non-ASCII far into the file: passed through as ASCII until then.
        let mut long = String::from("order_no,item_name\n");
        for i in 0..5000 {
            long.push_str(&format!("N{i},cable\n"));
        }
        long.push_str("Z1,数据线\n");
        let (gbk, _, _) = encoding_rs::GB18030.encode(&long);
        let (_, r, e) = rows(gbk.into_owned());
        assert_eq!(e, TextEncoding::Gb18030);
        assert_eq!(
            r.last().unwrap(),
            &(5002, vec!["Z1".into(), "数据线".into()])
        );
    }

    #[test]
    fn reads_utf16_unicode_text_with_tabs() {
        let tabbed = TEXT.replace(',', "\t");
        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        for u in tabbed.encode_utf16() {
            le.extend_from_slice(&u.to_le_bytes());
            be.extend_from_slice(&u.to_be_bytes());
        }
        check(le, TextEncoding::Utf16Le);
        check(be, TextEncoding::Utf16Be);
    }

    #[test]
    fn counts_lines_for_lf_cr_and_blank_lines() {
        let lf = TEXT.replace("\r\n", "\n");
        let (_, r, _) = rows(lf.into_bytes());
        assert_eq!((r[0].0, r[1].0), (2, 4));
        let cr = TEXT.replace("\r\n", "\r");
        let (_, r, _) = rows(cr.into_bytes());
        assert_eq!((r[0].0, r[1].0), (2, 4));
        let blanks = "a,b\r\n\r\n1,2\r\n\r\n\r\n3,\"x\r\ny\r\nz\"\r\n4,5";
        let (_, r, _) = rows(blanks.as_bytes().to_vec());
        let lines: Vec<u64> = r.iter().map(|r| r.0).collect();
        assert_eq!(lines, [3, 6, 9]);
        // Many records across the parser's buffer boundaries keep their lines.
        let mut big = String::from("a,b\r\n");
        for i in 0..20_000 {
            big.push_str(&format!("{i},\"x\r\ny\"\r\n"));
        }
        let (_, r, _) = rows(big.into_bytes());
        assert!(r.iter().enumerate().all(|(i, r)| r.0 == 2 + 2 * i as u64));
    }

    #[test]
    fn reports_unreadable_rows_with_their_line() {
        // Invalid UTF-8 after valid UTF-8 text: that row is refused, the others are read.
        let mut bytes = "a,b\n1,蓝牙耳机和数据线套装\n".as_bytes().to_vec();
        bytes.extend_from_slice(b"2,\xff\xfe\n3,ok\n");
        let mut t = Table::open(io::Cursor::new(bytes)).unwrap();
        assert!(t.next_record().unwrap().is_ok());
        let e = t.next_record().unwrap().unwrap_err();
        assert_eq!(e.line, 3);
        assert_eq!(t.next_record().unwrap().unwrap().line, 4);
    }

    #[test]
    fn empty_and_headerless_files_fail_on_the_file() {
        let e = Table::open(io::Cursor::new(Vec::new())).err().unwrap();
        assert_eq!(e.field.as_deref(), Some("file"));
        let e = Table::open(io::Cursor::new(b"\r\n\r\n".to_vec()))
            .err()
            .unwrap();
        assert_eq!(e.field.as_deref(), Some("file"));
        let e = Table::open(io::Cursor::new(b"PK\x03\x04broken".to_vec()))
            .err()
            .unwrap();
        assert_eq!(e.field.as_deref(), Some("file"));
    }

    #[test]
    fn reads_the_first_sheet_of_an_xlsx() {
        let bytes = template_xlsx("订单", &["订单号", "金额"], &[&["A1", "1,329.00"]]).unwrap();
        let (h, r, _) = rows(bytes);
        assert_eq!(h, ["订单号", "金额"]);
        assert_eq!(r, [(2, vec!["A1".to_owned(), "1,329.00".to_owned()])]);
    }

    /// The cost of this layer on the UTF-8 hot path: the same 1.6-million-line order file read by a
    /// bare `csv::Reader` (what imports used before) and by [`Table`]. Release only:
    /// `cargo test --release -p kefu-core --lib -- --ignored --nocapture tabular_speed`.
    #[test]
    #[ignore]
    fn tabular_speed() {
        let mut file = String::from(
            "order_no,placed_at,buyer_external_id,buyer_name,buyer_phone,sku,item_name,quantity,unit_price,paid_at,carrier,tracking_no\n",
        );
        for i in 0..1_000_000u64 {
            file.push_str(&format!(
                "SO{i:09},2026-11-{:02} 10:{:02}:00,u{},买家{},138{:08},SKU-{},商品 {} 号,{},{}.90,2026-11-{:02} 10:05:00,顺丰,SF{i:012}\n",
                i % 28 + 1, i % 60, i % 200_000, i % 200_000, i % 100_000_000, i % 500, i % 500, i % 3 + 1, i % 900 + 10, i % 28 + 1
            ));
            if i % 5 < 3 {
                file.push_str(&format!(
                    "SO{i:09},,,,,SKU-{},配件,1,9.90,,,\n",
                    (i + 7) % 500
                ));
            }
        }
        let bytes = file.into_bytes();
        let best = |f: &dyn Fn() -> u64| {
            (0..3)
                .map(|_| {
                    let t = std::time::Instant::now();
                    let n = f();
                    (t.elapsed(), n)
                })
                .min()
                .unwrap()
        };
        let (bare, n1) = best(&|| {
            let mut r = csv::ReaderBuilder::new()
                .flexible(true)
                .trim(csv::Trim::All)
                .from_reader(io::Cursor::new(&bytes));
            let mut n = 0;
            for rec in r.records() {
                n += rec.unwrap().position().map_or(0, |p| p.line() & 1);
            }
            n
        });
        let (table, n2) = best(&|| {
            let mut t = Table::open(io::Cursor::new(&bytes)).unwrap();
            let mut n = 0;
            while let Some(rec) = t.next_record() {
                n += rec.unwrap().line & 1;
            }
            n
        });
        assert_eq!(n1, n2);
        let (dec, _) = best(&|| {
            let d = Decoded::new(io::Cursor::new(&bytes)).unwrap();
            let mut lc = LineCounter::new(d);
            let mut buf = vec![0u8; 8192];
            let mut n = 0u64;
            loop {
                let k = lc.read(&mut buf).unwrap();
                if k == 0 {
                    break;
                }
                n += k as u64;
                while lc.breaks.len() > 1000 {
                    lc.breaks.pop_front();
                }
            }
            n
        });
        println!("decoding and counting lines alone: {dec:?}");
        println!(
            "{} MB, {} lines: csv::Reader {:?}, Table {:?} ({:+.1} %)",
            bytes.len() / 1_000_000,
            1_600_000,
            bare,
            table,
            (table.as_secs_f64() / bare.as_secs_f64() - 1.0) * 100.0
        );
    }

    #[test]
    fn amounts() {
        for (s, c) in [
            ("1329", 132_900),
            ("1329.5", 132_950),
            ("1,329.00", 132_900),
            ("¥1,329.00", 132_900),
            ("￥1329", 132_900),
            ("1329元", 132_900),
            ("1,234,567.8", 123_456_780),
            (" 0.07 ", 7),
        ] {
            assert_eq!(parse_amount(s), Ok(c), "{s}");
        }
        for s in ["1,32", "1.329,00", "13,29", "1,3290", ",329"] {
            assert_eq!(parse_amount(s), Err(Reason::AmbiguousAmount), "{s}");
        }
        for s in ["", "-1", "1.234", "abc", "1e3", "5.", ".5", "¥"] {
            assert_eq!(parse_amount(s), Err(Reason::BadAmount), "{s}");
        }
        assert_eq!(parse_amount("9999999999999"), Err(Reason::TooLarge));
        assert_eq!(parse_whole("2"), Ok(2));
        assert_eq!(parse_whole("1,000"), Ok(1000));
        assert_eq!(parse_whole("2.5"), Err(Reason::NotWholeNumber));
    }

    #[test]
    fn local_times_in_the_shops_zone() {
        // 2026-12-06 16:00 in Shanghai = 08:00 UTC.
        let utc8 = 1_796_515_200_000 + 8 * 3_600_000;
        for s in [
            "2026/12/6 16:00",
            "2026-12-06 16:00:00",
            "2026-12-06T16:00",
            "2026年12月6日 16:00",
            "2026年12月6日16时00分",
            "2026.12.6 16:00:00.000",
            "46362.666666667",
            "2026-12-06T08:00:00Z",
        ] {
            assert_eq!(
                parse_local_time(s, "Asia/Shanghai"),
                Ok(Millis(utc8)),
                "{s}"
            );
        }
        assert_eq!(
            parse_local_time("2026/12/6", "Asia/Shanghai"),
            Ok(Millis(1_796_515_200_000 - 8 * 3_600_000))
        );
        // The same wall-clock time in Berlin (UTC+1 in December) is 15:00 UTC.
        assert_eq!(
            parse_local_time("2026/12/6 16:00", "Europe/Berlin"),
            Ok(Millis(1_796_515_200_000 + 15 * 3_600_000))
        );
        for s in [
            "someday",
            "2026/13/1",
            "2026/2/30",
            "12/6/2026",
            "2026/12/6 25:00",
            "2026",
        ] {
            assert_eq!(
                parse_local_time(s, "Asia/Shanghai"),
                Err(Reason::BadTime),
                "{s}"
            );
        }
        assert_eq!(excel_serial_text(46362.0).as_deref(), Some("2026-12-06"));
    }

    #[test]
    fn headers_resolve_by_chinese_names() {
        const COLS: &[Column] = &[
            Column {
                name: "order_no",
                aliases: &["订单号", "订单编号"],
                required: true,
            },
            Column {
                name: "line_total",
                aliases: &["金额", "实付金额"],
                required: false,
            },
            Column {
                name: "quantity",
                aliases: &["数量"],
                required: true,
            },
        ];
        let h = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let m = resolve_headers(
            &h(&["\u{feff}订单编号", "实付金额(元)", "备注", " 数量* "]),
            COLS,
        )
        .unwrap();
        assert_eq!((m["order_no"], m["line_total"], m["quantity"]), (0, 1, 3));
        let e = resolve_headers(&h(&["Order_No", "备注"]), COLS).unwrap_err();
        assert_eq!(e.message, "header: missing required columns: quantity");
        assert_eq!(e.field.as_deref(), Some("header"));
    }

    #[test]
    fn every_validation_sentence_has_a_code() {
        assert_eq!(Reason::of_message("must not be empty"), Reason::Required);
        assert_eq!(Reason::of_message("must be at least 1"), Reason::TooSmall);
        assert_eq!(
            Reason::of_message("must be at most 1000000"),
            Reason::TooLarge
        );
        assert_eq!(
            Reason::of_message("must be at most 64 characters without control characters"),
            Reason::TooLong
        );
        assert_eq!(Reason::of_message("must be 5-20 digits"), Reason::BadPhone);
        assert_eq!(
            Reason::of_message("must be one of created, paid"),
            Reason::BadValue
        );
        assert_eq!(
            Reason::of_message("required when payment_status is not unpaid"),
            Reason::RequiredWith
        );
        assert_eq!(Reason::of_message("something new"), Reason::Invalid);
    }
}
