//! Python's `str()` and `repr()` of JSON-shaped values, byte for byte.
//!
//! The SDK's body hash is `sha3(str(value))` of each hashed field as pydantic's `model_dump()`
//! returns it, so a dendrite and an axon written in different languages agree on a hash only if
//! both render values exactly as CPython 3 does: `'` or `"` quoting chosen by content, escapes
//! for non-printable characters, `True`/`None`, floats in their shortest round-trip form with
//! Python's switch to exponent notation.

use serde_json::Value;
use unicode_general_category::{GeneralCategory, get_general_category};

/// A value that Python would render: the top level of `str(x)` differs from `repr(x)` only for
/// strings (no quotes), which is why both exist.
pub trait PyRender {
    /// Append `repr(self)`.
    fn py_repr(&self, out: &mut String);

    /// Append `str(self)`.
    fn py_str(&self, out: &mut String) {
        self.py_repr(out)
    }
}

/// `str(value)` as a new string.
pub fn py_str<T: PyRender + ?Sized>(value: &T) -> String {
    let mut out = String::new();
    value.py_str(&mut out);
    out
}

impl PyRender for str {
    fn py_repr(&self, out: &mut String) {
        repr_str(self, out)
    }
    fn py_str(&self, out: &mut String) {
        out.push_str(self)
    }
}

impl PyRender for String {
    fn py_repr(&self, out: &mut String) {
        repr_str(self, out)
    }
    fn py_str(&self, out: &mut String) {
        out.push_str(self)
    }
}

impl PyRender for bool {
    fn py_repr(&self, out: &mut String) {
        out.push_str(if *self { "True" } else { "False" })
    }
}

macro_rules! int_render {
    ($($t:ty),*) => {$(
        impl PyRender for $t {
            fn py_repr(&self, out: &mut String) {
                use std::fmt::Write;
                let _ = write!(out, "{self}");
            }
        }
    )*};
}
int_render!(i8, i16, i32, i64, u8, u16, u32, u64, usize, isize);

impl PyRender for f64 {
    fn py_repr(&self, out: &mut String) {
        repr_float(*self, out)
    }
}

impl PyRender for f32 {
    fn py_repr(&self, out: &mut String) {
        // pydantic stores a Python float (a double): the value widened exactly.
        repr_float(f64::from(*self), out)
    }
}

impl<T: PyRender> PyRender for Option<T> {
    fn py_repr(&self, out: &mut String) {
        match self {
            Some(v) => v.py_repr(out),
            None => out.push_str("None"),
        }
    }
    fn py_str(&self, out: &mut String) {
        match self {
            Some(v) => v.py_str(out),
            None => out.push_str("None"),
        }
    }
}

impl<T: PyRender> PyRender for Vec<T> {
    fn py_repr(&self, out: &mut String) {
        self.as_slice().py_repr(out)
    }
}

impl<T: PyRender> PyRender for [T] {
    fn py_repr(&self, out: &mut String) {
        out.push('[');
        for (i, v) in self.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            v.py_repr(out);
        }
        out.push(']');
    }
}

impl PyRender for Value {
    fn py_repr(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("None"),
            Value::Bool(b) => b.py_repr(out),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    i.py_repr(out)
                } else if let Some(u) = n.as_u64() {
                    u.py_repr(out)
                } else if let Some(f) = n.as_f64() {
                    repr_float(f, out)
                }
            }
            Value::String(s) => repr_str(s, out),
            Value::Array(items) => items.py_repr(out),
            Value::Object(map) => {
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    repr_str(k, out);
                    out.push_str(": ");
                    v.py_repr(out);
                }
                out.push('}');
            }
        }
    }
    fn py_str(&self, out: &mut String) {
        match self {
            Value::String(s) => out.push_str(s),
            other => other.py_repr(out),
        }
    }
}

/// CPython's `unicode_repr`: quote with `'` unless the text holds `'` and no `"`.
pub fn repr_str(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.reserve(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x7f && (c as u32) >= 0x20 => out.push(c),
            c if is_printable(c) => out.push(c),
            c => {
                use std::fmt::Write;
                let cp = c as u32;
                let _ = if cp < 0x100 {
                    write!(out, "\\x{cp:02x}")
                } else if cp < 0x1_0000 {
                    write!(out, "\\u{cp:04x}")
                } else {
                    write!(out, "\\U{cp:08x}")
                };
            }
        }
    }
    out.push(quote);
}

