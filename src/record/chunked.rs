//! A recording replayed from the file, not from memory: reading it once builds an index (each
//! entry's time, the markers, and where each frame's entries lie in the file), and entries are
//! decoded again, a frame at a time, when replay or export reaches them. Memory is then the
//! index (8 bytes an entry, and the player's 8), one decoded frame and the replay's keyframes,
//! not the entries themselves; [`Recording`](super::Recording) holds every entry instead.
//!
//! The file is mapped, not read: its pages are the kernel's cache, dropped under pressure
//! and after the index is built. A recording still being written may grow meanwhile; only
//! what was there when it was opened is replayed.

use std::ops::Range;
use std::path::Path;

use color_eyre::eyre::{Result, WrapErr, bail, eyre};

use super::format::offset_seconds;
use super::header::Header;
use super::reader::{Lines, MarkerAt, ReadError, ReadProblem, decode, read_all, whole_lines};
use crate::app::{Stamped, Update};

/// Where a chunk's entries are found again.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Span {
    /// A zstd frame at `start`, `len` bytes; `tail`: the file's last frame, cut short (only
    /// its whole lines count).
    Frame { start: usize, len: usize, tail: bool },
    /// Uncompressed text, whole lines.
    Text { start: usize, len: usize },
    /// Entries that cannot be read again on their own (a line that began in the frame before,
    /// which only hand-made files have): kept in memory.
    Kept(Vec<Stamped>),
}

#[derive(Debug, Clone, PartialEq)]
struct Chunk {
    first: usize,
    count: usize,
    span: Span,
}

/// What reading the file once learns; built by the reader as it goes.
#[derive(Debug, Default)]
pub(super) struct Index {
    chunks: Vec<Chunk>,
    /// Each entry's stamp, in ms from the header's `recorded_at`.
    offsets: Vec<i64>,
    markers: Vec<(usize, String)>,
}

impl Index {
    /// Takes the entries `lines` read from `span`, keeping their times and markers.
    pub(super) fn take_chunk(&mut self, lines: &mut Lines, span: Span, began_mid_line: bool) {
        let start = lines.header.as_ref().map_or(0, |h| h.recorded_at);
        let entries = std::mem::take(&mut lines.entries);
        let first = lines.drained;
        lines.drained += entries.len();
        self.note(first, &entries, start);
        if entries.is_empty() {
            return;
        }
        let span = if began_mid_line {
            Span::Kept(entries.clone())
        } else {
            span
        };
        let count = entries.len();
        self.chunks.push(Chunk { first, count, span });
    }

    fn note(&mut self, first: usize, entries: &[Stamped], start: i64) {
        for (i, e) in entries.iter().enumerate() {
            self.offsets.push(e.at.saturating_sub(start));
            if let Update::Marker { name } = &e.update {
                self.markers.push((first + i, name.clone()));
            }
        }
    }
}

/// The bytes of the recording: a mapped file, the demo inside the binary, or bytes already
/// in memory.
enum Bytes {
    Mapped(memmap2::Mmap),
    Static(&'static [u8]),
    Owned(Vec<u8>),
}

impl Bytes {
    fn get(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Static(b) => b,
            Bytes::Owned(b) => b,
        }
    }
}

/// A recording indexed for replay; entries are decoded when asked for.
pub struct Chunked {
    pub header: Header,
    /// What was skipped while indexing, in file order.
    pub problems: Vec<ReadProblem>,
    /// Where and why reading ended before the end of the file.
    pub stopped: Option<String>,
    bytes: Bytes,
    chunks: Vec<Chunk>,
    offsets: Vec<i64>,
    markers: Vec<(usize, String)>,
    /// The chunk decoded last, by its index in `chunks`.
    cache: Option<(usize, Vec<Stamped>)>,
}

impl std::fmt::Debug for Chunked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chunked")
            .field("header", &self.header)
            .field("entries", &self.offsets.len())
            .field("chunks", &self.chunks.len())
            .finish_non_exhaustive()
    }
}

