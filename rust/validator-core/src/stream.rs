//! The file's framing (array, wrapper object, NDJSON) over a stream of decompressed chunks.
//!
//! Work is done in *units* (a record, a top-level name or ignored value, an NDJSON line) parsed
//! from one contiguous slice. Bytes of a unit cut by a chunk boundary wait in `carry`; a retry
//! happens only once the carry has doubled, so a huge unit costs linear time, and a unit larger
//! than `max_record_bytes` is an error, so memory stays bounded whatever the input.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::copy::{self, Identity};
use crate::error::{push_pointer_token, ErrorCode, FileError, FileErrorCode, RecordError};
use crate::json::{starts_value, Cursor, Stop};
use crate::record::{Issue, Movie, Place, RecordParser};
use crate::report::Report;

/// Settings of one validation run (docs/provider-format.md, "Limits").
#[derive(Debug, Clone)]
pub struct Config {
    pub ndjson: bool,
    pub max_errors: usize,
    pub max_depth: usize,
    pub max_bytes: Option<u64>,
    pub max_record_bytes: usize,
    pub current_year: i64,
    /// Produce COPY data for valid records (otherwise only count them).
    pub copy: bool,
    /// Hand out every error through [`Stream::take_errors`], for a complete report.
    pub stream_errors: bool,
    /// NDJSON lines are examined on this many threads (1 or 2) and committed in order, so the
    /// outcome is the same whatever the number.
    pub threads: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ndjson: false,
            max_errors: 1000,
            max_depth: 64,
            max_bytes: None,
            max_record_bytes: 16 << 20,
            current_year: 2026,
            copy: true,
            stream_errors: false,
            threads: 1,
        }
    }
}

/// A carried unit is retried once at least this many new bytes have arrived.
const MIN_PIECE: usize = 64 << 10;
/// NDJSON lines at hand are judged in blocks of about this many bytes. With two threads each
/// takes the next block not yet taken, so one that the scheduler keeps waiting (the machine is
/// busy) holds the other up by one block at most.
const BLOCK: usize = 64 << 10;
/// Fewer bytes of lines than this are not worth a second thread; they are cut into blocks all
/// the same, so that small inputs take the path of large ones.
const PARALLEL_MIN: usize = 64 << 10;
/// When the first thread waited for the second longer than it worked itself and than `STALL`
/// (other processes have the second core), the next runs of lines take one thread: this many at
/// first, twice as many after each such wait in a row, up to `MAX_SOLO_RUNS`. (A second thread
/// that is merely slower, warming up its buffers, still helps: waiting less than that is not a
/// reason to stop.)
const SOLO_RUNS: u32 = 4;
const MAX_SOLO_RUNS: u32 = 64;
/// A wait shorter than this is the cost of starting the second thread, not another process.
const STALL: Duration = Duration::from_micros(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Bom,
    Start,
    ArrayFirst,
    ArrayAfterItem,
    ArrayNext,
    ObjFirst,
    ObjAfterKey,
    ObjValue,
    ObjAfterMember,
    ObjNext,
    Done,
    Lines,
}

/// Record keys are already XXH3 hashes: hashing them again would only cost time.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

pub struct Stream {
    cfg: Config,
    stage: Stage,
    carry: Vec<u8>,
    need: usize,
    /// Absolute offset and line of the first byte not yet consumed.
    offset: u64,
    line: u64,
    bytes_in: u64,
    in_wrapper: bool,
    movies_seen: bool,
    key_is_movies: bool,
    top_names: HashSet<Vec<u8>>,
    nonblank_lines: u64,
    parser: RecordParser,
    /// One parser per thread judging NDJSON lines, and the blocks of lines they judge.
    line_parsers: Vec<RecordParser>,
    blocks: Vec<Mutex<Block>>,
    solo_runs: u32,
    solo_period: u32,
    skip_stack: Vec<bool>,
    skip_scratch: Vec<u8>,
    seen_keys: HashMap<u128, u64, BuildHasherDefault<KeyHasher>>,
    out: Vec<u8>,
    out_count: usize,
    /// Keys (16 bytes, big-endian: a uuid's bytes) of the deletion records since the last call.
    deleted_keys: Vec<u8>,
    streamed_errors: Vec<RecordError>,
    pub report: Report,
    failed: Option<FileError>,
}

