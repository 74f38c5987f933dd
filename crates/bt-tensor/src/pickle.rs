//! The strict pickle subset Release 1 used for text: a `list[str]`, nothing else.
//!
//! Release 1 peers put `pickle.dumps(list_of_str)` (protocol 3 or 4) in `Tensor.buffer`.
//! Unpickling arbitrary data executes code, so this module is not an unpickler: it is a parser
//! for the handful of opcodes CPython emits for a list of strings, and every other opcode
//! (`GLOBAL`, `REDUCE`, `BUILD`, ints, dicts, …) is an error naming the opcode and its offset.
//! Nothing is ever called, imported or executed.
//!
//! Accepted opcodes: `PROTO` (2–5, first opcode only), `FRAME`, `EMPTY_LIST`, `MARK`,
//! `BINUNICODE`, `SHORT_BINUNICODE`, `BINUNICODE8`, `MEMOIZE`, `BINPUT`, `LONG_BINPUT`, `BINGET`,
//! `LONG_BINGET` (CPython emits these for a string object that appears twice in the list),
//! `APPEND`, `APPENDS`, `STOP`. The reader is bounded: the string count is capped by
//! [`Limits::max_elements`], the input by [`Limits::max_bytes`], memo indices must be
//! sequential and each object memoized once, right after it was created (as CPython does).
//! Checking a pickle ([`census`]) builds no list: it counts. A list is built only after the
//! census shows it fits [`text_budget`] (twice the pickle's size plus
//! [`Limits::max_text_overhead`]), back-references costing what their strings would: a two-byte
//! `BINGET` of a long string cannot fan out into copies of it.
//!
//! The writer reproduces CPython's `pickle.dumps(list_of_str, protocol)` byte for byte
//! (batches of 1000 `APPENDS`, `BINPUT` memo indices for protocol ≤ 3, 64 KiB frames and
//! unframed large strings for protocol ≥ 4); the golden fixtures check it.

use crate::{Limits, PickleError};

const MARK: u8 = b'(';
const STOP: u8 = b'.';
const BINUNICODE: u8 = b'X';
const APPEND: u8 = b'a';
const APPENDS: u8 = b'e';
const BINGET: u8 = b'h';
const LONG_BINGET: u8 = b'j';
const EMPTY_LIST: u8 = b']';
const BINPUT: u8 = b'q';
const LONG_BINPUT: u8 = b'r';
const PROTO: u8 = 0x80;
const SHORT_BINUNICODE: u8 = 0x8c;
const BINUNICODE8: u8 = 0x8d;
const MEMOIZE: u8 = 0x94;
const FRAME: u8 = 0x95;

/// CPython's `pickle.BATCHSIZE`: items per `MARK … APPENDS` group.
const BATCH_SIZE: usize = 1000;
/// CPython's `_FRAME_SIZE_TARGET`: a frame is closed once it holds this many bytes, and a string
/// at least this long is written outside any frame.
const FRAME_SIZE_TARGET: usize = 64 * 1024;
/// CPython's `_FRAME_SIZE_MIN`: shorter frames get no `FRAME` header.
const FRAME_SIZE_MIN: usize = 4;
const FRAME_HEADER_SIZE: usize = 9;

/// What a pickle holds, found without building its list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TextCensus {
    /// Entries of the list, back-references included.
    pub strings: usize,
    /// UTF-8 bytes of every entry: a back-reference counts its string's length again, as an
    /// owned copy of it would cost.
    pub text_bytes: usize,
}

/// Checks a pickled `list[str]` and counts its strings, allocating nothing: back-references
/// are checked against the memo table's shape (its length, where the list is), not resolved.
pub fn count_strings(bytes: &[u8], limits: &Limits) -> Result<usize, PickleError> {
    let mut counter = Counter::default();
    parse(bytes, limits, &mut counter, Memo::shape())?;
    Ok(counter.census.strings)
}

