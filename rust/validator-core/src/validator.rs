//! The whole validator: optional gzip decompression in front of the framing stream.

use std::io::Write;

use flate2::write::MultiGzDecoder;

use crate::error::{FileError, FileErrorCode};
use crate::report::Report;
use crate::stream::{Config, Stream};

/// Compressed input goes to the decoder in pieces of this size, so one `feed` never inflates
/// more than about a thousand times this much (deflate's ratio bound) before it is parsed.
const GZIP_PIECE: usize = 32 << 10;
const GZIP_MAGIC: &[u8] = b"\x1f\x8b";

enum Decoding {
    /// Not yet known: waiting for the first two bytes.
    Sniffing(Vec<u8>),
    Plain,
    Gzip(Box<MultiGzDecoder<Vec<u8>>>),
}

pub struct Validator {
    stream: Stream,
    decoding: Decoding,
    bytes_fed: u64,
}

impl Validator {
    /// `gzip`: the file name says so (`.gz`); otherwise the magic bytes decide.
    pub fn new(cfg: Config, gzip: bool) -> Self {
        let decoding = if gzip {
            Decoding::Gzip(Box::new(MultiGzDecoder::new(Vec::new())))
        } else {
            Decoding::Sniffing(Vec::new())
        };
        Validator { stream: Stream::new(cfg), decoding, bytes_fed: 0 }
    }

    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), FileError> {
        if let Some(e) = self.stream.failed() {
            return Err(e.clone());
        }
        self.bytes_fed += chunk.len() as u64;
        if let Decoding::Sniffing(head) = &mut self.decoding {
            head.extend_from_slice(chunk);
            if head.len() < GZIP_MAGIC.len() {
                return Ok(());
            }
            let head = std::mem::take(head);
            self.decoding = if head.starts_with(GZIP_MAGIC) {
                Decoding::Gzip(Box::new(MultiGzDecoder::new(Vec::new())))
            } else {
                Decoding::Plain
            };
            return self.decode(&head);
        }
        self.decode(chunk)
    }

    fn decode(&mut self, chunk: &[u8]) -> Result<(), FileError> {
        match &mut self.decoding {
            Decoding::Sniffing(_) | Decoding::Plain => self.stream.feed(chunk),
            Decoding::Gzip(decoder) => {
                for piece in chunk.chunks(GZIP_PIECE) {
                    let written = decoder.write_all(piece);
                    if written.is_err() {
                        // What was inflated before the corruption is still validated first:
                        // an earlier error in it comes first in stream order.
                        let _ = decoder.flush();
                    }
                    let inflated = std::mem::take(decoder.get_mut());
                    self.stream.feed(&inflated)?;
                    if let Err(e) = written {
                        return Err(self.gzip_error(&e));
                    }
                }
                Ok(())
            }
        }
    }

    pub fn finish(&mut self) -> Result<(), FileError> {
        if let Some(e) = self.stream.failed() {
            return Err(e.clone());
        }
        match std::mem::replace(&mut self.decoding, Decoding::Plain) {
            Decoding::Sniffing(head) => self.stream.feed(&head)?,
            Decoding::Plain => {}
            Decoding::Gzip(mut decoder) => {
                let finished = decoder.try_finish();
                let inflated = std::mem::take(decoder.get_mut());
                self.stream.feed(&inflated)?;
                if let Err(e) = finished {
                    return Err(self.gzip_error(&e));
                }
            }
        }
        self.stream.finish()
    }

    #[cold]
    fn gzip_error(&mut self, e: &std::io::Error) -> FileError {
        let error = FileError {
            code: FileErrorCode::Encoding,
            message: format!("the gzip stream is corrupt or truncated: {e}"),
            line: self.stream.line(),
            offset: self.stream.bytes_in(),
        };
        self.stream.fail_with(error.clone());
        error
    }

    pub fn take_errors(&mut self) -> Vec<crate::RecordError> {
        self.stream.take_errors()
    }

    /// See [`Stream::drain_output`](crate::stream::Stream::drain_output).
    pub fn drain_output<R>(&mut self, f: impl FnOnce(&[u8], usize) -> R) -> R {
        self.stream.drain_output(f)
    }

    /// See [`Stream::take_deleted_keys`](crate::stream::Stream::take_deleted_keys).
    pub fn take_deleted_keys(&mut self) -> Vec<u8> {
        self.stream.take_deleted_keys()
    }

    pub fn report(&self) -> Report {
        let mut report = self.stream.report.clone();
        report.bytes_read = self.stream.bytes_in();
        report
    }

    pub fn bytes_fed(&self) -> u64 {
        self.bytes_fed
    }
}
