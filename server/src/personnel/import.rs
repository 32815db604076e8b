//! `ecpa-server personnel import FILE`: streams a Table 2 CSV into the registry.
//!
//! * Constant memory: a parser thread reads, decodes (UTF-8 or Big5) and validates rows and
//!   hands chunks of 500 over a bounded channel to the writer, which inserts them with
//!   multi-row statements inside **one transaction**. Only the set of national IDs seen (for
//!   duplicate detection, ~30 MB per million rows) grows with the file.
//! * All or nothing: any invalid row rejects the whole batch (the transaction is rolled
//!   back) unless `--skip-invalid`, which imports the good rows and writes the rejected ones
//!   with their reasons to a file. A failure of the database (disk full, read-only, gone)
//!   also rolls everything back.
//! * Idempotent: a batch is identified by `--batch` or the file's SHA-256; importing the same
//!   batch again changes nothing. A newer record (later 入檔日期, or the same date from a
//!   later batch) replaces a person's current record; every batch's record is kept.

use super::csvio::{self, EncodingChoice};
use super::registry::date_text;
use crate::{
    db::{Backend, Db},
    error::ServerError,
};
use ecpa_domain::personnel::{self as p, FieldError, RawRow, Table2Row};
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    sync::atomic::Ordering,
    time::{Duration, Instant},
};
use thiserror::Error;
use time::{Date, OffsetDateTime};

pub const CHUNK: usize = 500;
/// How many row errors are kept for the report (all are counted).
pub const MAX_REPORTED: usize = 200;

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub encoding: EncodingChoice,
    pub skip_invalid: bool,
    /// Where rejected rows go with `skip_invalid` (default: `<file>.rejected.csv`).
    pub rejects: Option<PathBuf>,
    pub batch_id: Option<String>,
    /// 入檔日期 for rows that have none (default: today in Taipei).
    pub ingested_on: Option<Date>,
    pub progress: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            encoding: EncodingChoice::Auto,
            skip_invalid: false,
            rejects: None,
            batch_id: None,
            ingested_on: None,
            progress: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line in the file (the header is line 1).
    pub line: u64,
    pub errors: Vec<FieldError>,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        write!(f, "line {}: {}", self.line, parts.join("; "))
    }
}

#[derive(Debug, Clone, Default)]
pub struct ImportSummary {
    pub batch_id: String,
    pub encoding: String,
    pub rows_read: u64,
    pub imported: u64,
    pub rejected: u64,
    pub elapsed: Duration,
    /// The batch had been imported before; nothing was changed.
    pub already_imported: bool,
    pub errors: Vec<RowError>,
    pub rejects_file: Option<PathBuf>,
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.already_imported {
            return write!(
                f,
                "batch {} was imported before; nothing changed",
                self.batch_id
            );
        }
        let secs = self.elapsed.as_secs_f64();
        write!(
            f,
            "batch {}: {} rows read, {} imported, {} rejected in {:.1} s ({:.0} rows/s, {})",
            self.batch_id,
            self.rows_read,
            self.imported,
            self.rejected,
            secs,
            self.rows_read as f64 / secs.max(1e-9),
            self.encoding
        )?;
        if let Some(r) = &self.rejects_file {
            write!(f, "; rejected rows in {}", r.display())?;
        }
        Ok(())
    }
}

