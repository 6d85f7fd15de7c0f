//! The input: a streaming reader of applicant rows from a JSONL or CSV file, each with its line
//! number and its `ref` (read even from a record that is otherwise unreadable). A line longer
//! than a record may be is cut at the cap and reported, so memory does not grow with the file.

use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use permit_shared::applicant::{FieldError, MAX_RECORD_BYTES, RawApplicant};

use super::{BatchError, io_err};

/// Input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// One JSON object per line.
    Jsonl,
    /// A header line with the column names, then one applicant per record (`basis` split on `|`).
    Csv,
}

impl InputFormat {
    /// The format a file name implies (`.jsonl`, `.ndjson`, `.json`, `.csv`).
    pub fn from_path(p: &Path) -> Option<InputFormat> {
        match p
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("jsonl" | "ndjson" | "json") => Some(InputFormat::Jsonl),
            Some("csv") => Some(InputFormat::Csv),
            _ => None,
        }
    }

    /// The name used in `job.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            InputFormat::Jsonl => "jsonl",
            InputFormat::Csv => "csv",
        }
    }
}

/// One input row: its line number (1-based; a CSV header is line 1) and the record or why it
/// could not be read.
#[derive(Debug, Clone)]
pub struct InputRow {
    /// Line number of the row's first line.
    pub line: u64,
    /// The `ref` when it could be read, also from a record that is otherwise unreadable.
    pub reference: Option<String>,
    /// The record.
    pub record: Result<RawApplicant, FieldError>,
}

/// A streaming reader of input rows; memory does not grow with the file.
pub struct InputReader {
    inner: Inner,
    path: PathBuf,
}

enum Inner {
    Jsonl {
        r: BufReader<Box<dyn Read + Send>>,
        line: u64,
        buf: Vec<u8>,
    },
    Csv {
        r: Box<csv::Reader<Box<dyn Read + Send>>>,
        header: Vec<String>,
        rec: csv::ByteRecord,
    },
}

#[derive(Deserialize)]
struct RefOnly {
    #[serde(rename = "ref")]
    reference: Option<String>,
}

fn field_error(field: &str, code: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_owned(),
        code,
        message: message.into(),
    }
}

impl InputReader {
    /// Opens a reader over `source`; `path` names it in errors. A CSV header is read at once.
    pub fn new(
        source: Box<dyn Read + Send>,
        format: InputFormat,
        path: &Path,
    ) -> Result<InputReader, BatchError> {
        let inner = match format {
            InputFormat::Jsonl => Inner::Jsonl {
                r: BufReader::with_capacity(256 * 1024, source),
                line: 0,
                buf: Vec::with_capacity(4096),
            },
            InputFormat::Csv => {
                let mut r = csv_reader(source);
                let header = r
                    .byte_headers()
                    .map_err(|e| BatchError::Input {
                        path: path.to_owned(),
                        detail: format!("CSV header: {e}"),
                    })?
                    .iter()
                    .map(|h| {
                        String::from_utf8_lossy(h)
                            .trim_start_matches('\u{feff}')
                            .trim_end_matches('\r')
                            .to_owned()
                    })
                    .collect::<Vec<_>>();
                if header.is_empty() || header.iter().all(String::is_empty) {
                    return Err(BatchError::Input {
                        path: path.to_owned(),
                        detail: "the CSV has no header line".into(),
                    });
                }
                Inner::Csv {
                    r: Box::new(r),
                    header,
                    rec: csv::ByteRecord::new(),
                }
            }
        };
        Ok(InputReader {
            inner,
            path: path.to_owned(),
        })
    }