/// Checks a pickled `list[str]` and measures it without building the list. Allocates only the
/// memo table, sized by a first pass that allocates nothing (four bytes per memoized string;
/// a string is at least three bytes pickled).
pub fn census(bytes: &[u8], limits: &Limits) -> Result<TextCensus, PickleError> {
    let mut counter = Counter::default();
    let memo_len = parse(bytes, limits, &mut counter, Memo::shape())?;
    let mut counter = Counter::default();
    parse(bytes, limits, &mut counter, Memo::table(memo_len))?;
    Ok(counter.census)
}

/// Reads a pickled `list[str]` into owned strings. Refused before anything is built if they
/// would cost more than [`text_budget`] (each string its bytes plus a `String`, back-references
/// included).
pub fn read_str_list(bytes: &[u8], limits: &Limits) -> Result<Vec<String>, PickleError> {
    let found = measure(bytes, limits)?;
    let cost = found
        .0
        .strings
        .saturating_mul(std::mem::size_of::<String>())
        .saturating_add(found.0.text_bytes);
    check_budget(bytes, limits, found.0, cost)?;
    read_checked(bytes, limits, found, str::to_owned)
}

/// Reads a pickled `list[str]`, borrowing every string from `bytes` (no copies). Refused before
/// anything is built if the list would cost more than [`text_budget`].
pub fn read_str_refs<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Vec<&'a str>, PickleError> {
    let mut counter = Counter::default();
    let memo_len = parse(bytes, limits, &mut counter, Memo::shape())?;
    let found = (counter.census, memo_len);
    let cost = found.0.strings.saturating_mul(std::mem::size_of::<&str>());
    check_budget(bytes, limits, found.0, cost)?;
    read_checked(bytes, limits, found, |s| s)
}

/// [`census`], and the memo table's length.
fn measure(bytes: &[u8], limits: &Limits) -> Result<(TextCensus, usize), PickleError> {
    let mut counter = Counter::default();
    let memo_len = parse(bytes, limits, &mut counter, Memo::shape())?;
    let mut counter = Counter::default();
    parse(bytes, limits, &mut counter, Memo::table(memo_len))?;
    Ok((counter.census, memo_len))
}

/// What reading a pickle of `len` bytes may allocate for its strings: twice its size plus
/// [`Limits::max_text_overhead`]. Short strings and back-references cost more decoded than
/// pickled (a one-character string is three bytes pickled, a back-reference two, a `String`
/// alone twenty-four), so without this a peer chooses our memory.
pub fn text_budget(len: usize, limits: &Limits) -> usize {
    len.saturating_mul(2)
        .saturating_add(limits.max_text_overhead)
}

fn check_budget(
    bytes: &[u8],
    limits: &Limits,
    found: TextCensus,
    cost: usize,
) -> Result<(), PickleError> {
    let max = text_budget(bytes.len(), limits);
    if cost > max {
        return Err(PickleError::TooCostly {
            strings: found.strings,
            cost,
            max,
        });
    }
    Ok(())
}

/// The list of a pickle already measured as `found` (its census and memo length, so this parse
/// cannot fail and allocates exactly), each string made into a `T` as it is read.
fn read_checked<'a, T>(
    bytes: &'a [u8],
    limits: &Limits,
    found: (TextCensus, usize),
    make: fn(&'a str) -> T,
) -> Result<Vec<T>, PickleError> {
    let mut collector = Collector {
        strings: Vec::with_capacity(found.0.strings),
        make,
    };
    parse(bytes, limits, &mut collector, Memo::table(found.1))?;
    Ok(collector.strings)
}

/// Runs the parser over `bytes`; the memo table's final length.
fn parse<'a>(
    bytes: &'a [u8],
    limits: &Limits,
    sink: &mut impl Sink<'a>,
    memo: Memo,
) -> Result<usize, PickleError> {
    // Memo entries hold a string's offset in four bytes; the list is marked by `LIST_ENTRY`.
    let max = limits.max_bytes.min(LIST_ENTRY as usize - 1);
    if bytes.len() > max {
        return Err(PickleError::TooLarge {
            len: bytes.len(),
            max,
        });
    }
    Parser {
        input: bytes,
        pos: 0,
        max_strings: limits.max_elements,
        strings: 0,
        list: false,
        pending: 0,
        mark: false,
        fresh: None,
        memo,
        sink,
    }
    .run()
}