#[derive(Debug, Error)]
pub enum ImportError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("line {line}: {message}")]
    Csv { line: u64, message: String },
    #[error("the header has no column {0}")]
    MissingColumn(&'static str),
    #[error("{} invalid row(s); nothing was imported (use --skip-invalid to import the valid rows)", .0.rejected)]
    Rejected(Box<ImportSummary>),
    #[error(transparent)]
    Server(#[from] ServerError),
}

impl From<sqlx::Error> for ImportError {
    fn from(e: sqlx::Error) -> Self {
        ImportError::Server(ServerError::Db(e))
    }
}

/// The columns we read, by their names in the file (zh-TW first, then aliases).
const COLUMNS: [(&str, &[&str], bool); 11] = [
    (
        p::F_NATIONAL_ID,
        &["身分證統一編號", "身分證字號", "身分證號", "national_id"],
        true,
    ),
    (p::F_NAME, &["姓名", "name"], true),
    (p::F_EMAIL, &["電子郵件", "email", "e-mail"], false),
    (p::F_AGENCY, &["機關代碼", "機關代號", "agency_code"], true),
    (p::F_UNIT, &["服務單位", "unit"], true),
    (p::F_TITLE, &["職稱", "title"], true),
    (p::F_STAFF, &["人員區分", "staff_category"], true),
    (p::F_DUTY, &["兼職性質", "concurrent_duty"], false),
    (p::F_STATUS, &["在職狀態", "現職狀態", "status"], true),
    (p::F_DEPARTED, &["卸職日期", "departed_on"], false),
    (p::F_INGESTED, &["入檔日期", "ingested_on"], false),
];

fn file_digest(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(hex::encode(h.finalize()))
}

enum Msg {
    Rows(Vec<Table2Row>),
    Rejected(RowError),
    Done { rows_read: u64 },
    Failed(ImportError),
}

struct Parser {
    path: PathBuf,
    enc: &'static encoding_rs::Encoding,
    default_ingested: Date,
    agencies: HashSet<String>,
    rejects: Option<csv::Writer<std::fs::File>>,
    progress: Option<indicatif::ProgressBar>,
}

impl Parser {
    fn run(mut self, tx: tokio::sync::mpsc::Sender<Msg>) {
        if let Err(e) = self.parse(&tx) {
            let _ = tx.blocking_send(Msg::Failed(e));
        }
        if let Some(pb) = &self.progress {
            pb.finish_and_clear();
        }
    }

    fn parse(&mut self, tx: &tokio::sync::mpsc::Sender<Msg>) -> Result<(), ImportError> {
        let (mut rdr, bytes, lines) = csvio::open_csv(&self.path, self.enc)?;
        let headers = rdr
            .headers()
            .map_err(|e| ImportError::Csv {
                line: lines.too_long().unwrap_or(1),
                message: e.to_string(),
            })?
            .clone();
        lines.next_record_line();
        let mut idx = [None; 11];
        for (i, (field, names, required)) in COLUMNS.iter().enumerate() {
            idx[i] = csvio::column_index(&headers, names);
            if idx[i].is_none() && *required {
                return Err(ImportError::MissingColumn(field));
            }
        }
        if let Some(w) = self.rejects.as_mut() {
            let mut h: Vec<&str> = vec!["行號", "原因"];
            h.extend(headers.iter());
            w.write_record(&h).map_err(|e| ImportError::Io(e.into()))?;
        }
        let get = |rec: &csv::StringRecord, i: usize| {
            idx[i].and_then(|c| rec.get(c)).unwrap_or("").to_string()
        };
        // National ID → first line it appeared on (duplicates in one batch are errors).
        let mut seen: HashMap<[u8; 10], u32> = HashMap::new();
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut rows_read = 0u64;
        let mut rec = csv::StringRecord::new();
        loop {
            match rdr.read_record(&mut rec) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    return Err(ImportError::Csv {
                        line: lines.line_of(&e),
                        message: e.to_string(),
                    });
                }
            }
            rows_read += 1;
            let line = lines.next_record_line().unwrap_or(0);
            if rec.iter().all(|f| f.trim().is_empty()) {
                rows_read -= 1;
                continue; // blank line
            }
            let raw = RawRow {
                national_id: get(&rec, 0),
                name: get(&rec, 1),
                email: get(&rec, 2),
                agency_code: get(&rec, 3),
                unit_name: get(&rec, 4),
                title: get(&rec, 5),
                staff_category: get(&rec, 6),
                concurrent_duty: get(&rec, 7),
                status: get(&rec, 8),
                departed_on: get(&rec, 9),
                ingested_on: get(&rec, 10),
            };
            let mut result = p::validate_row(&raw, self.default_ingested);
            // Checks against the registry and the rest of the file, reported with the
            // row's own errors.
            let mut extra = vec![];
            let code = ecpa_domain::text::fold(&raw.agency_code);
            let code_malformed =
                matches!(&result, Err(e) if e.iter().any(|f| f.field == p::F_AGENCY));
            if !code.is_empty() && !code_malformed && !self.agencies.contains(&code) {
                extra.push(FieldError {
                    field: p::F_AGENCY,
                    message: format!("機關代碼 {code} 不存在（請先匯入機關資料）"),
                });
            }
            if let Ok(nid) = ecpa_domain::national_id::NationalId::parse(&raw.national_id) {
                let mut key = [0u8; 10];
                key.copy_from_slice(nid.as_str().as_bytes());
                if let Some(first) = seen.get(&key) {
                    extra.push(FieldError {
                        field: p::F_NATIONAL_ID,
                        message: format!("與第 {first} 行重複"),
                    });
                } else {
                    seen.insert(key, u32::try_from(line).unwrap_or(u32::MAX));
                }
            }
            if !extra.is_empty() {
                result = match result {
                    Ok(_) => Err(extra),
                    Err(mut e) => {
                        e.extend(extra);
                        Err(e)
                    }
                };
            }
            match result {
                Ok(row) => {
                    chunk.push(row);
                    if chunk.len() == CHUNK {
                        let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                        if tx.blocking_send(Msg::Rows(full)).is_err() {
                            return Ok(()); // the writer stopped; it reports why
                        }
                    }
                }
                Err(errors) => {
                    if let Some(w) = self.rejects.as_mut() {
                        let reasons: Vec<String> = errors
                            .iter()
                            .map(|e| format!("{}: {}", e.field, e.message))
                            .collect();
                        let mut out = vec![line.to_string(), reasons.join("; ")];
                        out.extend(rec.iter().map(str::to_string));
                        w.write_record(&out)
                            .map_err(|e| ImportError::Io(e.into()))?;
                    }
                    if tx
                        .blocking_send(Msg::Rejected(RowError { line, errors }))
                        .is_err()
                    {
                        return Ok(());
                    }
                }
            }
            if rows_read.is_multiple_of(10_000) {
                if let Some(pb) = &self.progress {
                    pb.set_position(bytes.load(Ordering::Relaxed));
                }
            }
        }
        if !chunk.is_empty() && tx.blocking_send(Msg::Rows(chunk)).is_err() {
            return Ok(());
        }
        if let Some(w) = self.rejects.as_mut() {
            w.flush()?;
        }
        let _ = tx.blocking_send(Msg::Done { rows_read });
        Ok(())
    }
}

