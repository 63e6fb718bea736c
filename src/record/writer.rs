//! Writes a recording as the session runs: each update redacted, turned into a line, and
//! streamed through zstd into the file.
//!
//! Two limits bound what a crash or damage can cost. Every second the compressor is flushed to
//! the file: zstd output up to a flush decodes on its own, so a kill loses at most the last
//! second. Every minute (or few MiB) the frame is closed and a new, independent one begun: a
//! damaged byte costs at most its frame. Within a frame the compressor keeps its history, so a
//! busy session compresses 25-40% better than in independent one-second frames.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use color_eyre::eyre::{Result, WrapErr, eyre};

use super::format::encode_entry;
use super::header::Header;
use crate::app::{Stamped, Update};
use crate::model::UnixMillis;
use crate::redact::redact;

/// When the recorder hands data to the file and starts a new frame, and how hard it compresses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlushPolicy {
    /// Flush compressed data to the file this often: what a crash can lose.
    pub flush_every: Duration,
    /// Start a new frame after this much text...
    pub frame_bytes: usize,
    /// ...or this long: what a damaged byte can lose.
    pub frame_age: Duration,
    pub level: i32,
}

impl Default for FlushPolicy {
    /// Chosen with `examples/recording_size.rs` on a busy session (500 pods, ~110 updates and
    /// 7 MB of text a minute; release build): level 6 in one-minute frames writes 0.58 MB a
    /// minute for ~0.18 s of CPU. Level 3 wrote 0.72 MB, level 9 0.47 MB with far larger match
    /// tables, level 19 0.27 MB for 2.2 s of CPU a minute; one-second frames cost 25-40% more.
    fn default() -> Self {
        FlushPolicy {
            flush_every: Duration::from_secs(1),
            frame_bytes: 8 << 20,
            frame_age: Duration::from_secs(60),
            level: 6,
        }
    }
}

/// Sizes so far, for a status line or a report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordStats {
    /// Updates written, markers included.
    pub entries: u64,
    /// Updates in which redaction replaced something.
    pub redacted: u64,
    /// Text before compression, header included.
    pub text_bytes: u64,
    /// Compressed bytes handed to the writer.
    pub file_bytes: u64,
    /// Frames begun, the header's included.
    pub frames: u64,
}

/// A writer that counts what passes through it.
struct Counted<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

enum Sink<W: Write> {
    /// Between frames.
    Idle(Counted<W>),
    Frame(zstd::stream::write::Encoder<'static, Counted<W>>),
    /// An error lost the writer; the recording is over.
    Broken,
}

/// A recording being written. Dropping it without [`finish`](Recorder::finish) still closes the
/// frame (as far as the writer allows), so an early return or a panic keeps what was seen.
pub struct Recorder<W: Write = BufWriter<File>> {
    sink: Sink<W>,
    start: UnixMillis,
    policy: FlushPolicy,
    frame_text: usize,
    frame_opened: Instant,
    last_flush: Instant,
    unflushed: bool,
    stats: RecordStats,
}

impl Recorder {
    /// Creates (or truncates) `path` and writes the header.
    pub fn create(path: impl AsRef<Path>, header: &Header) -> Result<Recorder> {
        Recorder::create_with(path, header, FlushPolicy::default())
    }

    pub fn create_with(path: impl AsRef<Path>, header: &Header, policy: FlushPolicy) -> Result<Recorder> {
        let path = path.as_ref();
        let file = crate::files::create(path).wrap_err_with(|| format!("creating recording {}", path.display()))?;
        Recorder::new(BufWriter::new(file), header, policy)
            .wrap_err_with(|| format!("starting recording {}", path.display()))
    }
}

impl<W: Write> Recorder<W> {
    /// Starts a recording on any writer. The header goes out at once, in a frame of its own.
    pub fn new(out: W, header: &Header, policy: FlushPolicy) -> Result<Recorder<W>> {
        let now = Instant::now();
        let mut recorder = Recorder {
            sink: Sink::Idle(Counted { inner: out, bytes: 0 }),
            start: header.recorded_at,
            policy,
            frame_text: 0,
            frame_opened: now,
            last_flush: now,
            unflushed: false,
            stats: RecordStats::default(),
        };
        let line = serde_json::to_string(header).wrap_err("writing the recording header")?;
        recorder.write_line(&line).wrap_err("writing the recording header")?;
        recorder.end_frame().wrap_err("writing the recording header")?;
        Ok(recorder)
    }

