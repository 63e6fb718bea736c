//! Reads a recording back, forgiving damage: whatever is whole is returned, and every line or
//! frame that was skipped, and where and why reading stopped, is said in words.

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};

use super::format::{ZSTD_MAGIC, decode_entry, offset_seconds};
use super::header::{Header, HeaderError};
use crate::app::{Stamped, Update};

/// A frame that decodes to more than this is refused: no chunk the writer makes comes near
/// it, and a damaged or hostile file must not take all memory.
const MAX_FRAME_TEXT: usize = 64 << 20;
/// A longer line is not one the writer made.
const MAX_LINE: usize = 64 << 20;
/// Past this many, problems are counted rather than listed.
const MAX_PROBLEMS: usize = 200;

/// Something skipped while reading; reading went on after it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadProblem {
    /// Line of the (decompressed) text, the header being line 1. Once a frame is lost, later
    /// numbers count only the lines that could be read.
    pub line: Option<usize>,
    /// Offset in the file of the damaged frame or bytes.
    pub byte: Option<u64>,
    pub message: String,
}

impl fmt::Display for ReadProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.byte) {
            (Some(line), _) => write!(f, "line {line}: {}", self.message),
            (None, Some(byte)) => write!(f, "byte {byte}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

/// Why a file could not be read as a recording at all.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReadError {
    #[error("empty file: not a meshtop recording")]
    Empty,
    #[error("not a meshtop recording: neither zstd-compressed nor JSON text")]
    NotText,
    #[error("not a meshtop recording: the file ends before its header line does")]
    NoHeader,
    #[error("not a meshtop recording: the frame holding the header is damaged ({0})")]
    DamagedHeader(String),
    #[error(transparent)]
    Header(#[from] HeaderError),
}

/// A recording read into memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    pub header: Header,
    /// The updates that were whole, in file order, `at` rebuilt from the header's start.
    pub entries: Vec<Stamped>,
    /// What was skipped, in file order.
    pub problems: Vec<ReadProblem>,
    /// Where and why reading ended before the end of the file, e.g. "truncated after 1234
    /// updates at 12.3 s (zstd stream ended mid-frame)".
    pub stopped: Option<String>,
}

/// A named point, for jumping to it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MarkerAt<'a> {
    /// Index in [`Recording::entries`].
    pub index: usize,
    pub seconds: f64,
    pub name: &'a str,
}

impl Recording {
    pub fn open(path: impl AsRef<Path>) -> Result<Recording> {
        let path = path.as_ref();
        // A device or a pipe would be read forever: a recording is a file.
        let meta = std::fs::metadata(path).wrap_err_with(|| format!("reading recording {}", path.display()))?;
        if !meta.is_file() {
            color_eyre::eyre::bail!("{} is not a file (a recording is a .mtrec file)", path.display());
        }
        let bytes = std::fs::read(path).wrap_err_with(|| format!("reading recording {}", path.display()))?;
        Recording::from_bytes(&bytes).wrap_err_with(|| format!("reading recording {}", path.display()))
    }

    /// Reads zstd-compressed or plain NDJSON.
    pub fn from_bytes(bytes: &[u8]) -> Result<Recording, ReadError> {
        let mut lines = Lines::default();
        read_all(bytes, &mut lines)?;
        lines.into_recording()
    }

    /// Seconds from the start of the recording to entry `index`.
    pub fn seconds(&self, index: usize) -> f64 {
        self.entries
            .get(index)
            .map_or(0.0, |e| offset_seconds(self.header.recorded_at, e.at))
    }

    /// From the start to the latest update.
    pub fn duration(&self) -> Duration {
        let last = self
            .entries
            .iter()
            .map(|e| e.at)
            .max()
            .unwrap_or(self.header.recorded_at);
        Duration::from_millis(u64::try_from(last.saturating_sub(self.header.recorded_at)).unwrap_or(0))
    }

    pub fn markers(&self) -> Vec<MarkerAt<'_>> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(index, e)| match &e.update {
                Update::Marker { name } => Some(MarkerAt {
                    index,
                    seconds: offset_seconds(self.header.recorded_at, e.at),
                    name,
                }),
                _ => None,
            })
            .collect()
    }
}