/// Where the parser sends the list's strings, in order, as they are pushed (every pushed string
/// is appended before `STOP` or the pickle is refused, so push order is list order).
/// A back-reference checked against the memo's shape alone comes as `None` (no bytes).
trait Sink<'a> {
    fn push(&mut self, offset: usize, s: Option<&'a [u8]>) -> Result<(), PickleError>;
}

#[derive(Default)]
struct Counter {
    census: TextCensus,
}

impl Sink<'_> for Counter {
    fn push(&mut self, _offset: usize, s: Option<&[u8]>) -> Result<(), PickleError> {
        self.census.strings += 1;
        let len = s.map_or(0, <[u8]>::len);
        self.census.text_bytes = self.census.text_bytes.saturating_add(len);
        Ok(())
    }
}

struct Collector<'a, T> {
    strings: Vec<T>,
    make: fn(&'a str) -> T,
}

impl<'a, T> Sink<'a> for Collector<'a, T> {
    fn push(&mut self, offset: usize, s: Option<&'a [u8]>) -> Result<(), PickleError> {
        let Some(s) = s else {
            return Err(PickleError::Malformed {
                offset,
                what: "a back-reference read without its memo table",
            });
        };
        // Validated by the census already; checked again rather than assumed (no `unsafe`),
        // which costs time in proportion to the output the budget allowed.
        let s = std::str::from_utf8(s).map_err(|e| PickleError::InvalidUtf8 {
            offset,
            valid_up_to: e.valid_up_to(),
        })?;
        self.strings.push((self.make)(s));
        Ok(())
    }
}

/// The memo entry of the list itself (a string's entry is its opcode's offset).
const LIST_ENTRY: u32 = u32::MAX;

/// The memo table, or only its shape. Checking a pickle needs the shape alone (how many
/// entries, which one is the list); resolving back-references to their strings needs the
/// table, built on a second pass with its length known from the first, so it never grows.
enum Memo {
    Shape { len: usize, list: Option<usize> },
    Table(Vec<u32>),
}

/// What a memo index refers to.
enum Target {
    Missing,
    List,
    /// A string: its opcode's offset when the table is kept.
    Str(Option<u32>),
}

impl Memo {
    fn shape() -> Self {
        Memo::Shape { len: 0, list: None }
    }

    fn table(len: usize) -> Self {
        Memo::Table(Vec::with_capacity(len))
    }

    fn len(&self) -> usize {
        match self {
            Memo::Shape { len, .. } => *len,
            Memo::Table(t) => t.len(),
        }
    }

    /// Sets entry `i` (`i <= len`; `len` appends).
    fn put(&mut self, i: usize, entry: u32) {
        match self {
            Memo::Shape { len, list } => {
                if entry == LIST_ENTRY {
                    *list = Some(i);
                } else if *list == Some(i) {
                    *list = None;
                }
                *len = (*len).max(i + 1);
            }
            Memo::Table(t) => match t.get_mut(i) {
                Some(slot) => *slot = entry,
                None => t.push(entry),
            },
        }
    }

    fn get(&self, i: usize) -> Target {
        match self {
            Memo::Shape { len, .. } if i >= *len => Target::Missing,
            Memo::Shape { list, .. } if *list == Some(i) => Target::List,
            Memo::Shape { .. } => Target::Str(None),
            Memo::Table(t) => match t.get(i) {
                None => Target::Missing,
                Some(&LIST_ENTRY) => Target::List,
                Some(&at) => Target::Str(Some(at)),
            },
        }
    }
}

/// An object that was just created and may be memoized (once: CPython memoizes each object
/// right after creating it, and nothing else).
#[derive(Clone, Copy)]
enum Fresh {
    List,
    Str(u32),
}

