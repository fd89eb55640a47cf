//! The forms a value takes when it leaks: as written, JSON-escaped,
//! URL-encoded, base64 (standard and URL-safe, padded or not, and inside a
//! longer base64 stream), and each line of a multi-line value.

use serde::Serialize;

/// Values (and lines) shorter than this are not searched: they would match
/// everywhere. The same threshold as the weak-mask warning.
pub const MIN_LEN: usize = crate::validate::WEAK_MASK_LEN;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Form {
    Exact,
    /// One line of a multi-line value (a PEM body line).
    Line,
    Base64,
    Base64Url,
    UrlEncoded,
    JsonEscaped,
}

impl Form {
    pub fn describe(self) -> &'static str {
        match self {
            Form::Exact => "as is",
            Form::Line => "a line of it",
            Form::Base64 => "base64",
            Form::Base64Url => "URL-safe base64",
            Form::UrlEncoded => "URL-encoded",
            Form::JsonEscaped => "JSON-escaped",
        }
    }
}

/// Every searchable form of `value`, each at least [`MIN_LEN`] bytes.
pub fn forms(value: &str) -> Vec<(Form, Vec<u8>)> {
    let mut out: Vec<(Form, Vec<u8>)> = Vec::new();
    let mut add = |form, bytes: Vec<u8>| {
        if bytes.len() >= MIN_LEN && !out.iter().any(|(_, b)| *b == bytes) {
            out.push((form, bytes));
        }
    };
    // The value as handed in, and without surrounding whitespace (a stray
    // newline in the secret is not in the file).
    for v in [value.trim(), value] {
        add(Form::Exact, v.as_bytes().to_vec());
        // serde_json always quotes a string; the escaped text is between.
        let json = serde_json::to_string(v).unwrap_or_default();
        add(Form::JsonEscaped, json.get(1..json.len().saturating_sub(1)).unwrap_or_default().as_bytes().to_vec());
        let url = crate::http::encode(v);
        add(Form::UrlEncoded, url.to_ascii_lowercase_hex().into_bytes());
        add(Form::UrlEncoded, url.into_bytes());
        for (form, alphabet) in [(Form::Base64, STD), (Form::Base64Url, URL_SAFE)] {
            for align in 0..3 {
                add(form, base64_core(v.as_bytes(), align, alphabet).into_bytes());
            }
        }
    }
    if value.trim().contains('\n') {
        for line in value.lines().map(str::trim) {
            // PEM armour (`-----BEGIN …-----`) is public text, not the secret.
            if !line.starts_with("-----") {
                add(Form::Line, line.as_bytes().to_vec());
            }
        }
    }
    out
}

trait LowerHex {
    fn to_ascii_lowercase_hex(&self) -> String;
}

impl LowerHex for String {
    /// `%2F` → `%2f`: encoders differ in the case of their hex digits.
    fn to_ascii_lowercase_hex(&self) -> String {
        let mut out = String::with_capacity(self.len());
        let mut hex_left = 0;
        for c in self.chars() {
            if c == '%' {
                hex_left = 2;
                out.push(c);
            } else if hex_left > 0 {
                hex_left -= 1;
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        out
    }
}

const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The base64 characters that depend on `v` alone when `v` starts `align`
/// bytes (0, 1 or 2) after a 3-byte boundary of a longer stream: the first
/// characters straddle the bytes before it and the last one the bytes after,
/// so both are dropped. Alignment 0 is also a prefix of `v`'s own encoding,
/// padded or not, so the three cover every place `v` can sit in any base64.
pub fn base64_core(v: &[u8], align: usize, alphabet: &[u8; 64]) -> String {
    let mut bytes = vec![0u8; align];
    bytes.extend_from_slice(v);
    let full_bits = bytes.len() * 8;
    let mut out = String::new();
    // Character i covers bits [6i, 6i+6); keep those entirely within `v`.
    let first = (align * 8).div_ceil(6);
    let last = full_bits / 6; // exclusive: the partial last character is dropped
    for i in first..last {
        let bit = i * 6;
        let (byte, off) = (bit / 8, bit % 8);
        let hi = u16::from(bytes[byte]) << 8 | u16::from(*bytes.get(byte + 1).unwrap_or(&0));
        let idx = (hi >> (10 - off)) & 63;
        out.push(alphabet[idx as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_cores_are_found_at_every_alignment() {
        let v = b"sk-live-0123456789abcdef";
        for prefix in ["", "a", "ab", "abc", "abcd"] {
            for suffix in ["", "x", "xy", "xyz"] {
                let stream = [prefix.as_bytes(), v, suffix.as_bytes()].concat();
                let enc = crate::util::b64(&stream);
                let hit = (0..3).any(|a| enc.contains(&base64_core(v, a, STD)));
                assert!(hit, "prefix {prefix:?} suffix {suffix:?}: {enc}");
            }
        }
        // Alignment 0 is a prefix of the value's own padded encoding.
        assert!(crate::util::b64(v).starts_with(&base64_core(v, 0, STD)));
    }

    #[test]
    fn forms_of_a_value() {
        let f = forms("a b/c\"d+e=f");
        let has = |form, s: &str| f.iter().any(|(x, b)| *x == form && b == s.as_bytes());
        assert!(has(Form::Exact, "a b/c\"d+e=f"));
        assert!(has(Form::JsonEscaped, "a b/c\\\"d+e=f"));
        assert!(has(Form::UrlEncoded, "a%20b%2Fc%22d%2Be%3Df"));
        assert!(has(Form::UrlEncoded, "a%20b%2fc%22d%2be%3df"));
        let pem = "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf\n-----END KEY-----\n";
        let f = forms(pem);
        assert!(f.iter().any(|(x, b)| *x == Form::Line && b.starts_with(b"MIIBOg")));
        assert!(!f.iter().any(|(x, b)| *x == Form::Line && b.starts_with(b"-----")));
        assert!(f.iter().all(|(_, b)| b.len() >= MIN_LEN));
    }
}