/// SQL for a multi-row statement of `n` rows, cached per size.
struct Statements {
    /// SQLite gets anonymous `?` placeholders: with `$N`, binding looks every parameter's
    /// name up in a list (quadratic: 78 % of the import time at 5,500 parameters).
    anonymous: bool,
    people: HashMap<usize, String>,
    records: HashMap<usize, String>,
    current: HashMap<usize, String>,
}

fn values(n: usize, cols: usize, anonymous: bool) -> String {
    let mut s = String::with_capacity(n * cols * 5);
    for r in 0..n {
        if r > 0 {
            s.push(',');
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push(',');
            }
            if anonymous {
                s.push('?');
            } else {
                s.push('$');
                s.push_str(&(r * cols + c + 1).to_string());
            }
        }
        s.push(')');
    }
    s
}

const RECORD_COLS: &str = "national_id, batch_id, batch_seq, agency_code, unit_name, title, staff_category, concurrent_duty, status, departed_on, ingested_on";

impl Statements {
    fn new(backend: Backend) -> Self {
        Self {
            anonymous: backend == Backend::Sqlite,
            people: HashMap::new(),
            records: HashMap::new(),
            current: HashMap::new(),
        }
    }

    fn people(&mut self, n: usize) -> &str {
        self.people.entry(n).or_insert_with(|| {
            format!(
                "INSERT INTO people (national_id, name, email, updated_at) VALUES {} \
                 ON CONFLICT (national_id) DO UPDATE SET name = excluded.name, \
                 email = COALESCE(excluded.email, people.email), updated_at = excluded.updated_at",
                values(n, 4, self.anonymous)
            )
        })
    }