/// The pickle machine's stack, specialised to the only shape we accept:
/// `[list, (mark,) str, str, …]`. Only counts are kept; the strings go to the sink.
struct Parser<'a, 's, S> {
    input: &'a [u8],
    pos: usize,
    max_strings: usize,
    /// Strings pushed so far (appended or pending), back-references included.
    strings: usize,
    /// `EMPTY_LIST` has been seen.
    list: bool,
    /// Strings pushed on the stack above the list, not yet appended.
    pending: usize,
    /// Set between `MARK` and `APPENDS`.
    mark: bool,
    fresh: Option<Fresh>,
    /// One entry per memoized object: at most one per string opcode, plus the list.
    memo: Memo,
    sink: &'s mut S,
}

impl<'a, S: Sink<'a>> Parser<'a, '_, S> {
    fn run(mut self) -> Result<usize, PickleError> {
        loop {
            let offset = self.pos;
            let Some(&op) = self.input.get(offset) else {
                return Err(PickleError::MissingStop { offset });
            };
            self.pos += 1;
            // Only the opcode right after an object's creation may memoize it; a frame header
            // may come between (CPython writes a large string outside any frame).
            let fresh = if op == FRAME {
                self.fresh
            } else {
                self.fresh.take()
            };
            match op {
                PROTO => {
                    let protocol = self.take_u8()?;
                    if offset != 0 {
                        return Err(self.malformed(offset, "PROTO after the first opcode"));
                    }
                    if !(2..=5).contains(&protocol) {
                        return Err(PickleError::UnsupportedProtocol { protocol, offset });
                    }
                }
                FRAME => {
                    let len = self.take_u64()?;
                    let available = self.input.len() - self.pos;
                    if len > available as u64 {
                        return Err(PickleError::Truncated {
                            offset,
                            needed: len,
                            available,
                        });
                    }
                }
                EMPTY_LIST => {
                    if self.list || self.pending != 0 || self.mark {
                        return Err(self.malformed(offset, "a second object besides the list"));
                    }
                    self.list = true;
                    self.fresh = Some(Fresh::List);
                }
                MARK => {
                    if !self.list || self.mark || self.pending != 0 {
                        return Err(self.malformed(offset, "MARK outside the list's APPENDS"));
                    }
                    self.mark = true;
                }
                SHORT_BINUNICODE | BINUNICODE | BINUNICODE8 => {
                    let s = self.string_at(offset)?;
                    std::str::from_utf8(s).map_err(|e| PickleError::InvalidUtf8 {
                        offset,
                        valid_up_to: e.valid_up_to(),
                    })?;
                    self.push_str(offset, Some(s))?;
                    // `parse` refuses inputs whose offsets do not fit in a memo entry.
                    self.fresh = u32::try_from(offset).ok().map(Fresh::Str);
                }
                MEMOIZE => {
                    let index = self.memo.len() as u64;
                    self.memoize(offset, index, fresh)?;
                }
                BINPUT => {
                    let index = u64::from(self.take_u8()?);
                    self.memoize(offset, index, fresh)?;
                }
                LONG_BINPUT => {
                    let index = u64::from(self.take_u32()?);
                    self.memoize(offset, index, fresh)?;
                }
                BINGET => {
                    let index = u64::from(self.take_u8()?);
                    self.memo_get(offset, index)?;
                }
                LONG_BINGET => {
                    let index = u64::from(self.take_u32()?);
                    self.memo_get(offset, index)?;
                }
                APPEND => {
                    if !self.list || self.mark || self.pending != 1 {
                        return Err(
                            self.malformed(offset, "APPEND without exactly one str above the list")
                        );
                    }
                    self.pending = 0;
                }
                APPENDS => {
                    if !self.list || !self.mark {
                        return Err(self.malformed(offset, "APPENDS without a list and a MARK"));
                    }
                    self.mark = false;
                    self.pending = 0;
                }
                STOP => {
                    if self.mark || self.pending != 0 {
                        return Err(
                            self.malformed(offset, "STOP with unappended items on the stack")
                        );
                    }
                    if !self.list {
                        return Err(self.malformed(offset, "STOP before any list"));
                    }
                    let extra = self.input.len() - self.pos;
                    if extra != 0 {
                        return Err(PickleError::TrailingBytes { offset, extra });
                    }
                    return Ok(self.memo.len());
                }
                other => {
                    return Err(PickleError::ForbiddenOpcode {
                        opcode: other,
                        name: opcode_name(other),
                        offset,
                    });
                }
            }
        }
    }