impl Stream {
    pub fn new(cfg: Config) -> Self {
        Stream {
            parser: RecordParser::new(cfg.max_depth, cfg.current_year),
            line_parsers: (0..cfg.threads.clamp(1, 2))
                .map(|_| RecordParser::new(cfg.max_depth, cfg.current_year))
                .collect(),
            blocks: Vec::new(),
            solo_runs: 0,
            solo_period: SOLO_RUNS,
            cfg,
            stage: Stage::Bom,
            carry: Vec::new(),
            need: 0,
            offset: 0,
            line: 1,
            bytes_in: 0,
            in_wrapper: false,
            movies_seen: false,
            key_is_movies: false,
            top_names: HashSet::new(),
            nonblank_lines: 0,
            skip_stack: Vec::new(),
            skip_scratch: Vec::new(),
            seen_keys: HashMap::default(),
            out: Vec::new(),
            out_count: 0,
            deleted_keys: Vec::new(),
            streamed_errors: Vec::new(),
            report: Report::default(),
            failed: None,
        }
    }

    pub fn bytes_in(&self) -> u64 {
        self.bytes_in
    }

    /// Hand the COPY tuples produced since the last call (and their record count) to `f`, then
    /// forget them. The buffer is reused: fresh memory for every chunk costs page faults.
    pub fn drain_output<R>(&mut self, f: impl FnOnce(&[u8], usize) -> R) -> R {
        let result = f(&self.out, self.out_count);
        self.out.clear();
        self.out_count = 0;
        result
    }