impl Chunked {
    pub fn open(path: impl AsRef<Path>) -> Result<Chunked> {
        let path = path.as_ref();
        let context = || format!("reading recording {}", path.display());
        // A device or a pipe would be read forever: a recording is a file.
        let meta = std::fs::metadata(path).wrap_err_with(context)?;
        if !meta.is_file() {
            bail!("{} is not a file (a recording is a .mtrec file)", path.display());
        }
        if meta.len() == 0 {
            return Err(ReadError::Empty).wrap_err_with(context);
        }
        let file = std::fs::File::open(path).wrap_err_with(context)?;
        // SAFETY: the map is only read. A recording is appended to, never rewritten in place;
        // if someone truncates it meanwhile, reads past the new end fault (SIGBUS) — the same
        // as any program reading a file that is cut under it, and not a memory-safety issue
        // for the bytes already read.
        let map = unsafe { memmap2::Mmap::map(&file) }.wrap_err_with(context)?;
        // Read once, front to back; then the pages may go. Advice is a hint: a kernel that
        // refuses it reads the same bytes, so its error is of no use to anyone.
        let _ = map.advise(memmap2::Advice::Sequential);
        let chunked = Chunked::index(Bytes::Mapped(map)).wrap_err_with(context)?;
        if let Bytes::Mapped(map) = &chunked.bytes {
            // SAFETY: DontNeed on a read-only file mapping only drops cached pages; later
            // reads fault them back in from the file.
            let _ = unsafe { map.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
            let _ = map.advise(memmap2::Advice::Random);
        }
        Ok(chunked)
    }

    pub fn from_static(bytes: &'static [u8]) -> Result<Chunked, ReadError> {
        Chunked::index(Bytes::Static(bytes))
    }

    /// Bytes already in memory (tests and fuzzing: these are not spared).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Chunked, ReadError> {
        Chunked::index(Bytes::Owned(bytes))
    }

    fn index(bytes: Bytes) -> Result<Chunked, ReadError> {
        let mut lines = Lines::default();
        lines.index = Some(Index::default());
        read_all(bytes.get(), &mut lines)?;
        let mut index = lines.index.take().unwrap_or_default();
        let header = lines.header.take().ok_or(ReadError::NoHeader)?;
        // A last line without a newline, read at the end of the text: kept.
        let rest = std::mem::take(&mut lines.entries);
        if !rest.is_empty() {
            let first = lines.drained;
            index.note(first, &rest, header.recorded_at);
            index.chunks.push(Chunk {
                first,
                count: rest.len(),
                span: Span::Kept(rest),
            });
        }
        lines.finish_problems();
        Ok(Chunked {
            header,
            problems: std::mem::take(&mut lines.problems),
            stopped: lines.stopped.take(),
            bytes,
            chunks: index.chunks,
            offsets: index.offsets,
            markers: index.markers,
            cache: None,
        })
    }

    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// Each entry's stamp in ms from the start, in file order (for [`super::Player`]).
    pub fn offsets(&self) -> &[i64] {
        &self.offsets
    }

    /// Seconds from the start of the recording to entry `index`.
    pub fn seconds(&self, index: usize) -> f64 {
        self.offsets.get(index).map_or(0.0, |&o| offset_seconds(0, o))
    }

