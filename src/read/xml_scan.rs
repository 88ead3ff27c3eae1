//! A minimal pull tokenizer for the machine-written XML of worksheet and
//! shared-string parts.
//!
//! quick-xml is general: it validates and copies every event into a buffer
//! and decodes names and attributes as text. Spreadsheet cell data is a few
//! element kinds repeated millions of times, and on a 200,000-row sheet that
//! generality was most of the reading time. This tokenizer only splits the
//! inflated stream into tags and text, in place, and leaves meaning to the
//! caller. It refuses what Excel never writes in these parts (a document
//! type declaration, hence no entity definitions) and checks that text is
//! UTF-8. Other parts (workbook, relationships, styles) still go through
//! quick-xml.

use std::io::Read;

/// One piece of the document. Names are local names (any `x:` prefix is
/// dropped); attributes and text are raw bytes, entities not yet decoded.
#[derive(Debug, PartialEq)]
pub(crate) enum Tok<'a> {
    Open {
        name: &'a [u8],
        attrs: &'a [u8],
        /// `<x/>`: no content and no separate end tag follows.
        empty: bool,
    },
    Close {
        name: &'a [u8],
    },
    Text(&'a [u8]),
    CData(&'a [u8]),
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub(crate) enum ScanError {
    #[error("the XML ends inside a tag")]
    Truncated,
    #[error("an XML tag longer than {0} bytes")]
    TooLong(usize),
    #[error("a document type declaration (Excel never writes one)")]
    Dtd,
    #[error("text that is not UTF-8")]
    NotUtf8,
    #[error("unknown entity &{0};")]
    Entity(String),
    #[error("reading the part: {0}")]
    Io(String),
}

const CHUNK: usize = 1 << 16;

pub(crate) struct Scanner<R: Read> {
    src: R,
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
    max_token: usize,
}

enum Kind {
    Skip,
    Open { name: (usize, usize), empty: bool },
    Close,
    Text,
    CData,
}

fn local(name: &[u8]) -> &[u8] {
    match memchr::memchr(b':', name) {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

/// End (index of `>`) of the tag that starts `s`, skipping quoted values.
fn tag_end(s: &[u8]) -> Option<usize> {
    let mut i = 1;
    loop {
        let j = i + memchr::memchr3(b'>', b'"', b'\'', &s[i..])?;
        if s[j] == b'>' {
            return Some(j);
        }
        let q = s[j];
        i = j + 1 + memchr::memchr(q, &s[j + 1..])? + 1;
    }
}

impl<R: Read> Scanner<R> {
    pub fn new(src: R) -> Self {
        Scanner {
            src,
            buf: Vec::with_capacity(CHUNK * 2),
            pos: 0,
            eof: false,
            max_token: 64 << 20,
        }
    }

    /// Drops what was consumed and reads more; false at the end of input.
    fn fill(&mut self) -> Result<bool, ScanError> {
        if self.eof {
            return Ok(false);
        }
        self.buf.drain(..self.pos);
        self.pos = 0;
        let len = self.buf.len();
        self.buf.resize(len + CHUNK, 0);
        let n = loop {
            match self.src.read(&mut self.buf[len..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ScanError::Io(e.to_string())),
            }
        };
        self.buf.truncate(len + n);
        if n == 0 {
            self.eof = true;
        }
        Ok(n > 0)
    }

    /// The next token, `None` at the end of the document.
    pub(crate) fn next_tok(&mut self) -> Result<Option<Tok<'_>>, ScanError> {
        let (start, end, kind) = loop {
            let avail = &self.buf[self.pos..];
            if avail.is_empty() {
                if !self.fill()? {
                    return Ok(None);
                }
                continue;
            }
            if avail[0] != b'<' {
                match memchr::memchr(b'<', avail) {
                    Some(n) => break (self.pos, self.pos + n, Kind::Text),
                    None if self.eof => break (self.pos, self.buf.len(), Kind::Text),
                    None => {
                        self.grow_or_fail(avail.len())?;
                        continue;
                    }
                }
            }
            if avail.len() < 9 && !self.eof && (avail.len() < 2 || avail[1] == b'!') {
                // not yet enough to tell a comment or CDATA from a declaration
                self.fill()?;
                continue;
            }
            let found = if avail.starts_with(b"<!--") {
                memchr::memmem::find(&avail[4..], b"-->").map(|n| (n + 7, Kind::Skip))
            } else if avail.starts_with(b"<![CDATA[") {
                memchr::memmem::find(&avail[9..], b"]]>").map(|n| (n + 12, Kind::CData))
            } else if avail.starts_with(b"<?") {
                memchr::memmem::find(&avail[2..], b"?>").map(|n| (n + 4, Kind::Skip))
            } else if avail.starts_with(b"<!") {
                return Err(ScanError::Dtd);
            } else if avail.len() < 2 {
                None
            } else {
                tag_end(avail).map(|n| {
                    if avail[1] == b'/' {
                        (n + 1, Kind::Close)
                    } else {
                        let empty = avail[n - 1] == b'/';
                        let inner = &avail[1..if empty { n - 1 } else { n }];
                        let name_len = inner
                            .iter()
                            .position(|b| b.is_ascii_whitespace())
                            .unwrap_or(inner.len());
                        (
                            n + 1,
                            Kind::Open {
                                name: (1, 1 + name_len),
                                empty,
                            },
                        )
                    }
                })
            };
            match found {
                Some((n, Kind::Skip)) => self.pos += n,
                Some((n, kind)) => break (self.pos, self.pos + n, kind),
                None if self.eof => return Err(ScanError::Truncated),
                None => self.grow_or_fail(avail.len())?,
            }
        };
        self.pos = end;
        let s = &self.buf[start..end];
        Ok(Some(match kind {
            Kind::Text => Tok::Text(s),
            Kind::CData => Tok::CData(&s[9..s.len() - 3]),
            Kind::Close => Tok::Close {
                name: local(s[2..s.len() - 1].trim_ascii()),
            },
            Kind::Open { name, empty } => Tok::Open {
                name: local(&s[name.0..name.1]),
                attrs: &s[name.1..s.len() - if empty { 2 } else { 1 }],
                empty,
            },
            Kind::Skip => unreachable!("skipped tokens are not returned"),
        }))
    }

    fn grow_or_fail(&mut self, pending: usize) -> Result<(), ScanError> {
        if pending > self.max_token {
            return Err(ScanError::TooLong(self.max_token));
        }
        self.fill()?;
        Ok(())
    }

    /// Skips to the end of the element whose start tag (`name`) was just read.
    pub(crate) fn skip_element(&mut self, name: &[u8]) -> Result<(), ScanError> {
        let name = name.to_vec();
        let mut depth = 1usize;
        while depth > 0 {
            match self.next_tok()? {
                Some(Tok::Open {
                    name: n,
                    empty: false,
                    ..
                }) if n == name.as_slice() => depth += 1,
                Some(Tok::Close { name: n }) if n == name.as_slice() => depth -= 1,
                Some(_) => {}
                None => return Err(ScanError::Truncated),
            }
        }
        Ok(())
    }
}

/// The attributes of a start tag as (local name, raw value) pairs.
pub(crate) fn attrs(mut s: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    std::iter::from_fn(move || {
        let eq = memchr::memchr(b'=', s)?;
        let key = local(s[..eq].trim_ascii());
        let rest = s[eq + 1..].trim_ascii_start();
        let q = *rest.first()?;
        if q != b'"' && q != b'\'' {
            return None;
        }
        let close = memchr::memchr(q, &rest[1..])?;
        let value = &rest[1..1 + close];
        s = &rest[close + 2..];
        Some((key, value))
    })
}

/// Appends XML text to `out`: checks UTF-8, decodes entities and character
/// references, and turns `\r\n` and `\r` into `\n` as XML 1.0 requires.
pub(crate) fn push_text(raw: &[u8], out: &mut String) -> Result<(), ScanError> {
    let s = std::str::from_utf8(raw).map_err(|_| ScanError::NotUtf8)?;
    if memchr::memchr2(b'&', b'\r', raw).is_none() {
        out.push_str(s);
        return Ok(());
    }
    let mut rest = s;
    while let Some(i) = rest.find(['&', '\r']) {
        out.push_str(&rest[..i]);
        if rest.as_bytes()[i] == b'\r' {
            out.push('\n');
            rest = &rest[i + 1..];
            if rest.starts_with('\n') {
                rest = &rest[1..];
            }
            continue;
        }
        let semi = rest[i..]
            .find(';')
            .ok_or_else(|| ScanError::Entity(rest[i + 1..].chars().take(12).collect()))?;
        let name = &rest[i + 1..i + semi];
        match name {
            "lt" => out.push('<'),
            "gt" => out.push('>'),
            "amp" => out.push('&'),
            "quot" => out.push('"'),
            "apos" => out.push('\''),
            _ => {
                let code = if let Some(h) = name.strip_prefix("#x") {
                    u32::from_str_radix(h, 16).ok()
                } else if let Some(d) = name.strip_prefix('#') {
                    d.parse::<u32>().ok()
                } else {
                    None
                };
                let c = code
                    .and_then(char::from_u32)
                    .ok_or_else(|| ScanError::Entity(name.to_string()))?;
                out.push(c);
            }
        }
        rest = &rest[i + semi + 1..];
    }
    out.push_str(rest);
    Ok(())
}

/// CDATA content: no entities, but line ends are normalised.
pub(crate) fn push_cdata(raw: &[u8], out: &mut String) -> Result<(), ScanError> {
    let s = std::str::from_utf8(raw).map_err(|_| ScanError::NotUtf8)?;
    if !s.contains('\r') {
        out.push_str(s);
    } else {
        out.push_str(&s.replace("\r\n", "\n").replace('\r', "\n"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(xml: &[u8], chunk_reader: bool) -> Vec<String> {
        // a reader that hands out one byte at a time exercises every refill path
        struct Drip<'a>(&'a [u8]);
        impl Read for Drip<'_> {
            fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
                if self.0.is_empty() || b.is_empty() {
                    return Ok(0);
                }
                b[0] = self.0[0];
                self.0 = &self.0[1..];
                Ok(1)
            }
        }
        let mut out = Vec::new();
        let mut push = |t: Tok<'_>| {
            out.push(match t {
                Tok::Open { name, attrs, empty } => format!(
                    "open {} [{}]{}",
                    String::from_utf8_lossy(name),
                    String::from_utf8_lossy(attrs).trim(),
                    if empty { " empty" } else { "" }
                ),
                Tok::Close { name } => format!("close {}", String::from_utf8_lossy(name)),
                Tok::Text(t) => format!("text {}", String::from_utf8_lossy(t)),
                Tok::CData(t) => format!("cdata {}", String::from_utf8_lossy(t)),
            })
        };
        if chunk_reader {
            let mut s = Scanner::new(Drip(xml));
            while let Some(t) = s.next_tok().unwrap() {
                push(t);
            }
        } else {
            let mut s = Scanner::new(xml);
            while let Some(t) = s.next_tok().unwrap() {
                push(t);
            }
        }
        out
    }

    #[test]
    fn tags_text_comments_and_cdata() {
        let xml = br#"<?xml version="1.0"?><x:row r="3" a='>'><!-- a > b --><c r="A3" t="s"><v>12</v></c><c r="B3"/><![CDATA[<raw>&amp;]]></x:row >tail"#;
        let want = vec![
            "open row [r=\"3\" a='>']",
            "open c [r=\"A3\" t=\"s\"]",
            "open v []",
            "text 12",
            "close v",
            "close c",
            "open c [r=\"B3\"] empty",
            "cdata <raw>&amp;",
            "close row",
            "text tail",
        ];
        assert_eq!(all(xml, false), want);
        assert_eq!(all(xml, true), want);
    }

    #[test]
    fn refusals() {
        let mut s = Scanner::new(&b"<!DOCTYPE x [<!ENTITY a \"b\">]><x/>"[..]);
        assert_eq!(s.next_tok(), Err(ScanError::Dtd));
        let mut s = Scanner::new(&b"<row r=\"1\"><c r="[..]);
        assert!(s.next_tok().unwrap().is_some());
        assert_eq!(s.next_tok(), Err(ScanError::Truncated));
    }

    #[test]
    fn attributes_and_text() {
        let got: Vec<_> = attrs(br#" r="A1"  s = '3' x:t="str""#).collect();
        assert_eq!(
            got,
            vec![
                (&b"r"[..], &b"A1"[..]),
                (&b"s"[..], &b"3"[..]),
                (&b"t"[..], &b"str"[..])
            ]
        );
        let mut out = String::new();
        push_text(
            "a &amp; b &lt;&#x4E2D;&#25991;\r\nx\ry".as_bytes(),
            &mut out,
        )
        .unwrap();
        assert_eq!(out, "a & b <中文\nx\ny");
        assert_eq!(
            push_text(b"&lol9;", &mut String::new()),
            Err(ScanError::Entity("lol9".into()))
        );
        assert_eq!(
            push_text(b"\xFF", &mut String::new()),
            Err(ScanError::NotUtf8)
        );
    }
}