    fn malformed(&self, offset: usize, what: &'static str) -> PickleError {
        PickleError::Malformed { offset, what }
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], PickleError> {
        let available = self.input.len() - self.pos;
        match usize::try_from(n) {
            Ok(n) if n <= available => {
                let s = &self.input[self.pos..self.pos + n];
                self.pos += n;
                Ok(s)
            }
            _ => Err(PickleError::Truncated {
                offset: self.pos,
                needed: n,
                available,
            }),
        }
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], PickleError> {
        let s = self.take(N as u64)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    fn take_u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.take_array::<1>()?[0])
    }

    fn take_u32(&mut self) -> Result<u32, PickleError> {
        Ok(u32::from_le_bytes(self.take_array()?))
    }

    fn take_u64(&mut self) -> Result<u64, PickleError> {
        Ok(u64::from_le_bytes(self.take_array()?))
    }

    /// The bytes of the string whose opcode is at `offset`; leaves `pos` after it.
    fn string_at(&mut self, offset: usize) -> Result<&'a [u8], PickleError> {
        self.pos = offset + 1;
        let len = match self.input.get(offset) {
            Some(&SHORT_BINUNICODE) => u64::from(self.take_u8()?),
            Some(&BINUNICODE) => u64::from(self.take_u32()?),
            Some(&BINUNICODE8) => self.take_u64()?,
            _ => return Err(self.malformed(offset, "a memo entry that is not a str")),
        };
        self.take(len)
    }

    fn push_str(&mut self, offset: usize, s: Option<&'a [u8]>) -> Result<(), PickleError> {
        if !self.list {
            return Err(self.malformed(offset, "a str outside the list"));
        }
        if self.strings >= self.max_strings {
            return Err(PickleError::TooManyStrings {
                max: self.max_strings,
            });
        }
        self.strings += 1;
        self.pending += 1;
        self.sink.push(offset, s)
    }

    fn memoize(
        &mut self,
        offset: usize,
        index: u64,
        fresh: Option<Fresh>,
    ) -> Result<(), PickleError> {
        // CPython memoizes each new object once, right after creating it, numbering entries
        // 0, 1, 2, …: anything else (a second entry for one object, a sparse index) would let a
        // peer grow the memo table without sending strings, so it is refused. The table thus
        // holds at most one entry per string opcode, plus the list.
        let Some(fresh) = fresh else {
            return Err(self.malformed(offset, "nothing new to memoize"));
        };
        let entry = match fresh {
            Fresh::List => LIST_ENTRY,
            Fresh::Str(at) => at,
        };
        let memo_len = self.memo.len();
        match usize::try_from(index) {
            // Re-putting an existing index is what CPython's unpickler allows too.
            Ok(i) if i <= memo_len => self.memo.put(i, entry),
            _ => {
                return Err(PickleError::BadMemo {
                    offset,
                    index,
                    memo_len,
                });
            }
        }
        Ok(())
    }

    fn memo_get(&mut self, offset: usize, index: u64) -> Result<(), PickleError> {
        let memo_len = self.memo.len();
        let target = usize::try_from(index).map_or(Target::Missing, |i| self.memo.get(i));
        match target {
            Target::List => Err(self.malformed(offset, "the list refers to itself")),
            Target::Str(None) => self.push_str(offset, None),
            Target::Str(Some(at)) => {
                let resume = self.pos;
                let s = self.string_at(at as usize)?;
                self.pos = resume;
                self.push_str(offset, Some(s))
            }
            Target::Missing => Err(PickleError::BadMemo {
                offset,
                index,
                memo_len,
            }),
        }
    }
}