    /// The keys of the deletion records found since the last call (with `copy`), 16 bytes each.
    pub fn take_deleted_keys(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.deleted_keys)
    }

    /// Every error found since the last call (with `stream_errors`).
    pub fn take_errors(&mut self) -> Vec<RecordError> {
        std::mem::take(&mut self.streamed_errors)
    }

    /// Count an error; build it only when the report keeps it or errors are streamed, so a
    /// file of a million bad records does not build a million messages for nothing.
    fn error(&mut self, code: ErrorCode, build: impl FnOnce() -> RecordError) {
        let keep = self.report.wants_details(self.cfg.max_errors);
        if !keep && !self.cfg.stream_errors {
            self.report.add_error(code, self.cfg.max_errors, None);
            return;
        }
        let error = build();
        if self.cfg.stream_errors {
            self.streamed_errors.push(error.clone());
        }
        self.report.add_error(code, self.cfg.max_errors, Some(error));
    }

    pub fn failed(&self) -> Option<&FileError> {
        self.failed.as_ref()
    }

    /// Feed decompressed bytes.
    pub fn feed(&mut self, input: &[u8]) -> Result<(), FileError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let room = self.cfg.max_bytes.map_or(u64::MAX, |m| m.saturating_sub(self.bytes_in));
        let now = input.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        self.bytes_in += now as u64;
        let mut result = self.push(&input[..now]);
        if result.is_ok() && now < input.len() {
            let limit = self.cfg.max_bytes.unwrap_or_default();
            result = Err(Self::error_at(
                FileErrorCode::TooLarge,
                format!("the file is larger than the {limit}-byte limit"),
                limit,
                self.line,
            ));
        }
        self.remember(result)
    }

    /// The end of the input.
    pub fn finish(&mut self) -> Result<(), FileError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let carry = std::mem::take(&mut self.carry);
        let result = self.run(&carry, true).and_then(|n| {
            if n == carry.len() {
                Ok(())
            } else {
                Err(Self::error_at(
                    FileErrorCode::Parse,
                    "unexpected end of input".into(),
                    self.offset,
                    self.line,
                ))
            }
        });
        self.remember(result)
    }

    fn remember(&mut self, result: Result<(), FileError>) -> Result<(), FileError> {
        if let Err(e) = &result {
            self.failed = Some(e.clone());
            self.report.file_error = Some(e.clone());
        }
        result
    }

    fn push(&mut self, input: &[u8]) -> Result<(), FileError> {
        let mut i = 0;
        // Bytes in the carry that came before `input`.
        let mut before = self.carry.len();
        while !self.carry.is_empty() {
            if i == input.len() {
                return Ok(());
            }
            let want = self.need.saturating_sub(self.carry.len()).max(MIN_PIECE);
            let take = want.min(input.len() - i);
            self.carry.extend_from_slice(&input[i..i + take]);
            i += take;
            if self.carry.len() < self.need && i < input.len() {
                continue;
            }
            let mut carry = std::mem::take(&mut self.carry);
            let n = self.run(&carry, false)?;
            if n >= before {
                // The carried unit is complete: go on straight from the input.
                i = n - before;
                self.need = 0;
                break;
            }
            carry.drain(..n);
            before -= n;
            // Retry when the carry has doubled (linear total work), or just past the size limit.
            self.need = (carry.len() * 2).min(self.cfg.max_record_bytes + 2);
            self.carry = carry;
        }
        if i < input.len() {
            let n = self.run(&input[i..], false)?;
            self.carry.extend_from_slice(&input[i + n..]);
            self.need = 0;
        }
        Ok(())
    }

    fn error_at(code: FileErrorCode, message: String, offset: u64, line: u64) -> FileError {
        FileError { code, message, line, offset }
    }

    /// A scanning stop inside `buf` as a file error (`committed` is where `self.offset` is).
    fn stop_error(&self, stop: &Stop, buf: &[u8], committed: usize) -> FileError {
        let (code, at, message) = match stop {
            Stop::Syntax { at, msg } => (syntax_code(msg), *at, (*msg).to_string()),
            Stop::Encoding { at } => (FileErrorCode::Encoding, *at, "invalid UTF-8".to_string()),
            Stop::Depth { at } => (
                FileErrorCode::Depth,
                *at,
                format!("containers are nested deeper than the limit of {}", self.cfg.max_depth),
            ),
            Stop::TooLarge { at } => (FileErrorCode::TooLarge, *at, self.too_large_message()),
            Stop::Incomplete => (FileErrorCode::Parse, buf.len(), "unexpected end of input".to_string()),
        };
        let at = at.clamp(committed, buf.len());
        let line = self.line + newlines(&buf[committed..at]);
        Self::error_at(code, message, self.offset + (at - committed) as u64, line)
    }

    /// Process whole units of `buf`; returns how many bytes were consumed.
    fn run(&mut self, buf: &[u8], eof: bool) -> Result<usize, FileError> {
        let mut cur = Cursor::new(buf, 0, eof);
        let mut committed = 0;
        let mut committed_newlines = 0;
        loop {
            let step = match self.stage {
                Stage::Bom => self.bom(&mut cur),
                Stage::Lines => self.line_step(&mut cur),
                _ => self.json_step(&mut cur),
            };
            match step {
                Ok(true) => {
                    self.offset += (cur.pos - committed) as u64;
                    self.line += cur.newlines - committed_newlines;
                    committed = cur.pos;
                    committed_newlines = cur.newlines;
                }
                Ok(false) | Err(Stop::Incomplete) if !eof => return Ok(committed),
                Ok(false) => return Ok(committed),
                Err(other) => return Err(self.stop_error(&other, buf, committed)),
            }
        }
    }

    /// One step of an array or wrapper file. `Ok(false)`: nothing more to do with these bytes.
    fn json_step(&mut self, cur: &mut Cursor) -> Result<bool, Stop> {
        let ws_start = cur.pos;
        cur.skip_ws();
        if cur.pos > ws_start {
            // Committed on its own, so that the line count is right where the next unit starts.
            return Ok(true);
        }
        if cur.pos == cur.buf.len() {
            if !cur.eof {
                return Err(Stop::Incomplete);
            }
            return match self.stage {
                Stage::Start => Err(Stop::Syntax { at: cur.pos, msg: EMPTY }),
                Stage::Done => Ok(false),
                _ => Err(cur.out_of_input()),
            };
        }
        let b = cur.buf[cur.pos];
        match self.stage {
            Stage::Start => match b {
                b'[' | b'{' => {
                    if self.cfg.max_depth < 1 {
                        return Err(Stop::Depth { at: cur.pos });
                    }
                    cur.pos += 1;
                    self.stage = if b == b'[' { Stage::ArrayFirst } else { Stage::ObjFirst };
                    self.in_wrapper = b == b'{';
                }
                _ if starts_value(b) => return Err(Stop::Syntax { at: cur.pos, msg: TOP_LEVEL_KIND }),
                _ => return Err(cur.unexpected("expected a JSON array or object")),
            },
            Stage::ArrayFirst if b == b']' => {
                cur.pos += 1;
                self.stage = self.after_array();
            }
            Stage::ArrayFirst | Stage::ArrayNext => {
                let depth = if self.in_wrapper { 3 } else { 2 };
                self.bounded(cur, |me, c| me.record(c, depth))?;
                self.stage = Stage::ArrayAfterItem;
            }
            Stage::ArrayAfterItem => match b {
                b',' => {
                    cur.pos += 1;
                    self.stage = Stage::ArrayNext;
                }
                b']' => {
                    cur.pos += 1;
                    self.stage = self.after_array();
                }
                _ => return Err(cur.unexpected("expected ',' or ']' after a record")),
            },
            Stage::ObjFirst if b == b'}' => self.close_wrapper(cur)?,
            Stage::ObjFirst | Stage::ObjNext => self.bounded(cur, Self::top_name)?,
            Stage::ObjAfterKey => {
                cur.expect(b':', "expected ':' after an object member name")?;
                self.stage = Stage::ObjValue;
            }
            Stage::ObjValue if self.key_is_movies => {
                if b != b'[' {
                    return Err(if starts_value(b) {
                        Stop::Syntax { at: cur.pos, msg: MOVIES_KIND }
                    } else {
                        cur.unexpected("expected a JSON value")
                    });
                }
                if self.cfg.max_depth < 2 {
                    return Err(Stop::Depth { at: cur.pos });
                }
                cur.pos += 1;
                self.stage = Stage::ArrayFirst;
            }
            Stage::ObjValue => {
                if !starts_value(b) {
                    return Err(cur.unexpected("expected a JSON value"));
                }
                self.bounded(cur, |me, c| {
                    c.skip_value(2, me.cfg.max_depth, &mut me.skip_stack, &mut me.skip_scratch)
                })?;
                self.stage = Stage::ObjAfterMember;
            }
            Stage::ObjAfterMember => match b {
                b',' => {
                    cur.pos += 1;
                    self.stage = Stage::ObjNext;
                }
                b'}' => self.close_wrapper(cur)?,
                _ => return Err(cur.unexpected("expected ',' or '}' after a top-level member")),
            },
            Stage::Done => return Err(cur.unexpected("unexpected data after the top-level value")),
            Stage::Bom | Stage::Lines => {
                return Err(Stop::Syntax { at: cur.pos, msg: "internal: unexpected stage" })
            }
        }
        Ok(true)
    }

    fn bom(&mut self, cur: &mut Cursor) -> Result<bool, Stop> {
        const BOM: &[u8] = b"\xEF\xBB\xBF";
        let rest = &cur.buf[cur.pos..];
        if rest.len() < BOM.len() && BOM.starts_with(rest) && !cur.eof {
            return Err(Stop::Incomplete);
        }
        if rest.starts_with(BOM) {
            cur.pos += BOM.len();
        }
        self.stage = if self.cfg.ndjson { Stage::Lines } else { Stage::Start };
        Ok(true)
    }

    fn after_array(&self) -> Stage {
        if self.in_wrapper {
            Stage::ObjAfterMember
        } else {
            Stage::Done
        }
    }

    fn close_wrapper(&mut self, cur: &mut Cursor) -> Result<(), Stop> {
        if !self.movies_seen {
            return Err(Stop::Syntax { at: cur.pos, msg: NO_MOVIES });
        }
        cur.pos += 1;
        self.stage = Stage::Done;
        Ok(())
    }

    fn top_name(&mut self, cur: &mut Cursor) -> Result<(), Stop> {
        if cur.peek()? != b'"' {
            return Err(cur.unexpected("expected a string as object member name"));
        }
        let at = cur.pos;
        self.skip_scratch.clear();
        let name = cur.string(&mut self.skip_scratch)?;
        let bytes = name.bytes(cur.buf, &self.skip_scratch).to_vec();
        if self.top_names.contains(&bytes) {
            return Err(Stop::Syntax { at, msg: REPEATED_TOP });
        }
        self.key_is_movies = bytes == b"movies";
        self.movies_seen |= self.key_is_movies;
        self.top_names.insert(bytes);
        self.stage = Stage::ObjAfterKey;
        Ok(())
    }

    /// The NDJSON lines at the cursor: every whole line at hand, or the last one at the end.
    fn line_step(&mut self, cur: &mut Cursor) -> Result<bool, Stop> {
        let buf = cur.buf;
        let start = cur.pos;
        if start == buf.len() {
            if cur.eof && self.nonblank_lines == 0 {
                return Err(Stop::Syntax { at: start, msg: EMPTY });
            }
            return Ok(false);
        }
        // Look for the newline only as far as the size limit (plus the newline itself).
        let max = self.cfg.max_record_bytes;
        let window = start.saturating_add(max).saturating_add(1).min(buf.len());
        let first_end = if let Some(k) = memchr::memchr(b'\n', &buf[start..window]) {
            start + k
        } else {
            let too_long = buf.len() - start > max;
            if !cur.eof || too_long {
                // No whole line yet: an error in the bytes at hand still comes first.
                self.partial_line(&buf[..buf.len().min(start.saturating_add(max))], start)?;
                return Err(if too_long { Stop::TooLarge { at: start } } else { Stop::Incomplete });
            }
            buf.len()
        };
        // The first line is whole and within the limit; so may be many after it.
        let end = match memchr::memrchr(b'\n', &buf[first_end..]) {
            Some(k) => first_end + k + 1,
            None => buf.len().min(first_end + 1),
        };
        self.lines(cur, start..end)?;
        Ok(true)
    }

    /// Judge the lines of `cur.buf[lines]` in blocks (on two threads when configured), then
    /// commit them in order; a line over the size limit, and those after it, are left to
    /// [`Self::line_step`].
    fn lines(&mut self, cur: &mut Cursor, lines: Range<usize>) -> Result<(), Stop> {
        let buf = cur.buf;
        let count = self.cut_blocks(buf, &lines);
        let blocks = &self.blocks[..count];
        let max = self.cfg.max_record_bytes;
        let next = AtomicUsize::new(0);
        let work = |parser: &mut RecordParser| {
            while let Some(block) = blocks.get(next.fetch_add(1, Ordering::Relaxed)) {
                block.lock().unwrap_or_else(PoisonError::into_inner).judge(parser, buf, max);
            }
        };
        let solo = self.solo_runs > 0;
        self.solo_runs = self.solo_runs.saturating_sub(1);
        match self.line_parsers.as_mut_slice() {
            [first, second] if !solo && count > 1 && lines.len() >= PARALLEL_MIN => {
                let started = Instant::now();
                let (worked, waited) = std::thread::scope(|scope| {
                    let other = scope.spawn(|| work(second));
                    work(first);
                    let worked = started.elapsed();
                    if let Err(panic) = other.join() {
                        std::panic::resume_unwind(panic);
                    }
                    (worked, started.elapsed().saturating_sub(worked))
                });
                if waited > worked.max(STALL) {
                    self.solo_runs = self.solo_period;
                    self.solo_period = (self.solo_period * 2).min(MAX_SOLO_RUNS);
                } else {
                    self.solo_period = SOLO_RUNS;
                }
            }
            [first, ..] => work(first),
            [] => {}
        }
        let base = cur.newlines;
        for i in 0..count {
            let mut block = std::mem::take(self.blocks[i].get_mut().unwrap_or_else(PoisonError::into_inner));
            let committed = self.commit(&mut block, cur, base);
            *self.blocks[i].get_mut().unwrap_or_else(PoisonError::into_inner) = block;
            if !committed? {
                break;
            }
        }
        Ok(())
    }

    /// Cut `buf[lines]` into blocks of whole lines, at least one per thread; returns how many.
    fn cut_blocks(&mut self, buf: &[u8], lines: &Range<usize>) -> usize {
        let size = BLOCK.min(lines.len().div_ceil(self.line_parsers.len())).max(1);
        let mut count = 0;
        let mut start = lines.start;
        while start < lines.end {
            let cut = (start + size).min(lines.end);
            let end = memchr::memchr(b'\n', &buf[cut - 1..lines.end]).map_or(lines.end, |k| cut + k);
            if count == self.blocks.len() {
                self.blocks.push(Mutex::default());
            }
            let block = self.blocks[count].get_mut().unwrap_or_else(PoisonError::into_inner);
            block.range = start..end;
            count += 1;
            start = end;
        }
        count
    }

    /// Count the examined lines in order, as if each were read now; `Ok(false)` where one was
    /// left for [`Self::line_step`] (too long), `Err` at a whole-file error.
    fn commit(&mut self, block: &mut Block, cur: &mut Cursor, base: u64) -> Result<bool, Stop> {
        let buf = cur.buf;
        for line in block.lines.drain(..) {
            let number = self.line + (cur.newlines - base);
            match line.judged {
                Judged::TooLong => return Ok(false),
                Judged::Fatal(stop) => return Err(stop),
                Judged::Blank => {}
                Judged::Record { id, deleted, tuple } => {
                    self.nonblank_lines += 1;
                    let index = self.next_record();
                    let mark = self.out.len();
                    if self.cfg.copy && !deleted {
                        self.out.extend_from_slice(&block.out[tuple]);
                        copy::set_position(&mut self.out[mark..], index, number);
                    }
                    self.keep_once(id, deleted, mark, index, number);
                }
                Judged::Invalid(issues) => {
                    self.nonblank_lines += 1;
                    let index = self.next_record();
                    self.invalid_record(index, number, buf, line.start, &issues);
                }
                Judged::NotJson { column, msg } => {
                    self.nonblank_lines += 1;
                    self.parse_error_record(column, msg, number);
                }
            }
            cur.pos = line.next;
            cur.newlines += u64::from(line.next > line.end);
        }
        Ok(true)
    }

    /// Whole-file errors (invalid UTF-8, nesting too deep) in the start of a line that has not
    /// ended yet, so that they are found whether or not the rest of the line ever arrives.
    fn partial_line(&mut self, view: &[u8], start: usize) -> Result<(), Stop> {
        let mut sub = Cursor::new(view, start, false);
        sub.skip_ws();
        if let Err(stop @ (Stop::Encoding { .. } | Stop::Depth { .. })) = self.parser.parse(&mut sub, 1) {
            return Err(stop);
        }
        match simdutf8::compat::from_utf8(&view[start..]) {
            Err(e) if e.error_len().is_some() => Err(Stop::Encoding { at: start + e.valid_up_to() }),
            _ => Ok(()),
        }
    }

    fn parse_error_record(&mut self, column: usize, msg: &'static str, line: u64) {
        let index = self.next_record();
        self.report.records_invalid += 1;
        self.error(ErrorCode::Parse, || RecordError {
            record: index,
            line,
            pointer: format!("/{index}"),
            code: ErrorCode::Parse,
            message: format!("line is not one JSON value: {msg} at byte {} of the line", column + 1),
        });
    }

    fn next_record(&mut self) -> u64 {
        let index = self.report.records_total;
        self.report.records_total += 1;
        index
    }

    /// Run one unit on a view of the input that ends just past the record size limit: a unit
    /// that does not end within the limit is `too_large`, whether its bytes arrived in one
    /// chunk or in many, and errors before the limit are found either way.
    fn bounded<T>(
        &mut self,
        cur: &mut Cursor,
        unit: impl FnOnce(&mut Self, &mut Cursor) -> Result<T, Stop>,
    ) -> Result<T, Stop> {
        let start = cur.pos;
        let end = start.saturating_add(self.cfg.max_record_bytes).saturating_add(1);
        let cut = cur.buf.len() > end;
        let mut view = Cursor::new(&cur.buf[..cur.buf.len().min(end)], start, cur.eof && !cut);
        match unit(self, &mut view) {
            Err(Stop::Incomplete) if cut => Err(Stop::TooLarge { at: start }),
            Ok(_) if view.pos - start > self.cfg.max_record_bytes => Err(Stop::TooLarge { at: start }),
            Ok(value) => {
                cur.pos = view.pos;
                cur.newlines += view.newlines;
                Ok(value)
            }
            Err(other) => Err(other),
        }
    }

    fn too_large_message(&self) -> String {
        let what = if self.cfg.ndjson { "a line" } else { "a record or top-level value" };
        format!("{what} starting here is larger than the {}-byte record limit", self.cfg.max_record_bytes)
    }

    /// A record of an array or wrapper file at the cursor.
    fn record(&mut self, cur: &mut Cursor, depth: usize) -> Result<(), Stop> {
        let start = cur.pos;
        self.parser.parse(cur, depth)?;
        self.finish_record(cur.buf, start, self.line);
        Ok(())
    }

    /// Count the record just parsed (starting at `buf[start]`, on `line`) and emit it if valid.
    fn finish_record(&mut self, buf: &[u8], start: usize, line: u64) {
        let index = self.next_record();
        if !self.parser.issues.is_empty() {
            let issues = std::mem::take(&mut self.parser.issues);
            self.invalid_record(index, line, buf, start, &issues);
            self.parser.issues = issues;
            return;
        }
        let mark = self.out.len();
        let deleted = self.parser.movie.deleted;
        let id = if deleted {
            deletion(&self.parser.movie, buf, &self.parser.scratch)
        } else {
            copy::encode(&mut self.out, &self.parser.movie, buf, &self.parser.scratch, index, line)
        };
        self.keep_once(id, deleted, mark, index, line);
    }

    fn invalid_record(&mut self, index: u64, line: u64, buf: &[u8], start: usize, issues: &[Issue]) {
        self.report.records_invalid += 1;
        let prefix = if self.in_wrapper { "/movies" } else { "" };
        for issue in issues {
            self.error(issue.code, || RecordError {
                record: index,
                line: line + newlines(&buf[start..issue.at.max(start)]),
                pointer: pointer(prefix, index, &issue.place),
                code: issue.code,
                message: issue.message(),
            });
        }
    }

    /// A valid record whose COPY tuple is `out[mark..]` (a deletion has none): kept if its key
    /// is new, else dropped as a duplicate (identical content) or an error (different content).
    fn keep_once(&mut self, id: Identity, deleted: bool, mark: usize, index: u64, line: u64) {
        match self.seen_keys.get(&id.key) {
            None => {
                self.seen_keys.insert(id.key, id.content);
                self.report.records_valid += 1;
                if deleted {
                    self.report.deletions += 1;
                    if self.cfg.copy {
                        self.deleted_keys.extend_from_slice(&id.key.to_be_bytes());
                    }
                } else {
                    self.out_count += 1;
                    if !self.cfg.copy {
                        self.out.truncate(mark);
                    }
                }
            }
            Some(&content) => {
                self.out.truncate(mark);
                if content == id.content {
                    self.report.duplicates_collapsed += 1;
                } else {
                    self.report.records_invalid += 1;
                    let prefix = if self.in_wrapper { "/movies" } else { "" };
                    self.error(ErrorCode::DuplicateKey, || RecordError {
                        record: index,
                        line,
                        pointer: format!("{prefix}/{index}"),
                        code: ErrorCode::DuplicateKey,
                        message: "another record earlier in the file has the same key but different content"
                            .into(),
                    });
                }
            }
        }
    }
}

