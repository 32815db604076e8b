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

/// A streaming CSV reader over `path` decoded to UTF-8 (invalid bytes become U+FFFD, which
/// the row validation reports).
pub fn open_csv(path: &Path, enc: &'static Encoding) -> io::Result<(CsvReader, Arc<AtomicU64>)> {
    let file = Counting::new(File::open(path)?);
    let count = file.count.clone();
    let decoded = encoding_rs_io::DecodeReaderBytesBuilder::new()
        .encoding(Some(enc))
        .bom_sniffing(true)
        .build(io::BufReader::with_capacity(1 << 16, file));
    let reader: Box<dyn Read + Send> = Box::new(decoded);
    let csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::None)
        .from_reader(reader);
    Ok((csv, count))
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
}