    /// Appends one update, redacted.
    pub fn write(&mut self, stamped: &Stamped) -> Result<()> {
        let mut update = serde_json::to_value(&stamped.update).wrap_err("turning an update into JSON")?;
        if redact(&mut update) {
            self.stats.redacted += 1;
        }
        let line = encode_entry(self.start, stamped.at, &update);
        self.write_line(&line).wrap_err("writing to the recording")?;
        self.stats.entries += 1;
        self.flush_if_due()
    }

    /// Appends a named point (an [`Update::Marker`]).
    pub fn mark(&mut self, name: impl Into<String>, at: UnixMillis) -> Result<()> {
        self.write(&Stamped {
            at,
            update: Update::Marker { name: name.into() },
        })
    }

    /// Flushes or starts a new frame when the policy says so; call it on a timer too, so a quiet
    /// session is still on disk within a second.
    pub fn flush_if_due(&mut self) -> Result<()> {
        let now = Instant::now();
        let frame_done = self.frame_text >= self.policy.frame_bytes
            || now.duration_since(self.frame_opened) >= self.policy.frame_age;
        if matches!(self.sink, Sink::Frame(_)) && frame_done {
            self.end_frame()
        } else if self.unflushed && now.duration_since(self.last_flush) >= self.policy.flush_every {
            self.flush()
        } else {
            Ok(())
        }
    }

    /// Hands everything written so far to the file: it decodes even if nothing more comes.
    pub fn flush(&mut self) -> Result<()> {
        let result = match &mut self.sink {
            Sink::Idle(out) => out.flush(),
            Sink::Frame(encoder) => encoder.flush(),
            Sink::Broken => return Err(eyre!("the recording was closed by an earlier error")),
        };
        result.wrap_err("flushing the recording")?;
        self.after_flush();
        Ok(())
    }

    /// Closes the current frame: what follows decodes without it.
    pub fn end_frame(&mut self) -> Result<()> {
        match std::mem::replace(&mut self.sink, Sink::Broken) {
            Sink::Frame(encoder) => {
                let mut out = encoder.finish().wrap_err("closing a recording frame")?;
                out.flush().wrap_err("closing a recording frame")?;
                self.stats.file_bytes = out.bytes;
                self.sink = Sink::Idle(out);
            }
            other => self.sink = other,
        }
        self.after_flush();
        Ok(())
    }

    /// Closes the last frame and returns the writer.
    pub fn finish(mut self) -> Result<W> {
        self.end_frame()?;
        match std::mem::replace(&mut self.sink, Sink::Broken) {
            Sink::Idle(out) => Ok(out.inner),
            _ => Err(eyre!("the recording was closed by an earlier error")),
        }
    }

    pub fn stats(&self) -> RecordStats {
        let mut stats = self.stats;
        stats.file_bytes = match &self.sink {
            Sink::Idle(out) => out.bytes,
            Sink::Frame(encoder) => encoder.get_ref().bytes,
            Sink::Broken => stats.file_bytes,
        };
        stats
    }

    fn write_line(&mut self, line: &str) -> Result<()> {
        self.sink = match std::mem::replace(&mut self.sink, Sink::Broken) {
            Sink::Idle(out) => {
                let mut encoder =
                    zstd::stream::write::Encoder::new(out, self.policy.level).wrap_err("starting zstd")?;
                // The checksum lets the reader refuse a damaged frame rather than replay altered numbers.
                encoder.include_checksum(true).wrap_err("starting zstd")?;
                self.frame_text = 0;
                self.frame_opened = Instant::now();
                self.stats.frames += 1;
                Sink::Frame(encoder)
            }
            open => open,
        };
        let Sink::Frame(encoder) = &mut self.sink else {
            return Err(eyre!("the recording was closed by an earlier error"));
        };
        encoder.write_all(line.as_bytes())?;
        encoder.write_all(b"\n")?;
        self.frame_text += line.len() + 1;
        self.stats.text_bytes += line.len() as u64 + 1;
        self.unflushed = true;
        Ok(())
    }