/// One NDJSON line, judged without the stream's state: lines can be judged on two threads and
/// then committed in order (record numbers, lines, duplicates and errors as in one pass).
enum Judged {
    Blank,
    /// Valid: its COPY tuple, record and line still unset, in the block's output (a deletion
    /// has none).
    Record {
        id: Identity,
        deleted: bool,
        tuple: Range<usize>,
    },
    Invalid(Vec<Issue>),
    NotJson {
        column: usize,
        msg: &'static str,
    },
    /// Over the size limit: left for the stream's own checks.
    TooLong,
    /// A whole-file error: nothing after it counts.
    Fatal(Stop),
}

struct Line {
    start: usize,
    end: usize,
    /// Where the next line starts (past the newline, if any).
    next: usize,
    judged: Judged,
}

/// Whole NDJSON lines, judged by whichever thread takes them, with the COPY tuples of the
/// valid ones.
#[derive(Default)]
struct Block {
    range: Range<usize>,
    lines: Vec<Line>,
    out: Vec<u8>,
}

impl Block {
    /// Judge the lines of `buf[self.range]` (each but the last ends with a newline) up to the
    /// first one that ends the run (too long, or a whole-file error).
    fn judge(&mut self, parser: &mut RecordParser, buf: &[u8], max_record_bytes: usize) {
        self.out.clear();
        self.lines.clear();
        let Range { mut start, end: stop } = self.range;
        while start < stop {
            let end = memchr::memchr(b'\n', &buf[start..stop]).map_or(stop, |k| start + k);
            let next = (end + 1).min(stop);
            let judged = if end - start > max_record_bytes {
                Judged::TooLong
            } else {
                judge(parser, &mut self.out, buf, start, end)
            };
            let last = matches!(judged, Judged::TooLong | Judged::Fatal(_));
            self.lines.push(Line { start, end, next, judged });
            if last {
                return;
            }
            start = next;
        }
    }
}