/// Feeds a whole file, zstd-compressed or plain NDJSON, to `lines` (the one reader of both
/// [`Recording`] and [`super::Chunked`]).
pub(super) fn read_all(bytes: &[u8], lines: &mut Lines) -> Result<(), ReadError> {
    if bytes.is_empty() {
        return Err(ReadError::Empty);
    }
    if bytes.starts_with(&ZSTD_MAGIC) {
        return read_frames(bytes, lines);
    }
    let text = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    if text.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ReadError::NotText);
    }
    feed_text(text, bytes.len() - text.len(), lines)?;
    lines.end_of_text()
}

/// Uncompressed text is fed in pieces of whole lines (about a MiB each), so that an index can
/// read a piece again on its own. `start` is where `text` begins in the file.
pub(super) fn feed_text(text: &[u8], start: usize, lines: &mut Lines) -> Result<(), ReadError> {
    const PIECE: usize = 1 << 20;
    let mut pos = 0;
    while pos < text.len() {
        let end = match text.get(pos + PIECE..).and_then(|t| t.iter().position(|b| *b == b'\n')) {
            Some(nl) => pos + PIECE + nl + 1,
            None => text.len(),
        };
        let began = lines.mid_line();
        lines.feed(&text[pos..end], None)?;
        lines.chunk_done(
            super::chunked::Span::Text {
                start: start + pos,
                len: end - pos,
            },
            began,
        );
        pos = end;
    }
    Ok(())
}

/// Whether a zstd frame (or a skippable frame, which zstd allows anywhere) starts here.
fn is_frame_start(b: &[u8]) -> bool {
    b.starts_with(&ZSTD_MAGIC) || (b.len() >= 4 && b[0] & 0xF0 == 0x50 && b[1..4] == [0x2A, 0x4D, 0x18])
}

fn next_frame_start(bytes: &[u8], from: usize) -> Option<usize> {
    (from..bytes.len()).find(|&i| is_frame_start(&bytes[i..]))
}

/// Walks the frames one by one, so that a damaged one costs only its own lines: the next is
/// found by its magic number.
pub(super) fn read_frames(bytes: &[u8], lines: &mut Lines) -> Result<(), ReadError> {
    let mut pos = 0;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        if rest.len() < ZSTD_MAGIC.len() && ZSTD_MAGIC.starts_with(rest) {
            // Cut inside the next frame's magic number.
            lines.stop("truncated", "zstd stream ended mid-frame");
            return lines.end_of_text();
        }
        if !is_frame_start(rest) {
            let next = next_frame_start(bytes, pos + 1);
            let end = next.unwrap_or(bytes.len());
            lines.lost_bytes(pos, format!("{} bytes that are not zstd data, skipped", end - pos));
            pos = end;
            continue;
        }
        let failure = match zstd::zstd_safe::find_frame_compressed_size(rest) {
            Ok(len) => match decode(&rest[..len]) {
                (text, None) => {
                    let began = lines.mid_line();
                    lines.feed(&text, Some(pos as u64))?;
                    let span = super::chunked::Span::Frame {
                        start: pos,
                        len,
                        tail: false,
                    };
                    lines.chunk_done(span, began);
                    pos += len;
                    continue;
                }
                (_, Some(e)) => Some(e.to_string()),
            },
            // zstd cannot tell where the frame ends: it is broken, or it is the file's cut end.
            Err(_) => None,
        };
        match (next_frame_start(bytes, pos + ZSTD_MAGIC.len()), failure) {
            (None, None) => return read_tail(rest, pos, lines),
            (next, failure) => {
                lines.lost_frame(pos, failure.as_deref().unwrap_or("its block structure is broken"))?;
                pos = next.unwrap_or(bytes.len());
            }
        }
    }
    lines.end_of_text()
}