    /// The next row, `None` at the end.
    pub fn next_row(&mut self) -> Result<Option<InputRow>, BatchError> {
        match &mut self.inner {
            Inner::Jsonl { r, line, buf } => loop {
                buf.clear();
                *line += 1;
                let (n, too_long) =
                    read_line_capped(r, buf, MAX_RECORD_BYTES + 2).map_err(io_err(&self.path))?;
                if n == 0 {
                    return Ok(None);
                }
                while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    buf.pop();
                }
                if too_long {
                    return Ok(Some(InputRow {
                        line: *line,
                        reference: None,
                        record: Err(field_error(
                            "record",
                            "RECORD_TOO_LARGE",
                            format!("the line is longer than {MAX_RECORD_BYTES} bytes"),
                        )),
                    }));
                }
                if buf.iter().all(u8::is_ascii_whitespace) {
                    continue; // blank lines are not rows
                }
                let record = RawApplicant::from_json(buf);
                let reference = match &record {
                    Ok(a) => a.reference.clone(),
                    Err(_) => serde_json::from_slice::<RefOnly>(buf)
                        .ok()
                        .and_then(|r| r.reference),
                };
                return Ok(Some(InputRow {
                    line: *line,
                    reference,
                    record,
                }));
            },
            Inner::Csv { r, header, rec } => {
                let more = r.read_byte_record(rec).map_err(|e| BatchError::Input {
                    path: self.path.clone(),
                    detail: format!("CSV: {e}"),
                })?;
                if !more {
                    return Ok(None);
                }
                let line = rec.position().map_or(0, csv::Position::line);
                let reference = header
                    .iter()
                    .position(|h| h == "ref")
                    .and_then(|i| rec.get(i))
                    .and_then(|v| std::str::from_utf8(v).ok())
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned);
                let record = if rec.len() != header.len() {
                    Err(field_error(
                        "record",
                        "BAD_CSV",
                        format!("{} fields where the header has {}", rec.len(), header.len()),
                    ))
                } else if rec.as_slice().len() > MAX_RECORD_BYTES {
                    Err(field_error(
                        "record",
                        "RECORD_TOO_LARGE",
                        format!("the record is longer than {MAX_RECORD_BYTES} bytes"),
                    ))
                } else {
                    let mut cells = Vec::with_capacity(header.len());
                    let mut bad = None;
                    let last = rec.len().saturating_sub(1);
                    for (i, (h, v)) in header.iter().zip(rec.iter()).enumerate() {
                        let v = match v {
                            [rest @ .., b'\r'] if i == last => rest,
                            v => v,
                        };
                        match std::str::from_utf8(v) {
                            Ok(v) => cells.push((h.as_str(), v)),
                            Err(_) => {
                                bad = Some(h.clone());
                                break;
                            }
                        }
                    }
                    match bad {
                        Some(h) => Err(field_error(&h, "BAD_ENCODING", "not UTF-8")),
                        None => RawApplicant::from_cells(cells),
                    }
                };
                Ok(Some(InputRow {
                    line,
                    reference,
                    record,
                }))
            }
        }
    }
}

/// The CSV reader of an input. Records end at `\n` only (a `\r` before it is cut from the last
/// cell): with the default CR/LF/CRLF terminator the reader reports a CRLF file's records one
/// line early.
fn csv_reader<R: Read>(source: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .buffer_capacity(256 * 1024)
        .from_reader(source)
}

/// What identifies an input's content: its SHA-256 and its number of rows (as
/// [`InputReader`] reads them: blank JSONL lines and the CSV header are not rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// SHA-256 of the file's bytes (hex).
    pub sha256: String,
    /// Rows.
    pub rows: u64,
}

/// A reader that hashes what passes through it.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

/// Reads `source` (the input named `path`) once: its hash and its rows, without parsing them.
///
/// # Errors
///
/// [`BatchError::Io`] when reading fails, [`BatchError::Input`] for a CSV that cannot be split
/// into records.
pub fn fingerprint(
    source: impl Read,
    format: InputFormat,
    path: &Path,
) -> Result<Fingerprint, BatchError> {
    let mut r = Hashing {
        inner: source,
        hash: Sha256::new(),
    };
    let rows = match format {
        InputFormat::Jsonl => {
            let mut rows = 0u64;
            // Whether the line so far has a byte other than white space.
            let mut filled = false;
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = match r.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(io_err(path)(e)),
                };
                for b in &buf[..n] {
                    if *b == b'\n' {
                        rows += u64::from(filled);
                        filled = false;
                    } else if !b.is_ascii_whitespace() {
                        filled = true;
                    }
                }
            }
            rows + u64::from(filled)
        }
        InputFormat::Csv => {
            let mut c = csv_reader(&mut r);
            let mut rec = csv::ByteRecord::new();
            let mut rows = 0u64;
            while c
                .read_byte_record(&mut rec)
                .map_err(|e| BatchError::Input {
                    path: path.to_owned(),
                    detail: format!("CSV: {e}"),
                })?
            {
                rows += 1;
            }
            rows
        }
    };
    let sha256 = r
        .hash
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Fingerprint { sha256, rows })
}

/// Reads one line (with its `\n`) into `buf`, keeping at most `cap` bytes and skipping the
/// rest. Returns the bytes consumed and whether the line was longer than `cap`.
fn read_line_capped(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<(usize, bool)> {
    let mut total = 0;
    let mut too_long = false;
    loop {
        let (done, used) = {
            let avail = match r.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                return Ok((total, too_long));
            }
            let (done, used) = match memchr_nl(avail) {
                Some(i) => (true, i + 1),
                None => (false, avail.len()),
            };
            let room = cap.saturating_sub(buf.len());
            if used > room {
                too_long = true;
                buf.extend_from_slice(&avail[..room]);
            } else {
                buf.extend_from_slice(&avail[..used]);
            }
            (done, used)
        };
        r.consume(used);
        total += used;
        if done {
            return Ok((total, too_long));
        }
    }
}