    fn after_flush(&mut self) {
        self.last_flush = Instant::now();
        self.unflushed = false;
    }
}

impl<W: Write> Drop for Recorder<W> {
    fn drop(&mut self) {
        if let Sink::Frame(encoder) = std::mem::replace(&mut self.sink, Sink::Broken) {
            // No caller to report to while dropping: the log says it, and the reader will
            // say where the file stopped.
            if let Err(e) = encoder.finish().and_then(|mut out| out.flush()) {
                tracing::warn!("closing the recording's last frame: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tick(at: i64) -> Stamped {
        Stamped {
            at,
            update: Update::ApiLatency { millis: at as u32 },
        }
    }

    /// (start, length) of each zstd frame.
    fn frames(mut bytes: &[u8]) -> Vec<usize> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let len = zstd::zstd_safe::find_frame_compressed_size(bytes).unwrap();
            out.push(len);
            bytes = &bytes[len..];
        }
        out
    }

    #[test]
    fn frames_close_at_the_size_limit() {
        let policy = FlushPolicy {
            frame_bytes: 100,
            frame_age: Duration::from_secs(3600),
            ..FlushPolicy::default()
        };
        let mut r = Recorder::new(Vec::new(), &Header::new("testbed", "unit test", 0), policy).unwrap();
        assert_eq!(r.stats().frames, 1, "the header is a frame of its own");
        for i in 0..10 {
            r.write(&tick(i * 100)).unwrap();
        }
        // Each line is ~45 bytes: a frame closes on the line that takes it past 100.
        assert_eq!(r.stats().frames, 1 + 4);
        r.mark("end", 1_000).unwrap();
        let stats = r.stats();
        let bytes = r.finish().unwrap();
        assert_eq!(stats.entries, 11);
        assert_eq!(frames(&bytes).len() as u64, stats.frames);
    }

    #[test]
    fn a_flush_makes_the_open_frame_readable_up_to_it() {
        let mut r = Recorder::new(
            Vec::new(),
            &Header::new("testbed", "unit test", 0),
            FlushPolicy::default(),
        )
        .unwrap();
        r.write(&tick(5)).unwrap();
        r.flush().unwrap();
        let Sink::Frame(encoder) = &r.sink else {
            panic!("a frame is open")
        };
        let so_far = encoder.get_ref().inner.clone();
        assert_eq!(r.stats().file_bytes, so_far.len() as u64);
        let text = partial_decode(&so_far);
        assert!(
            text.ends_with("\n[0.005,{\"type\":\"api_latency\",\"millis\":5}]\n"),
            "{text}"
        );
    }

    fn partial_decode(bytes: &[u8]) -> String {
        use std::io::Read;
        let mut out = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let mut d = zstd::stream::read::Decoder::with_buffer(rest).unwrap().single_frame();
            let _ = d.read_to_end(&mut out);
            match zstd::zstd_safe::find_frame_compressed_size(rest) {
                Ok(len) => rest = &rest[len..],
                Err(_) => break,
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn dropping_without_finish_closes_the_frame() {
        let mut out = Vec::new();
        {
            let mut r = Recorder::new(
                &mut out,
                &Header::new("testbed", "unit test", 0),
                FlushPolicy::default(),
            )
            .unwrap();
            r.write(&Stamped {
                at: 5,
                update: Update::Tick,
            })
            .unwrap();
        }
        let text = zstd::stream::decode_all(out.as_slice()).unwrap();
        assert!(
            String::from_utf8(text)
                .unwrap()
                .ends_with("\n[0.005,{\"type\":\"tick\"}]\n")
        );
    }
}