/// The last frame, cut short: its whole lines are kept (zstd output before the cut is what was
/// written) and the reading stops there.
fn read_tail(rest: &[u8], pos: usize, lines: &mut Lines) -> Result<(), ReadError> {
    let began = lines.mid_line();
    let span = |tail| super::chunked::Span::Frame {
        start: pos,
        len: rest.len(),
        tail,
    };
    match decode(rest) {
        (text, Some(DecodeError::Truncated)) => {
            lines.feed(&text[..whole_lines(&text)], Some(pos as u64))?;
            lines.pending.clear();
            lines.chunk_done(span(true), began);
            if lines.header.is_none() {
                return Err(ReadError::NoHeader);
            }
            lines.stop("truncated", "zstd stream ended mid-frame");
        }
        (_, Some(e)) => {
            if lines.header.is_none() {
                return Err(ReadError::DamagedHeader(e.to_string()));
            }
            lines.stop(
                "stopped",
                &format!("the last frame, at byte {pos}, is cut short and damaged: {e}"),
            );
        }
        // A frame whose size zstd could not find but which decodes: treat it as whole.
        (text, None) => {
            lines.feed(&text, Some(pos as u64))?;
            lines.chunk_done(span(false), began);
            lines.end_of_text()?;
        }
    }
    Ok(())
}

/// The length of the whole lines at the start of `text`.
pub(super) fn whole_lines(text: &[u8]) -> usize {
    text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1)
}

#[derive(Debug)]
pub(super) enum DecodeError {
    Truncated,
    TooLarge,
    Damaged(String),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("the frame is cut short"),
            DecodeError::TooLarge => write!(f, "it decodes to more than {} MiB", MAX_FRAME_TEXT >> 20),
            DecodeError::Damaged(e) => write!(f, "zstd: {e}"),
        }
    }
}

/// Decodes one frame; on failure, also what came out before it.
pub(super) fn decode(frame: &[u8]) -> (Vec<u8>, Option<DecodeError>) {
    let mut text = Vec::new();
    let decoder = match zstd::stream::read::Decoder::with_buffer(frame) {
        Ok(d) => d.single_frame(),
        Err(e) => return (text, Some(DecodeError::Damaged(e.to_string()))),
    };
    let result = decoder.take(MAX_FRAME_TEXT as u64 + 1).read_to_end(&mut text);
    let error = match result {
        Ok(_) if text.len() > MAX_FRAME_TEXT => Some(DecodeError::TooLarge),
        Ok(_) => None,
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Some(DecodeError::Truncated),
        Err(e) => Some(DecodeError::Damaged(e.to_string())),
    };
    (text, error)
}

/// Turns text into the header and entries, line by line, across frames.
#[derive(Default)]
pub(super) struct Lines {
    pub(super) header: Option<Header>,
    /// Entries read and not yet handed to an index (see [`super::chunked`]).
    pub(super) entries: Vec<Stamped>,
    /// Entries handed on already.
    pub(super) drained: usize,
    /// When the last entry read was stamped.
    last_at: Option<crate::model::UnixMillis>,
    pub(super) problems: Vec<ReadProblem>,
    unlisted_problems: usize,
    pub(super) stopped: Option<String>,
    /// Lines seen so far.
    line: usize,
    /// A line that a frame ended in the middle of.
    pending: Vec<u8>,
    pending_too_long: bool,
    /// Told where each frame or piece of text ends, when the entries are indexed rather than
    /// kept (see [`super::chunked`]).
    pub(super) index: Option<super::chunked::Index>,
}