/// Pickles `strings` exactly as CPython's `pickle.dumps(strings, protocol)` does.
///
/// `protocol` is clamped to 2..=5; 2 and 3 produce the same opcodes (BINPUT memo, no frames),
/// 4 and 5 the same (MEMOIZE, SHORT_BINUNICODE, frames). Release 1 used 3.
pub fn write_str_list<S: AsRef<str>>(strings: &[S], protocol: u8) -> Vec<u8> {
    let protocol = protocol.clamp(2, 5);
    let payload: usize = strings.iter().map(|s| s.as_ref().len() + 10).sum();
    let mut w = Writer {
        out: Vec::with_capacity(payload + 32),
        framing: false,
        frame_start: None,
        memo_len: 0,
        proto4: protocol >= 4,
        singletons: [None; 257],
    };
    w.write(&[PROTO, protocol]);
    w.framing = w.proto4;

    w.opcode_boundary();
    w.write(&[EMPTY_LIST]);
    w.memoize();
    if let [only] = strings {
        w.save_str(only.as_ref());
        w.write(&[APPEND]);
    } else {
        for batch in strings.chunks(BATCH_SIZE) {
            w.write(&[MARK]);
            for s in batch {
                w.save_str(s.as_ref());
            }
            w.write(&[APPENDS]);
        }
    }
    w.write(&[STOP]);
    w.commit_frame();
    w.out
}

/// Mirrors the framing logic of CPython's `_pickle.c` so the output is byte-identical.
struct Writer {
    out: Vec<u8>,
    framing: bool,
    frame_start: Option<usize>,
    memo_len: u64,
    proto4: bool,
    /// Memo indices of the strings CPython keeps as shared singletons (the empty string and
    /// every one-character Latin-1 string): their repeats are pickled as `BINGET`. Slot 256 is
    /// the empty string.
    singletons: [Option<u64>; 257],
}

impl Writer {
    fn write(&mut self, data: &[u8]) {
        if self.framing && self.frame_start.is_none() {
            self.frame_start = Some(self.out.len());
            self.out.extend_from_slice(&[0u8; FRAME_HEADER_SIZE]);
        }
        self.out.extend_from_slice(data);
    }

    fn commit_frame(&mut self) {
        if !self.framing {
            return;
        }
        let Some(start) = self.frame_start.take() else {
            return;
        };
        let frame_len = self.out.len() - start - FRAME_HEADER_SIZE;
        if frame_len >= FRAME_SIZE_MIN {
            self.out[start] = FRAME;
            self.out[start + 1..start + FRAME_HEADER_SIZE]
                .copy_from_slice(&(frame_len as u64).to_le_bytes());
        } else {
            self.out.drain(start..start + FRAME_HEADER_SIZE);
        }
    }

    fn opcode_boundary(&mut self) {
        if let (true, Some(start)) = (self.framing, self.frame_start)
            && self.out.len() - start - FRAME_HEADER_SIZE >= FRAME_SIZE_TARGET
        {
            self.commit_frame();
        }
    }

    fn memoize(&mut self) {
        if self.proto4 {
            self.write(&[MEMOIZE]);
        } else if let Ok(i) = u8::try_from(self.memo_len) {
            self.write(&[BINPUT, i]);
        } else {
            // CPython stores memo indices as C longs but LONG_BINPUT holds 4 bytes; a list of
            // 2^32 strings is far beyond any limit, so truncation cannot occur in practice.
            let i = (self.memo_len as u32).to_le_bytes();
            self.write(&[LONG_BINPUT, i[0], i[1], i[2], i[3]]);
        }
        self.memo_len += 1;
    }