    pub fn markers(&self) -> Vec<MarkerAt<'_>> {
        self.markers
            .iter()
            .map(|(index, name)| MarkerAt {
                index: *index,
                seconds: self.seconds(*index),
                name,
            })
            .collect()
    }

    /// Calls `f` with each entry of `range`, in order, decoding the frames that hold them.
    /// Fails when the file no longer reads as it was indexed (a frame moved, or holds another
    /// number of updates): a file rewritten in place with frames of the same places and
    /// counts would go unnoticed, as with any reader that does not hash what it read.
    pub fn for_each(&mut self, range: Range<usize>, mut f: impl FnMut(&Stamped)) -> Result<()> {
        let end = range.end.min(self.len());
        let mut i = range.start;
        while i < end {
            let c = self.chunks.partition_point(|c| c.first + c.count <= i);
            let chunk = self.chunks.get(c).ok_or_else(|| eyre!("entry {i} is in no chunk"))?;
            let (first, count) = (chunk.first, chunk.count);
            let stop = end.min(first + count);
            if let Span::Kept(entries) = &chunk.span {
                entries[i - first..stop - first].iter().for_each(&mut f);
            } else {
                if self.cache.as_ref().is_none_or(|(at, _)| *at != c) {
                    // Drop the old one first: only one decoded chunk at a time.
                    self.cache = None;
                    self.cache = Some((c, self.decode(c)?));
                }
                let (_, entries) = self.cache.as_ref().expect("just filled");
                entries[i - first..stop - first].iter().for_each(&mut f);
            }
            i = stop;
        }
        Ok(())
    }

    /// The entries of chunk `c`, read again from the file.
    fn decode(&self, c: usize) -> Result<Vec<Stamped>> {
        let chunk = &self.chunks[c];
        let bytes = self.bytes.get();
        let slice = |start: usize, len: usize| {
            bytes
                .get(start..start.saturating_add(len))
                .ok_or_else(|| eyre!("the recording is shorter than when it was opened (changed on disk?)"))
        };
        let mut lines = Lines::default();
        lines.header = Some(self.header.clone());
        match &chunk.span {
            Span::Frame { start, len, tail } => {
                let (text, error) = decode(slice(*start, *len)?);
                let text = match (error, tail) {
                    (None, _) => &text[..],
                    (Some(_), true) => &text[..whole_lines(&text)],
                    (Some(e), false) => bail!("the frame at byte {start} no longer decodes ({e}): changed on disk?"),
                };
                lines.feed(text, None)?;
            }
            Span::Text { start, len } => lines.feed(slice(*start, *len)?, None)?,
            Span::Kept(entries) => return Ok(entries.clone()),
        }
        if lines.entries.len() != chunk.count {
            bail!(
                "entries {}..{} read back as {} updates, not {}: the recording changed on disk",
                chunk.first,
                chunk.first + chunk.count,
                lines.entries.len(),
                chunk.count
            );
        }
        Ok(lines.entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Recording;
    use crate::record::format::ZSTD_MAGIC;

    fn recording_text(entries: usize) -> String {
        let mut text = String::from(
            r#"{"format":"meshtop-recording","version":"1.0","meshtop_version":"0.1.0","recorded_at":1700000000000,"source":"test","provenance":"synthetic"}"#,
        );
        text.push('\n');
        for i in 0..entries {
            if i % 1000 == 500 {
                text.push_str(&format!("[{}.0,{{\"type\":\"marker\",\"name\":\"m{i}\"}}]\n", i / 10));
            } else {
                text.push_str(&format!(
                    "[{}.{:03},{{\"type\":\"api_latency\",\"millis\":{i}}}]\n",
                    i / 10,
                    i % 10 * 100
                ));
            }
        }
        text
    }

    /// zstd frames of `per` lines each, as the writer makes them.
    fn frames(text: &str, per: usize) -> Vec<u8> {
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let mut out = Vec::new();
        for group in lines.chunks(per) {
            out.extend(zstd::encode_all(group.concat().as_bytes(), 1).unwrap());
        }
        out
    }

    fn leak(b: Vec<u8>) -> &'static [u8] {
        Box::leak(b.into_boxed_slice())
    }

    fn all(c: &mut Chunked) -> Vec<Stamped> {
        let mut out = Vec::new();
        c.for_each(0..c.len(), |e| out.push(e.clone())).unwrap();
        out
    }

    #[test]
    fn reads_the_same_entries_as_the_whole_reader() {
        let text = recording_text(5_000);
        for bytes in [frames(&text, 700), text.clone().into_bytes()] {
            let whole = Recording::from_bytes(&bytes).unwrap();
            let mut c = Chunked::from_static(leak(bytes)).unwrap();
            assert_eq!(c.len(), 5_000);
            assert_eq!(whole.entries.len(), 5_000);
            assert_eq!(all(&mut c), whole.entries);
            assert_eq!(c.markers(), whole.markers());
            assert_eq!(c.markers().len(), 5);
            assert_eq!(c.seconds(4_999), whole.seconds(4_999));
            assert_eq!(c.seconds(4_999), 499.9);
            // Out of order and backwards, across chunks.
            let mut got = Vec::new();
            c.for_each(4_990..5_100, |e| got.push(e.clone())).unwrap();
            assert_eq!(got, whole.entries[4_990..]);
            got.clear();
            c.for_each(3..10, |e| got.push(e.clone())).unwrap();
            assert_eq!(got, whole.entries[3..10]);
        }
    }

    #[test]
    fn frames_are_chunks_and_only_one_is_decoded_at_a_time() {
        let text = recording_text(2_000);
        let mut c = Chunked::from_static(leak(frames(&text, 500))).unwrap();
        // The header shares the first frame with 499 entries.
        let counts: Vec<usize> = c.chunks.iter().map(|c| c.count).collect();
        assert_eq!(counts, [499, 500, 500, 500, 1]);
        c.for_each(1_200..1_201, |_| {}).unwrap();
        assert_eq!(c.cache.as_ref().map(|(i, v)| (*i, v.len())), Some((2, 500)));
    }

    #[test]
    fn damage_is_reported_and_the_rest_replays() {
        let text = recording_text(3_000);
        let mut bytes = frames(&text, 1_000);
        // Break the second frame's block structure, and cut the file in the last frame.
        let second = bytes.windows(4).skip(4).position(|w| w == ZSTD_MAGIC).unwrap() + 4;
        bytes[second + 8] ^= 0xff;
        bytes[second + 9] ^= 0xff;
        let cut = bytes.len() - 40;
        bytes.truncate(cut);
        let whole = Recording::from_bytes(&bytes).unwrap();
        let mut c = Chunked::from_static(leak(bytes)).unwrap();
        assert_eq!(c.problems, whole.problems);
        assert_eq!(c.stopped, whole.stopped);
        assert!(c.stopped.is_some());
        assert!(!c.problems.is_empty());
        assert_eq!(c.len(), whole.entries.len());
        assert!(c.len() < 3_000 && c.len() > 1_000, "{}", c.len());
        assert_eq!(all(&mut c), whole.entries);
    }

    #[test]
    fn a_line_split_across_frames_is_kept_in_memory() {
        let text = recording_text(100);
        let cut = text.find("[5.000,").unwrap() + 3;
        let mut bytes = zstd::encode_all(&text.as_bytes()[..cut], 1).unwrap();
        bytes.extend(zstd::encode_all(&text.as_bytes()[cut..], 1).unwrap());
        let whole = Recording::from_bytes(&bytes).unwrap();
        let mut c = Chunked::from_static(leak(bytes)).unwrap();
        assert_eq!(whole.entries.len(), 100);
        assert!(matches!(c.chunks[1].span, Span::Kept(_)));
        assert_eq!(all(&mut c), whole.entries);
    }

    #[test]
    fn a_file_whose_frames_moved_is_an_error_not_a_wrong_replay() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.mtrec");
        let text = recording_text(3_000);
        std::fs::write(&path, frames(&text, 1_000)).unwrap();
        let mut c = Chunked::open(&path).unwrap();
        assert_eq!(c.len(), 3_000);
        let mut n = 0;
        c.for_each(0..3_000, |_| n += 1).unwrap();
        assert_eq!(n, 3_000);
        // Rewritten in place with other lines of the same frame sizes.
        let other = recording_text(3_000).replace("api_latency\",\"millis\":1", "api_latency\",\"millis\":9");
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        std::io::Write::write_all(&mut f, &frames(&other.replace("m1500", "x"), 999)).unwrap();
        drop(f);
        c.cache = None;
        let err = c.for_each(0..3_000, |_| {}).unwrap_err().to_string();
        assert!(err.contains("changed on disk"), "{err}");
    }
}