    fn records(&mut self, n: usize) -> &str {
        self.records.entry(n).or_insert_with(|| {
            format!("INSERT INTO personnel_records ({RECORD_COLS}) VALUES {} ON CONFLICT (national_id, batch_id) DO NOTHING", values(n, 11, self.anonymous))
        })
    }

    fn current(&mut self, n: usize) -> &str {
        self.current.entry(n).or_insert_with(|| {
            format!(
                "INSERT INTO personnel_current ({RECORD_COLS}) VALUES {} \
                 ON CONFLICT (national_id) DO UPDATE SET batch_id = excluded.batch_id, batch_seq = excluded.batch_seq, \
                 agency_code = excluded.agency_code, unit_name = excluded.unit_name, title = excluded.title, \
                 staff_category = excluded.staff_category, concurrent_duty = excluded.concurrent_duty, \
                 status = excluded.status, departed_on = excluded.departed_on, ingested_on = excluded.ingested_on \
                 WHERE excluded.ingested_on > personnel_current.ingested_on \
                    OR (excluded.ingested_on = personnel_current.ingested_on AND excluded.batch_seq > personnel_current.batch_seq)",
                values(n, 11, self.anonymous)
            )
        })
    }
}

struct RowText {
    national_id: String,
    departed_on: Option<String>,
    ingested_on: String,
    duty: Option<String>,
}

fn texts(r: &Table2Row) -> RowText {
    RowText {
        national_id: r.national_id.as_str().to_string(),
        departed_on: match r.record.employment {
            ecpa_domain::personnel::Employment::Departed { on: Some(d) } => Some(date_text(d)),
            _ => None,
        },
        ingested_on: date_text(r.record.ingested_on),
        duty: r
            .record
            .concurrent_duty
            .as_ref()
            .map(|d| d.as_str().to_string()),
    }
}