/// `str.isprintable()` for one character: everything except the "Other" and "Separator"
/// categories, the ASCII space being the one separator that prints.
fn is_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    !matches!(
        get_general_category(c),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::Surrogate
            | GeneralCategory::PrivateUse
            | GeneralCategory::Unassigned
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::SpaceSeparator
    )
}

/// `repr(float)`: the shortest digits that round-trip, in fixed notation when the decimal
/// exponent is in `-4..16`, else `d.ddde±XX` with at least two exponent digits.
pub fn repr_float(x: f64, out: &mut String) {
    use std::fmt::Write;
    if x.is_nan() {
        out.push_str("nan");
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "inf" } else { "-inf" });
        return;
    }
    // Rust's `{:e}` gives the same shortest round-trip digits as CPython's dtoa (mode 0).
    let sci = format!("{x:e}");
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (sci.as_str(), 0),
    };
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if negative {
        out.push('-');
    }
    // Python's decpt is the position of the decimal point relative to the digits.
    let decpt = exp + 1;
    if (-4 < decpt) && (decpt <= 16) {
        if decpt <= 0 {
            out.push_str("0.");
            for _ in 0..(-decpt) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let d = decpt as usize;
            if digits.len() <= d {
                out.push_str(&digits);
                for _ in digits.len()..d {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                out.push_str(&digits[..d]);
                out.push('.');
                out.push_str(&digits[d..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = decpt - 1;
        let _ = write!(out, "e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn repr_f(x: f64) -> String {
        let mut s = String::new();
        repr_float(x, &mut s);
        s
    }

    fn repr(v: &Value) -> String {
        let mut s = String::new();
        v.py_repr(&mut s);
        s
    }

    // Expected strings are what CPython 3.11 prints for `repr(x)`.
    #[test]
    fn floats_match_cpython() {
        for (x, want) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (12.0, "12.0"),
            (0.1, "0.1"),
            (1.5, "1.5"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.2345e16, "1.2345e+16"),
            (123456789.125, "123456789.125"),
            (1e300, "1e+300"),
            (5e-324, "5e-324"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (-2.5, "-2.5"),
            (1.0 / 3.0, "0.3333333333333333"),
        ] {
            assert_eq!(repr_f(x), want, "repr({x:e})");
        }
    }

    #[test]
    fn strings_match_cpython() {
        for (s, want) in [
            ("hi", "'hi'"),
            ("it's", "\"it's\""),
            ("a'b\"c", "'a\\'b\"c'"),
            ("say \"x\"", "'say \"x\"'"),
            ("tab\tnl\ncr\r", "'tab\\tnl\\ncr\\r'"),
            ("back\\slash", "'back\\\\slash'"),
            ("\u{7f}\u{0}", "'\\x7f\\x00'"),
            ("\u{a0}\u{ad}é", "'\\xa0\\xadé'"),
            ("\u{2028}\u{200b}", "'\\u2028\\u200b'"),
            ("日本語", "'日本語'"),
            ("\u{1F600}", "'\u{1F600}'"),
            ("\u{F0000}", "'\\U000f0000'"),
        ] {
            let mut out = String::new();
            repr_str(s, &mut out);
            assert_eq!(out, want, "repr({s:?})");
        }
    }

    #[test]
    fn containers_match_cpython() {
        let v = json!({"roles": ["user", "assistant"], "n": [1, 2.5, null, true], "d": {}});
        assert_eq!(
            repr(&v),
            "{'roles': ['user', 'assistant'], 'n': [1, 2.5, None, True], 'd': {}}"
        );
        assert_eq!(py_str(&json!("plain")), "plain");
        assert_eq!(py_str(&json!(["plain"])), "['plain']");
        assert_eq!(py_str(&Some(7i64)), "7");
        assert_eq!(py_str(&None::<i64>), "None");
        assert_eq!(py_str(&vec!["a".to_string()]), "['a']");
        assert_eq!(
            py_str(&json!(18446744073709551615u64)),
            "18446744073709551615"
        );
    }
}