fn memchr_nl(b: &[u8]) -> Option<usize> {
    b.iter().position(|c| *c == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_lines() {
        let data = b"short\nthis line is long\n\nlast";
        let mut r = BufReader::with_capacity(4, &data[..]);
        let mut buf = Vec::new();
        assert_eq!(read_line_capped(&mut r, &mut buf, 10).unwrap(), (6, false));
        assert_eq!(buf, b"short\n");
        buf.clear();
        assert_eq!(read_line_capped(&mut r, &mut buf, 10).unwrap(), (18, true));
        assert_eq!(buf.len(), 10);
        buf.clear();
        assert_eq!(read_line_capped(&mut r, &mut buf, 10).unwrap(), (1, false));
        buf.clear();
        assert_eq!(read_line_capped(&mut r, &mut buf, 10).unwrap(), (4, false));
        assert_eq!(buf, b"last");
        buf.clear();
        assert_eq!(read_line_capped(&mut r, &mut buf, 10).unwrap(), (0, false));
    }

    #[test]
    fn rows_with_line_numbers() {
        let jsonl =
            "{\"ref\":\"A\",\"name\":\"x\"}\n\n{\"ref\":\"B\",\"is_admin\":true}\nnot json\n";
        let mut r = InputReader::new(
            Box::new(io::Cursor::new(jsonl.as_bytes().to_vec())),
            InputFormat::Jsonl,
            Path::new("t.jsonl"),
        )
        .unwrap();
        let a = r.next_row().unwrap().unwrap();
        assert_eq!((a.line, a.reference.as_deref()), (1, Some("A")));
        let b = r.next_row().unwrap().unwrap();
        assert_eq!((b.line, b.reference.as_deref()), (3, Some("B")));
        assert_eq!(b.record.unwrap_err().code, "UNKNOWN_FIELD");
        let c = r.next_row().unwrap().unwrap();
        assert_eq!((c.line, c.record.unwrap_err().code), (4, "BAD_JSON"));
        assert!(r.next_row().unwrap().is_none());

        let csv = "ref,name,basis\nA,x,employment|housing\n\"B\",\"multi\nline\",study\nC,y\n";
        let mut r = InputReader::new(
            Box::new(io::Cursor::new(csv.as_bytes().to_vec())),
            InputFormat::Csv,
            Path::new("t.csv"),
        )
        .unwrap();
        let a = r.next_row().unwrap().unwrap();
        assert_eq!(a.line, 2);
        assert_eq!(
            a.record.unwrap().basis,
            Some(vec!["employment".to_owned(), "housing".to_owned()])
        );
        let b = r.next_row().unwrap().unwrap();
        assert_eq!((b.line, b.reference.as_deref()), (3, Some("B")));
        let c = r.next_row().unwrap().unwrap();
        assert_eq!((c.line, c.record.unwrap_err().code), (5, "BAD_CSV"));
        assert!(r.next_row().unwrap().is_none());

        // CRLF, as Python's csv module writes.
        let csv = "ref,name,test\r\nA,x,true\r\nB,\"two\r\nlines\",false\r\nC,z,true\r\n";
        let mut r = InputReader::new(
            Box::new(io::Cursor::new(csv.as_bytes().to_vec())),
            InputFormat::Csv,
            Path::new("t.csv"),
        )
        .unwrap();
        let a = r.next_row().unwrap().unwrap();
        assert_eq!((a.line, a.record.unwrap().test), (2, Some(true)));
        let b = r.next_row().unwrap().unwrap();
        assert_eq!((b.line, b.record.unwrap().test), (3, Some(false)));
        let c = r.next_row().unwrap().unwrap();
        assert_eq!((c.line, c.reference.as_deref()), (5, Some("C")));
        assert!(r.next_row().unwrap().is_none());
    }

    #[test]
    fn fingerprint_counts_rows_as_the_reader_reads_them() {
        let fp = |text: &str, format| fingerprint(text.as_bytes(), format, Path::new("t")).unwrap();
        let jsonl = "{\"ref\":\"A\"}\n\n  \r\n{\"ref\":\"B\"}\nnot json";
        assert_eq!(fp(jsonl, InputFormat::Jsonl).rows, 3);
        assert_eq!(fp("", InputFormat::Jsonl).rows, 0);
        let csv = "ref,name\r\nA,\"two\r\nlines\"\r\nB,x\r\n";
        assert_eq!(fp(csv, InputFormat::Csv).rows, 2);
        assert_eq!(fp("ref,name\n", InputFormat::Csv).rows, 0);
        assert_eq!(
            fp("", InputFormat::Jsonl).sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_ne!(fp("a\n", InputFormat::Jsonl), fp("b\n", InputFormat::Jsonl));
    }
}