async fn write_chunk(
    conn: &mut sqlx::AnyConnection,
    sql: &mut Statements,
    rows: &[Table2Row],
    batch_id: &str,
    seq: i64,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    let t: Vec<RowText> = rows.iter().map(texts).collect();
    let mut q = sqlx::query(sql.people(rows.len()));
    for (r, tx) in rows.iter().zip(&t) {
        q = q
            .bind(tx.national_id.as_str())
            .bind(r.name.as_str())
            .bind(r.email.as_deref())
            .bind(now_ms);
    }
    q.execute(&mut *conn).await?;
    for stmt in [
        sql.records(rows.len()).to_string(),
        sql.current(rows.len()).to_string(),
    ] {
        let mut q = sqlx::query(&stmt);
        for (r, tx) in rows.iter().zip(&t) {
            q = q
                .bind(tx.national_id.as_str())
                .bind(batch_id)
                .bind(seq)
                .bind(r.agency_code.as_str())
                .bind(r.record.unit_name.as_str())
                .bind(r.title.as_str())
                .bind(r.record.staff_category.as_str())
                .bind(tx.duty.as_deref())
                .bind(r.record.employment.word())
                .bind(tx.departed_on.as_deref())
                .bind(tx.ingested_on.as_str());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Imports `path` into the registry. `now` decides the default 入檔日期 (Taipei date).
pub async fn import_personnel(
    db: &Db,
    path: &Path,
    opts: &ImportOptions,
    now: OffsetDateTime,
) -> Result<ImportSummary, ImportError> {
    let started = Instant::now();
    let batch_id = match &opts.batch_id {
        Some(b) => b.clone(),
        None => {
            let p = path.to_path_buf();
            tokio::task::spawn_blocking(move || file_digest(&p))
                .await
                .map_err(|e| ImportError::Io(std::io::Error::other(e.to_string())))??
        }
    };
    let mut summary = ImportSummary {
        batch_id: batch_id.clone(),
        ..Default::default()
    };
    let known: Option<i64> = sqlx::query_scalar("SELECT seq FROM import_batches WHERE id = $1")
        .bind(&batch_id)
        .fetch_optional(&db.pool)
        .await?;
    if known.is_some() {
        summary.already_imported = true;
        summary.elapsed = started.elapsed();
        return Ok(summary);
    }

    let enc = {
        let p = path.to_path_buf();
        let choice = opts.encoding;
        tokio::task::spawn_blocking(move || csvio::encoding_for(&p, choice))
            .await
            .map_err(|e| ImportError::Io(std::io::Error::other(e.to_string())))??
    };
    summary.encoding = enc.name().to_string();
    let agencies: HashSet<String> = sqlx::query_scalar("SELECT code FROM agencies")
        .fetch_all(&db.pool)
        .await?
        .into_iter()
        .collect();
    let rejects_path = opts.skip_invalid.then(|| {
        opts.rejects.clone().unwrap_or_else(|| {
            let mut p = path.as_os_str().to_owned();
            p.push(".rejected.csv");
            PathBuf::from(p)
        })
    });
    let rejects = match &rejects_path {
        Some(p) => Some(csv::Writer::from_path(p).map_err(|e| ImportError::Io(e.into()))?),
        None => None,
    };
    let progress = if opts.progress {
        let len = std::fs::metadata(path)?.len();
        let pb = indicatif::ProgressBar::new(len);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {bar:40} {percent:>3}% {bytes}/{total_bytes} ({eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(pb)
    } else {
        None
    };

    let default_ingested = opts
        .ingested_on
        .unwrap_or_else(|| ecpa_domain::tz::taipei_date(now));
    let parser = Parser {
        path: path.to_path_buf(),
        enc,
        default_ingested,
        agencies,
        rejects,
        progress,
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Msg>(8);
    let parse_thread = std::thread::spawn(move || parser.run(tx));

    let now_ms = crate::db::ms(now);
    let mut conn = db.pool.begin().await?;
    let seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM import_batches")
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO import_batches (id, seq, source, encoding, started_at, finished_at, rows_read, rows_imported, rows_rejected) \
         VALUES ($1, $2, $3, $4, $5, $5, 0, 0, 0)",
    )
    .bind(&batch_id)
    .bind(seq)
    .bind(path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default())
    .bind(enc.name())
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;

    let mut sql = Statements::new(db.backend);
    let mut outcome: Result<u64, ImportError> = Err(ImportError::Csv {
        line: 0,
        message: "the parser stopped unexpectedly".into(),
    });
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Rows(rows) => {
                if let Err(e) =
                    write_chunk(&mut conn, &mut sql, &rows, &batch_id, seq, now_ms).await
                {
                    outcome = Err(e.into());
                    break;
                }
                summary.imported += rows.len() as u64;
            }
            Msg::Rejected(e) => {
                summary.rejected += 1;
                if summary.errors.len() < MAX_REPORTED {
                    summary.errors.push(e);
                }
            }
            Msg::Done { rows_read } => {
                outcome = Ok(rows_read);
                break;
            }
            Msg::Failed(e) => {
                outcome = Err(e);
                break;
            }
        }
    }
    drop(rx); // unblocks the parser if we stopped early
    let _ = parse_thread.join();
    summary.rejects_file = rejects_path.filter(|_| summary.rejected > 0);
    summary.elapsed = started.elapsed();

    let rows_read = match outcome {
        Ok(n) => n,
        Err(e) => {
            conn.rollback().await?;
            return Err(e);
        }
    };
    summary.rows_read = rows_read;
    if summary.rejected > 0 && !opts.skip_invalid {
        conn.rollback().await?;
        summary.imported = 0;
        return Err(ImportError::Rejected(Box::new(summary)));
    }
    sqlx::query("UPDATE import_batches SET finished_at = $1, rows_read = $2, rows_imported = $3, rows_rejected = $4 WHERE id = $5")
        .bind(crate::db::ms(OffsetDateTime::now_utc()))
        .bind(rows_read as i64)
        .bind(summary.imported as i64)
        .bind(summary.rejected as i64)
        .bind(&batch_id)
        .execute(&mut *conn)
        .await?;
    conn.commit().await?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// The registered batches, oldest first: (id, seq, rows imported).
pub async fn batches(db: &Db) -> Result<Vec<(String, i64, i64)>, ServerError> {
    let rows = sqlx::query("SELECT id, seq, rows_imported FROM import_batches ORDER BY seq")
        .fetch_all(&db.pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                r.try_get("seq")?,
                r.try_get("rows_imported")?,
            ))
        })
        .collect()
}
