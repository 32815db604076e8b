//! Reading CSV files the way Taiwanese agencies produce them: UTF-8 (with or without BOM)
//! or Big5 / CP950, header names in Chinese (English aliases accepted).

use encoding_rs::{Encoding, BIG5, UTF_8};
use std::{
    fs::File,
    io::{self, Read},
    path::Path,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodingChoice {
    Auto,
    Utf8,
    Big5,
}

impl std::str::FromStr for EncodingChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "utf8" | "utf-8" => Ok(Self::Utf8),
            "big5" | "cp950" => Ok(Self::Big5),
            _ => Err(format!("unknown encoding {s} (auto, utf-8, big5)")),
        }
    }
}

/// Decides the encoding from the file's first bytes: a UTF-8 BOM or valid UTF-8 → UTF-8,
/// anything else → Big5 (CP950).
pub fn detect(sample: &[u8]) -> &'static Encoding {
    if sample.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return UTF_8;
    }
    match std::str::from_utf8(sample) {
        Ok(_) => UTF_8,
        // Cut in the middle of a character at the end of the sample: still UTF-8.
        Err(e) if e.error_len().is_none() => UTF_8,
        Err(_) => BIG5,
    }
}

pub fn encoding_for(path: &Path, choice: EncodingChoice) -> io::Result<&'static Encoding> {
    Ok(match choice {
        EncodingChoice::Utf8 => UTF_8,
        EncodingChoice::Big5 => BIG5,
        EncodingChoice::Auto => {
            let mut buf = vec![0u8; 1 << 20];
            let mut f = File::open(path)?;
            let mut n = 0;
            while n < buf.len() {
                let r = f.read(&mut buf[n..])?;
                if r == 0 {
                    break;
                }
                n += r;
            }
            detect(&buf[..n])
        }
    })
}

/// Counts the raw bytes read (for a progress bar over the file size).
pub struct Counting<R> {
    inner: R,
    pub count: Arc<AtomicU64>,
}

impl<R> Counting<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            count: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A CSV reader over a decoded byte stream.
pub type CsvReader = csv::Reader<Box<dyn Read + Send>>;

/// The longest record the importers accept: a personnel row is a few hundred bytes; one
/// unterminated quote would otherwise make the rest of a file one record in memory.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

/// The line each record starts on, found in the decoded text the way the CSV reader splits
/// it (a newline inside quotes belongs to the field; empty lines are no record; `\r\n` and
/// `\n` both end a line), and the first record that grew past [`MAX_RECORD_BYTES`]. The
/// CSV reader's own line numbers are not used: with `\r\n` line ends they came out one too
/// low.
#[derive(Debug, Default)]
pub struct Lines {
    state: std::sync::Mutex<LineState>,
}

#[derive(Debug)]
struct LineState {
    /// The line being read (1-based).
    line: u64,
    quote: Quote,
    record_start: u64,
    record_bytes: usize,
    has_content: bool,
    /// Start lines of records read ahead by the CSV reader, not yet taken.
    starts: std::collections::VecDeque<u64>,
    too_long: Option<u64>,
    max: usize,
}

impl Default for LineState {
    fn default() -> Self {
        Self {
            line: 1,
            quote: Quote::FieldStart,
            record_start: 1,
            record_bytes: 0,
            has_content: false,
            starts: Default::default(),
            too_long: None,
            max: MAX_RECORD_BYTES,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    FieldStart,
    Unquoted,
    Quoted,
    /// A `"` inside a quoted field: the field's end, or the first of `""`.
    ClosingOrDoubled,
}

impl Lines {
    /// The start line of the next record the CSV reader returned (the header first).
    pub fn next_record_line(&self) -> Option<u64> {
        self.state.lock().ok()?.starts.pop_front()
    }

    /// The line of the record that was too long, if that is why reading failed.
    pub fn too_long(&self) -> Option<u64> {
        self.state.lock().ok()?.too_long
    }

    /// The line an error of the CSV reader is about.
    pub fn line_of(&self, e: &csv::Error) -> u64 {
        self.too_long()
            .or_else(|| e.position().map(|p| p.line()))
            .unwrap_or(0)
    }

    fn feed(&self, bytes: &[u8]) -> io::Result<()> {
        let Ok(mut st) = self.state.lock() else {
            return Err(io::Error::other("line tracker poisoned"));
        };
        for &b in bytes {
            if b == b'\n' {
                st.line += 1;
            }
            // Outside quotes, `\r` and `\n` each end a record (the reader returns a record
            // as soon as it sees the `\r` of `\r\n`); the `\n` after it ends an empty one.
            if (b == b'\n' || b == b'\r') && st.quote != Quote::Quoted {
                if st.has_content {
                    let start = st.record_start;
                    st.starts.push_back(start);
                }
                st.record_start = st.line;
                st.record_bytes = 0;
                st.has_content = false;
                st.quote = Quote::FieldStart;
                continue;
            }
            st.has_content = true;
            st.quote = match (st.quote, b) {
                (Quote::FieldStart, b'"') => Quote::Quoted,
                (Quote::FieldStart | Quote::Unquoted | Quote::ClosingOrDoubled, b',') => {
                    Quote::FieldStart
                }
                (Quote::FieldStart | Quote::Unquoted, _) => Quote::Unquoted,
                (Quote::Quoted, b'"') => Quote::ClosingOrDoubled,
                (Quote::Quoted, _) => Quote::Quoted,
                (Quote::ClosingOrDoubled, b'"') => Quote::Quoted,
                (Quote::ClosingOrDoubled, _) => Quote::Unquoted,
            };
            st.record_bytes += 1;
            if st.record_bytes > st.max {
                let line = st.record_start;
                st.too_long = Some(line);
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "line {line}: a record longer than {} KiB (an unterminated quote?)",
                        st.max / 1024
                    ),
                ));
            }
        }
        Ok(())
    }

    fn end(&self) {
        if let Ok(mut st) = self.state.lock() {
            if st.has_content {
                let start = st.record_start;
                st.starts.push_back(start);
                st.has_content = false;
            }
        }
    }
}