/// One line, `buf[start..end]`; a valid record's tuple goes to `out`.
fn judge(parser: &mut RecordParser, out: &mut Vec<u8>, buf: &[u8], start: usize, end: usize) -> Judged {
    let line = &buf[start..end];
    if line.iter().all(|&b| matches!(b, b' ' | b'\t' | b'\r')) {
        return Judged::Blank;
    }
    let mut sub = Cursor::new(&buf[..end], start, true);
    sub.skip_ws();
    let parsed = parser.parse(&mut sub, 1).and_then(|()| {
        sub.skip_ws();
        if sub.pos == end {
            Ok(())
        } else {
            Err(sub.unexpected("unexpected data after the value on this line"))
        }
    });
    match parsed {
        Ok(()) if parser.issues.is_empty() => {
            let from = out.len();
            let deleted = parser.movie.deleted;
            let id = if deleted {
                deletion(&parser.movie, buf, &parser.scratch)
            } else {
                copy::encode(out, &parser.movie, buf, &parser.scratch, 0, 0)
            };
            Judged::Record { id, deleted, tuple: from..out.len() }
        }
        Ok(()) => Judged::Invalid(std::mem::take(&mut parser.issues)),
        Err(Stop::Syntax { at, msg }) => {
            // A bad line is a record error, but invalid UTF-8 anywhere is the file's.
            match std::str::from_utf8(line) {
                Err(e) => Judged::Fatal(Stop::Encoding { at: start + e.valid_up_to() }),
                Ok(_) => Judged::NotJson { column: at - start, msg },
            }
        }
        Err(other) => Judged::Fatal(other),
    }
}

