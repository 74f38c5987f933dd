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
//! sequential, and strings are borrowed from the input, so memory stays proportional to it.
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

/// Reads a pickled `list[str]` into owned strings.
pub fn read_str_list(bytes: &[u8], limits: &Limits) -> Result<Vec<String>, PickleError> {
    Ok(read_str_refs(bytes, limits)?
        .into_iter()
        .map(str::to_owned)
        .collect())
}

/// Reads a pickled `list[str]`, borrowing every string from `bytes` (no copies).
pub fn read_str_refs<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Vec<&'a str>, PickleError> {
    if bytes.len() > limits.max_bytes {
        return Err(PickleError::TooLarge {
            len: bytes.len(),
            max: limits.max_bytes,
        });
    }
    Parser {
        input: bytes,
        pos: 0,
        max_strings: limits.max_elements,
        list: None,
        pending: Vec::new(),
        mark: None,
        memo: Vec::new(),
    }
    .run()
}

#[derive(Clone, Copy)]
enum MemoEntry<'a> {
    List,
    Str(&'a str),
}

/// The pickle machine's stack, specialised to the only shape we accept:
/// `[list, (mark,) str, str, …]`.
struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    max_strings: usize,
    /// The list's items so far, once `EMPTY_LIST` has been seen.
    list: Option<Vec<&'a str>>,
    /// Strings pushed on the stack above the list, not yet appended.
    pending: Vec<&'a str>,
    /// Set between `MARK` and `APPENDS`.
    mark: Option<usize>,
    memo: Vec<MemoEntry<'a>>,
}

impl<'a> Parser<'a> {
    fn run(mut self) -> Result<Vec<&'a str>, PickleError> {
        loop {
            let offset = self.pos;
            let Some(&op) = self.input.get(offset) else {
                return Err(PickleError::MissingStop { offset });
            };
            self.pos += 1;
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
                    if self.list.is_some() || !self.pending.is_empty() || self.mark.is_some() {
                        return Err(self.malformed(offset, "a second object besides the list"));
                    }
                    self.list = Some(Vec::new());
                }
                MARK => {
                    if self.list.is_none() || self.mark.is_some() || !self.pending.is_empty() {
                        return Err(self.malformed(offset, "MARK outside the list's APPENDS"));
                    }
                    self.mark = Some(self.pending.len());
                }
                SHORT_BINUNICODE => {
                    let len = u64::from(self.take_u8()?);
                    self.string(offset, len)?;
                }
                BINUNICODE => {
                    let len = u64::from(self.take_u32()?);
                    self.string(offset, len)?;
                }
                BINUNICODE8 => {
                    let len = self.take_u64()?;
                    self.string(offset, len)?;
                }
                MEMOIZE => {
                    let index = self.memo.len() as u64;
                    self.memoize(offset, index)?;
                }
                BINPUT => {
                    let index = u64::from(self.take_u8()?);
                    self.memoize(offset, index)?;
                }
                LONG_BINPUT => {
                    let index = u64::from(self.take_u32()?);
                    self.memoize(offset, index)?;
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
                    if self.mark.is_some() || self.pending.len() != 1 {
                        return Err(
                            self.malformed(offset, "APPEND without exactly one str above the list")
                        );
                    }
                    let (Some(list), Some(item)) = (self.list.as_mut(), self.pending.pop()) else {
                        return Err(self.malformed(offset, "APPEND without a list"));
                    };
                    list.push(item);
                }
                APPENDS => {
                    let (Some(list), Some(_)) = (self.list.as_mut(), self.mark.take()) else {
                        return Err(self.malformed(offset, "APPENDS without a list and a MARK"));
                    };
                    list.append(&mut self.pending);
                }
                STOP => {
                    if self.mark.is_some() || !self.pending.is_empty() {
                        return Err(
                            self.malformed(offset, "STOP with unappended items on the stack")
                        );
                    }
                    let Some(list) = self.list.take() else {
                        return Err(self.malformed(offset, "STOP before any list"));
                    };
                    let extra = self.input.len() - self.pos;
                    if extra != 0 {
                        return Err(PickleError::TrailingBytes { offset, extra });
                    }
                    return Ok(list);
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

    fn push_str(&mut self, offset: usize, s: &'a str) -> Result<(), PickleError> {
        if self.list.is_none() {
            return Err(self.malformed(offset, "a str outside the list"));
        }
        let count = self.list.as_ref().map_or(0, Vec::len) + self.pending.len();
        if count >= self.max_strings {
            return Err(PickleError::TooManyStrings {
                max: self.max_strings,
            });
        }
        self.pending.push(s);
        Ok(())
    }

    fn string(&mut self, offset: usize, len: u64) -> Result<(), PickleError> {
        let raw = self.take(len)?;
        let s = std::str::from_utf8(raw).map_err(|e| PickleError::InvalidUtf8 {
            offset,
            valid_up_to: e.valid_up_to(),
        })?;
        self.push_str(offset, s)
    }

    fn memoize(&mut self, offset: usize, index: u64) -> Result<(), PickleError> {
        let entry = if let Some(&s) = self.pending.last() {
            MemoEntry::Str(s)
        } else if self.list.is_some() && self.mark.is_none() {
            MemoEntry::List
        } else {
            return Err(self.malformed(offset, "nothing to memoize"));
        };
        // CPython numbers memo entries 0, 1, 2, …; anything else would let a peer make us
        // allocate a huge sparse table, so it is refused.
        let memo_len = self.memo.len();
        match usize::try_from(index) {
            Ok(i) if i < memo_len => self.memo[i] = entry,
            Ok(i) if i == memo_len => self.memo.push(entry),
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
        let entry = usize::try_from(index)
            .ok()
            .and_then(|i| self.memo.get(i).copied());
        match entry {
            Some(MemoEntry::Str(s)) => self.push_str(offset, s),
            Some(MemoEntry::List) => Err(self.malformed(offset, "the list refers to itself")),
            None => Err(PickleError::BadMemo {
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