/// Feeds what the CSV reader reads through [`Lines`].
struct Tracked<R> {
    inner: R,
    lines: Arc<Lines>,
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.lines.end();
        } else {
            self.lines.feed(&buf[..n])?;
        }
        Ok(n)
    }
}

/// A streaming CSV reader over `path` decoded to UTF-8 (invalid bytes become U+FFFD, which
/// the row validation reports), the bytes read so far, and where each record starts.
pub fn open_csv(
    path: &Path,
    enc: &'static Encoding,
) -> io::Result<(CsvReader, Arc<AtomicU64>, Arc<Lines>)> {
    let file = Counting::new(File::open(path)?);
    let count = file.count.clone();
    let decoded = encoding_rs_io::DecodeReaderBytesBuilder::new()
        .encoding(Some(enc))
        .bom_sniffing(true)
        .build(io::BufReader::with_capacity(1 << 16, file));
    let lines = Arc::new(Lines::default());
    let reader: Box<dyn Read + Send> = Box::new(Tracked {
        inner: decoded,
        lines: lines.clone(),
    });
    let csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::None)
        .from_reader(reader);
    Ok((csv, count, lines))
}

/// Finds each wanted column in the header row by any of its names.
pub fn column_index(headers: &csv::StringRecord, names: &[&str]) -> Option<usize> {
    headers.iter().position(|h| {
        let h = ecpa_domain::text::fold(h.trim_start_matches('\u{feff}'));
        names.iter().any(|n| h.eq_ignore_ascii_case(n))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_encodings() {
        let (big5, _, _) = BIG5.encode("身分證統一編號,姓名\nA123456789,王小明\n");
        assert_eq!(detect(&big5), BIG5);
        assert_eq!(detect("身分證,姓名".as_bytes()), UTF_8);
        assert_eq!(detect(b"\xEF\xBB\xBFid"), UTF_8);
        let s = "王小明".as_bytes();
        assert_eq!(detect(&s[..4]), UTF_8, "a cut character at the end is fine");
    }

    /// Record start lines agree with what the csv crate reads as records: quoted
    /// newlines, doubled quotes, a quote inside an unquoted field, empty lines, CRLF and
    /// LF, a last line without a newline, in any chunking.
    #[test]
    fn record_lines_follow_the_csv_records() {
        let text = "h1,h2\r\na,b\r\n\r\n\"multi\r\nline\",x\r\nab\"c,d\n\"q\"\"\n\",e\nlast,row";
        // Lines: 1 header, 2 a, 3 empty, 4-5 multi, 6 ab"c, 7-8 quoted with "" and a
        // newline, 9 last (no newline).
        for chunk in [1, 2, 3, 7, 64] {
            let lines = Arc::new(Lines::default());
            let mut r = Tracked {
                inner: ChunkReader(text.as_bytes(), chunk),
                lines: lines.clone(),
            };
            let mut csv = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(&mut r);
            let mut got = vec![];
            for rec in csv.records() {
                let rec = rec.unwrap();
                got.push((
                    lines.next_record_line().unwrap(),
                    rec.get(0).unwrap().to_string(),
                ));
            }
            let want: Vec<(u64, String)> = [
                (1, "h1"),
                (2, "a"),
                (4, "multi\r\nline"),
                (6, "ab\"c"),
                (7, "q\"\n"),
                (9, "last"),
            ]
            .into_iter()
            .map(|(l, f)| (l, f.to_string()))
            .collect();
            assert_eq!(got, want, "chunk {chunk}");
        }
    }

    #[test]
    fn an_unterminated_quote_is_refused_at_its_line() {
        let mut text = String::from("h\nok\n\"open\n");
        for _ in 0..10_000 {
            text.push_str("more,rows,here\n");
        }
        let lines = Arc::new(Lines::default());
        let r = Tracked {
            inner: text.as_bytes(),
            lines: lines.clone(),
        };
        let mut csv = csv::ReaderBuilder::new().from_reader(r);
        let err = csv.records().find_map(Result::err).expect("refused");
        assert_eq!(lines.line_of(&err), 3, "{err}");
    }

    struct ChunkReader<'a>(&'a [u8], usize);

    impl Read for ChunkReader<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
}