    fn save_str(&mut self, s: &str) {
        self.opcode_boundary();
        let singleton = singleton_slot(s);
        if let Some(index) = singleton.and_then(|slot| self.singletons[slot]) {
            if let Ok(i) = u8::try_from(index) {
                self.write(&[BINGET, i]);
            } else {
                let i = (index as u32).to_le_bytes();
                self.write(&[LONG_BINGET, i[0], i[1], i[2], i[3]]);
            }
            return;
        }
        if let Some(slot) = singleton {
            self.singletons[slot] = Some(self.memo_len);
        }
        let data = s.as_bytes();
        let len = data.len();
        let mut header = [0u8; 9];
        let header: &[u8] = if self.proto4 && len <= 0xff {
            header[0] = SHORT_BINUNICODE;
            header[1] = len as u8;
            &header[..2]
        } else if let Ok(len32) = u32::try_from(len) {
            header[0] = BINUNICODE;
            header[1..5].copy_from_slice(&len32.to_le_bytes());
            &header[..5]
        } else {
            header[0] = BINUNICODE8;
            header[1..9].copy_from_slice(&(len as u64).to_le_bytes());
            &header[..9]
        };
        // Large payloads go outside any frame, as CPython's `_Pickler_write_bytes` does.
        let bypass = len >= FRAME_SIZE_TARGET;
        let framing = self.framing;
        if bypass {
            self.commit_frame();
            self.framing = false;
        }
        self.write(header);
        self.write(data);
        self.framing = framing;
        self.memoize();
    }
}

/// The singleton-table slot of `s` if CPython shares one object for every occurrence of it.
fn singleton_slot(s: &str) -> Option<usize> {
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (None, _) => Some(256),
        (Some(c), None) if (c as u32) < 256 => Some(c as usize),
        _ => None,
    }
}

/// The name of every pickle opcode (protocols 0–5), for error messages.
pub fn opcode_name(op: u8) -> &'static str {
    match op {
        b'(' => "MARK",
        b'.' => "STOP",
        b'0' => "POP",
        b'1' => "POP_MARK",
        b'2' => "DUP",
        b'F' => "FLOAT",
        b'I' => "INT",
        b'J' => "BININT",
        b'K' => "BININT1",
        b'L' => "LONG",
        b'M' => "BININT2",
        b'N' => "NONE",
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        b'R' => "REDUCE",
        b'S' => "STRING",
        b'T' => "BINSTRING",
        b'U' => "SHORT_BINSTRING",
        b'V' => "UNICODE",
        b'X' => "BINUNICODE",
        b'a' => "APPEND",
        b'b' => "BUILD",
        b'c' => "GLOBAL",
        b'd' => "DICT",
        b'}' => "EMPTY_DICT",
        b'e' => "APPENDS",
        b'g' => "GET",
        b'h' => "BINGET",
        b'i' => "INST",
        b'j' => "LONG_BINGET",
        b'l' => "LIST",
        b']' => "EMPTY_LIST",
        b'o' => "OBJ",
        b'p' => "PUT",
        b'q' => "BINPUT",
        b'r' => "LONG_BINPUT",
        b's' => "SETITEM",
        b't' => "TUPLE",
        b')' => "EMPTY_TUPLE",
        b'u' => "SETITEMS",
        b'G' => "BINFLOAT",
        b'B' => "BINBYTES",
        b'C' => "SHORT_BINBYTES",
        0x80 => "PROTO",
        0x81 => "NEWOBJ",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        0x85 => "TUPLE1",
        0x86 => "TUPLE2",
        0x87 => "TUPLE3",
        0x88 => "NEWTRUE",
        0x89 => "NEWFALSE",
        0x8a => "LONG1",
        0x8b => "LONG4",
        0x8c => "SHORT_BINUNICODE",
        0x8d => "BINUNICODE8",
        0x8e => "BINBYTES8",
        0x8f => "EMPTY_SET",
        0x90 => "ADDITEMS",
        0x91 => "FROZENSET",
        0x92 => "NEWOBJ_EX",
        0x93 => "STACK_GLOBAL",
        0x94 => "MEMOIZE",
        0x95 => "FRAME",
        0x96 => "BYTEARRAY8",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        _ => "not a pickle opcode",
    }
}
