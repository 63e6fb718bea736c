//! Writes a recording as the session runs: each update redacted, turned into a line, and the
//! lines compressed in chunks. Every chunk is a complete zstd frame written straight to the
//! file, so a crash or a kill loses at most the chunk being filled, and memory stays at one chunk.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use color_eyre::eyre::{Result, WrapErr};

use super::format::encode_entry;
use super::header::Header;
use super::redact::redact;
use crate::app::{Stamped, Update};
use crate::model::UnixMillis;

/// When a chunk is closed and written, and how hard it is compressed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChunkPolicy {
    /// Close the chunk once it holds this much text (bounds memory and what a crash loses).
    pub max_bytes: usize,
    /// Close the chunk once its first line is this old.
    pub max_age: Duration,
    pub level: i32,
}

impl Default for ChunkPolicy {
    /// Measured on a busy synthetic session (500 pods, see `examples/recording_size.rs`): one
    /// second of it is about 90 KB of text, and level 3 in one-second frames compresses it
    /// ~24× at a few ms of CPU per second; larger levels or frames gained little.
    fn default() -> Self {
        ChunkPolicy {
            max_bytes: 1 << 20,
            max_age: Duration::from_secs(1),
            level: 3,
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
    /// Bytes in the file.
    pub file_bytes: u64,
    pub chunks: u64,
}

/// A recording being written. Dropping it without [`finish`](Recorder::finish) still writes the
/// last chunk (as far as the writer allows), so an early return or a panic keeps what was seen.
pub struct Recorder<W: Write = BufWriter<File>> {
    out: Option<W>,
    start: UnixMillis,
    policy: ChunkPolicy,
    compressor: zstd::bulk::Compressor<'static>,
    chunk: Vec<u8>,
    chunk_opened: Option<Instant>,
    stats: RecordStats,
}

impl Recorder {
    /// Creates (or truncates) `path` and writes the header.
    pub fn create(path: impl AsRef<Path>, header: &Header) -> Result<Recorder> {
        Recorder::create_with(path, header, ChunkPolicy::default())
    }

    pub fn create_with(path: impl AsRef<Path>, header: &Header, policy: ChunkPolicy) -> Result<Recorder> {
        let path = path.as_ref();
        let file = File::create(path).wrap_err_with(|| format!("creating recording {}", path.display()))?;
        Recorder::new(BufWriter::new(file), header, policy)
            .wrap_err_with(|| format!("starting recording {}", path.display()))
    }
}

impl<W: Write> Recorder<W> {
    /// Starts a recording on any writer; the header goes out at once, in its own frame.
    pub fn new(out: W, header: &Header, policy: ChunkPolicy) -> Result<Recorder<W>> {
        let mut compressor = zstd::bulk::Compressor::new(policy.level).wrap_err("setting up zstd")?;
        // The checksum lets the reader refuse a damaged frame instead of replaying altered numbers.
        compressor
            .set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))
            .wrap_err("setting up zstd")?;
        let mut recorder = Recorder {
            out: Some(out),
            start: header.recorded_at,
            policy,
            compressor,
            chunk: Vec::new(),
            chunk_opened: None,
            stats: RecordStats::default(),
        };
        let line = serde_json::to_string(header).wrap_err("writing the recording header")?;
        recorder.push_line(&line);
        recorder.flush().wrap_err("writing the recording header")?;
        Ok(recorder)
    }

    /// Appends one update, redacted.
    pub fn write(&mut self, stamped: &Stamped) -> Result<()> {
        let mut update = serde_json::to_value(&stamped.update).wrap_err("turning an update into JSON")?;
        if redact(&mut update) {
            self.stats.redacted += 1;
        }
        let line = encode_entry(self.start, stamped.at, &update);
        self.push_line(&line);
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

    /// Writes the chunk if it is full or old enough; call it on a timer when updates are sparse.
    pub fn flush_if_due(&mut self) -> Result<()> {
        let old = self.chunk_opened.is_some_and(|t| t.elapsed() >= self.policy.max_age);
        if self.chunk.len() >= self.policy.max_bytes || old {
            self.flush()?;
        }
        Ok(())
    }

    /// Closes the current chunk as one zstd frame and hands it to the writer.
    pub fn flush(&mut self) -> Result<()> {
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| color_eyre::eyre::eyre!("the recording is finished"))?;
        if !self.chunk.is_empty() {
            let frame = self
                .compressor
                .compress(&self.chunk)
                .wrap_err("compressing a recording chunk")?;
            out.write_all(&frame).wrap_err("writing a recording chunk")?;
            self.stats.file_bytes += frame.len() as u64;
            self.stats.chunks += 1;
            self.chunk.clear();
            self.chunk_opened = None;
        }
        out.flush().wrap_err("writing a recording chunk")
    }

    /// Writes what is left and returns the writer.
    pub fn finish(mut self) -> Result<W> {
        self.flush()?;
        self.out
            .take()
            .ok_or_else(|| color_eyre::eyre::eyre!("the recording is finished"))
    }

    pub fn stats(&self) -> RecordStats {
        self.stats
    }

    fn push_line(&mut self, line: &str) {
        self.chunk_opened.get_or_insert_with(Instant::now);
        self.chunk.extend_from_slice(line.as_bytes());
        self.chunk.push(b'\n');
        self.stats.text_bytes += line.len() as u64 + 1;
    }
}

impl<W: Write> Drop for Recorder<W> {
    fn drop(&mut self) {
        if self.out.is_some() {
            // Nowhere to report a failure while dropping; the reader will say where it stopped.
            let _ = self.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_close_at_the_size_limit_and_on_flush() {
        let policy = ChunkPolicy {
            max_bytes: 100,
            max_age: Duration::from_secs(3600),
            level: 3,
        };
        let mut r = Recorder::new(Vec::new(), &Header::new("testbed", "unit test", 0), policy).unwrap();
        assert_eq!(r.stats().chunks, 1, "the header is a frame of its own");
        for i in 0..10 {
            r.write(&Stamped {
                at: i * 100,
                update: Update::ApiLatency { millis: i as u32 },
            })
            .unwrap();
        }
        // Each line is ~40 bytes: a chunk closes on the line that takes it past 100.
        assert_eq!(r.stats().chunks, 1 + 3);
        r.mark("end", 1_000).unwrap();
        r.flush().unwrap();
        let stats = r.stats();
        let bytes = r.finish().unwrap();
        assert_eq!(stats.entries, 11);
        assert_eq!(stats.chunks, 5);
        assert_eq!(bytes.len() as u64, stats.file_bytes);
        assert_eq!(count_frames(&bytes), 5);
    }

    fn count_frames(mut bytes: &[u8]) -> usize {
        let mut n = 0;
        while !bytes.is_empty() {
            let len = zstd::zstd_safe::find_frame_compressed_size(bytes).unwrap();
            bytes = &bytes[len..];
            n += 1;
        }
        n
    }

    #[test]
    fn dropping_without_finish_keeps_the_last_chunk() {
        let mut out = Vec::new();
        {
            let mut r = Recorder::new(
                &mut out,
                &Header::new("testbed", "unit test", 0),
                ChunkPolicy::default(),
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