/// A deletion record's identity: its key, and the one content every deletion shares.
fn deletion(movie: &Movie, buf: &[u8], scratch: &[u8]) -> Identity {
    Identity { key: copy::record_key(movie, buf, scratch), content: copy::deletion_content() }
}

const EMPTY: &str = "the file holds no data";
const TOP_LEVEL_KIND: &str =
    "the top-level value must be an array of movies or an object with a 'movies' array";
const MOVIES_KIND: &str = "the top-level 'movies' field must be an array";
const NO_MOVIES: &str = "the top-level object has no 'movies' field";
const REPEATED_TOP: &str = "a top-level field name occurs more than once";

/// Which file error code a syntax stop stands for (some framing rules reuse `Stop::Syntax`).
pub fn syntax_code(msg: &str) -> FileErrorCode {
    match msg {
        EMPTY => FileErrorCode::Empty,
        TOP_LEVEL_KIND | MOVIES_KIND | NO_MOVIES | REPEATED_TOP => FileErrorCode::TopLevel,
        _ => FileErrorCode::Parse,
    }
}

fn pointer(prefix: &str, index: u64, place: &Place) -> String {
    let mut pointer = format!("{prefix}/{index}");
    match place {
        Place::Record => {}
        Place::Field(f) => push_pointer_token(&mut pointer, f.name()),
        Place::Item(f, i) => {
            push_pointer_token(&mut pointer, f.name());
            push_pointer_token(&mut pointer, &i.to_string());
        }
        Place::Name(n) => push_pointer_token(&mut pointer, n),
    }
    pointer
}

fn newlines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

impl Stream {
    /// Record a file error found outside the stream (a corrupt gzip stream).
    pub fn fail_with(&mut self, error: FileError) {
        let _ = self.remember(Err(error));
    }

    /// The line of the first byte not yet consumed.
    pub fn line(&self) -> u64 {
        self.line
    }
}