impl Lines {
    fn problem(&mut self, line: Option<usize>, byte: Option<u64>, message: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(ReadProblem { line, byte, message });
        } else {
            self.unlisted_problems += 1;
        }
    }

    /// Lines that began in an earlier frame are waiting for their end.
    pub(super) fn mid_line(&self) -> bool {
        !self.pending.is_empty() || self.pending_too_long
    }

    /// How many entries have been read.
    pub(super) fn count(&self) -> usize {
        self.drained + self.entries.len()
    }

    /// The text between `span`'s bounds was fed: lets the index take its entries.
    fn chunk_done(&mut self, span: super::chunked::Span, began_mid_line: bool) {
        if let Some(mut index) = self.index.take() {
            index.take_chunk(self, span, began_mid_line);
            self.index = Some(index);
        }
    }

    pub(super) fn feed(&mut self, mut text: &[u8], byte: Option<u64>) -> Result<(), ReadError> {
        while let Some(end) = text.iter().position(|b| *b == b'\n') {
            let problem = if self.pending.is_empty() && !self.pending_too_long {
                self.line(&text[..end])?
            } else {
                self.append_pending(&text[..end]);
                let line = std::mem::take(&mut self.pending);
                self.line(&line)?
            };
            if let Some(message) = problem {
                self.problem(Some(self.line), byte, message);
            }
            text = &text[end + 1..];
        }
        self.append_pending(text);
        Ok(())
    }

    fn append_pending(&mut self, text: &[u8]) {
        if self.pending_too_long || self.pending.len() + text.len() > MAX_LINE {
            self.pending_too_long = true;
            self.pending.clear();
        } else {
            self.pending.extend_from_slice(text);
        }
    }

    /// Reads one line; what was wrong with it, if it was skipped.
    fn line(&mut self, raw: &[u8]) -> Result<Option<String>, ReadError> {
        self.line += 1;
        if std::mem::take(&mut self.pending_too_long) {
            return Ok(Some(format!("longer than {} MiB, skipped", MAX_LINE >> 20)));
        }
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let Ok(text) = std::str::from_utf8(raw) else {
            if self.header.is_none() {
                return Err(HeaderError::NotARecording.into());
            }
            return Ok(Some("not UTF-8 text, skipped".to_string()));
        };
        if text.trim().is_empty() {
            return Ok(None);
        }
        let Some(header) = &self.header else {
            self.header = Some(Header::parse(text)?);
            return Ok(None);
        };
        match decode_entry(header.recorded_at, text) {
            Ok(entry) => {
                self.last_at = Some(entry.at);
                self.entries.push(entry);
                Ok(None)
            }
            Err(e) => Ok(Some(e.to_string())),
        }
    }

    /// A frame that could not be decoded: its lines are lost, and so is a line it finished.
    fn lost_frame(&mut self, pos: usize, why: &str) -> Result<(), ReadError> {
        if self.header.is_none() {
            return Err(ReadError::DamagedHeader(why.to_string()));
        }
        self.pending.clear();
        self.pending_too_long = false;
        let after = match self.last_at {
            Some(_) => format!(" after {:.1} s", self.seconds_read()),
            None => String::new(),
        };
        self.lost_bytes(
            pos,
            format!(
                "damaged zstd frame ({why}); its updates{after} are skipped, later line numbers count only lines read"
            ),
        );
        Ok(())
    }

    fn lost_bytes(&mut self, pos: usize, message: String) {
        self.problem(None, Some(pos as u64), message);
    }

    /// Seconds into the recording of the last update read.
    fn seconds_read(&self) -> f64 {
        match (&self.header, self.last_at) {
            (Some(h), Some(at)) => offset_seconds(h.recorded_at, at),
            _ => 0.0,
        }
    }

    fn stop(&mut self, what: &str, why: &str) {
        self.stopped = Some(format!(
            "{what} after {} updates at {:.1} s ({why})",
            self.count(),
            self.seconds_read()
        ));
    }

    /// The text ended: a last line without a newline is read if it is whole, and taken as
    /// where the file was cut if it is not.
    pub(super) fn end_of_text(&mut self) -> Result<(), ReadError> {
        if self.pending.is_empty() && !self.pending_too_long {
            return Ok(());
        }
        let last = std::mem::take(&mut self.pending);
        let problem = match self.line(&last) {
            // A header line cut short does not parse: say it was cut, not that it is something else.
            Err(ReadError::Header(HeaderError::NotARecording)) if self.header.is_none() && last.starts_with(b"{") => {
                return Err(ReadError::NoHeader);
            }
            other => other?,
        };
        if self.header.is_none() {
            return Err(ReadError::NoHeader);
        }
        if problem.is_some() {
            let line = self.line;
            self.stop("truncated", &format!("line {line} ends mid-line"));
        }
        Ok(())
    }

    /// The problems, the uncounted ones summed up in a last one.
    pub(super) fn finish_problems(&mut self) {
        if self.unlisted_problems > 0 {
            let message = format!(
                "{} more problems not listed",
                std::mem::take(&mut self.unlisted_problems)
            );
            self.problems.push(ReadProblem {
                line: None,
                byte: None,
                message,
            });
        }
    }

    fn into_recording(mut self) -> Result<Recording, ReadError> {
        let header = self.header.take().ok_or(ReadError::NoHeader)?;
        self.finish_problems();
        Ok(Recording {
            header,
            entries: self.entries,
            problems: self.problems,
            stopped: self.stopped,
        })
    }
}
