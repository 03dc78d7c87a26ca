//! The emulator's backup file format: what `BACKUP` writes and `RESTORE` reads.
//!
//! One backup set per file. All integers are little-endian; strings are UTF-8 with a
//! `u16` byte length in front.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `PCDRBAK1` |
//! | 8 | 2 | format version, 5 |
//! | 10 | 1 | backup type: 1 full database, 2 log (as `RESTORE HEADERONLY`'s `BackupType`) |
//! | 11 | 1 | flags: bit 0 set when taken `WITH CHECKSUM`, bit 1 when taken `WITH COPY_ONLY`, bit 2 when the set begins a log chain |
//! | 12 | 16 | FamilyGUID, RFC 4122 byte order |
//! | 28 | 16 | BindingID (the backed-up database's `database_guid`), same order |
//! | 44 | 16 | FirstLSN, `u128` |
//! | 60 | 16 | LastLSN, `u128` (the LSN of the next log record after the set) |
//! | 76 | 8 | BackupStartDate, milliseconds since 1970-01-01 UTC, `i64` |
//! | 84 | 8 | BackupFinishDate, same |
//! | 92 | 16 | DatabaseBackupLSN, `u128` |
//! | 108 | 16 | FirstRecoveryForkID, RFC 4122 byte order |
//! | 124 | 16 | RecoveryForkID, same |
//! | 140 | 16 | ForkPointLSN, `u128`, 0 when the set does not span a fork point |
//! | 156 | 8 | data page bytes `u64` (0 for a log backup) |
//! | 164 | 2+n | DatabaseName |
//! | … | 2+n | ServerName (`@@SERVERNAME` of the instance that wrote the set) |
//! | … | 2 | file count, then per file: type (`0` data, `1` log), logical name, physical name |
//! | … | 4 | message count, then per message: id `u64`, LSN `u128` |
//! | … | n | the data pages: a full backup's copy of the database's data file |
//! | end−4 | 4 | CRC-32 (IEEE) of every byte before it |
//!
//! A file that does not start with the magic and version, or whose header cannot be read,
//! is "incorrectly formed" (3241); a file that ends early or fails its checksum gives a
//! read failure (3203). This module owns the bytes only; it knows nothing of databases.

use std::io::{Read, Write};
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::guid::Guid;

const MAGIC: &[u8; 8] = b"PCDRBAK1";
const VERSION: u16 = 5;
/// The bytes of data pages moved at a time.
const CHUNK: usize = 1 << 20;

/// What a backup set holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupKind {
    /// A full database backup (`BackupType` 1).
    Database,
    /// A transaction log backup (`BackupType` 2).
    Log,
}

impl BackupKind {
    /// SQL Server's `BackupType` code.
    pub fn code(self) -> u8 {
        match self {
            BackupKind::Database => 1,
            BackupKind::Log => 2,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(BackupKind::Database),
            2 => Some(BackupKind::Log),
            _ => None,
        }
    }
}

/// The header of a backup set: what `RESTORE HEADERONLY` shows of it (RESTORE Statements -
/// HEADERONLY (Transact-SQL) on Microsoft Learn; the column each field stands for is named).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupHeader {
    /// `DatabaseName`: the database backed up.
    pub database_name: String,
    /// `ServerName`: `@@SERVERNAME` of the instance that wrote the set.
    pub server_name: String,
    /// `BackupType`: full or log.
    pub kind: BackupKind,
    /// `FirstLSN`: the first LSN in the set.
    pub first_lsn: u128,
    /// `LastLSN`: the LSN of the next log record after the set.
    pub last_lsn: u128,
    /// `FamilyGUID`: the database's backup family.
    pub family_guid: Guid,
    /// `BindingID`: the `database_guid` of the database backed up, which a restore
    /// replaces with a new one, so two databases of one family tell apart.
    pub binding_id: Guid,
    /// `BackupStartDate`.
    pub start: DateTime<Utc>,
    /// `BackupFinishDate`.
    pub finish: DateTime<Utc>,
    /// `HasBackupChecksums`: taken `WITH CHECKSUM`.
    pub has_checksum: bool,
    /// `IsCopyOnly`: taken `WITH COPY_ONLY`, outside the sequence of regular backups
    /// (Copy-only backups, Microsoft Learn).
    pub is_copy_only: bool,
    /// `BeginsLogChain`: the first log backup of a continuous chain, taken after the
    /// database was created.
    pub begins_log_chain: bool,
    /// `DatabaseBackupLSN`: where the newest full backup before this set began (for a
    /// full backup, the one before it); zero when there was none.
    pub database_backup_lsn: u128,
    /// `FirstRecoveryForkID`: the recovery fork the set starts on.
    pub first_recovery_fork: Guid,
    /// `RecoveryForkID`: the recovery fork it ends on.
    pub recovery_fork: Guid,
    /// `ForkPointLSN`: where the set passes from `FirstRecoveryForkID` to
    /// `RecoveryForkID` (the LSN its database was recovered at), when they differ.
    pub fork_point_lsn: Option<u128>,
    /// The bytes of data pages after the messages: the size of the database's data file
    /// for a full backup ("A full database backup backs up the whole database",
    /// Full Database Backups (SQL Server), Microsoft Learn:
    /// <https://learn.microsoft.com/en-us/sql/relational-databases/backup-restore/full-database-backups-sql-server>),
    /// 0 for a log backup, which holds only log records.
    pub data_bytes: u64,
}

/// A database file recorded in a backup: a row of `RESTORE FILELISTONLY` (RESTORE
/// Statements - FILELISTONLY (Transact-SQL)).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileEntry {
    /// `LogicalName`: the name `RESTORE … WITH MOVE` refers to.
    pub logical_name: String,
    /// `PhysicalName`: where the file was when backed up.
    pub physical_name: String,
    /// `Type` `L`: the log file (otherwise `D`, a data file).
    pub is_log: bool,
}

/// A chat message carried in a backup: its id and the LSN that committed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Message {
    /// The message id, unique in the world.
    pub id: u64,
    /// The LSN of its commit record.
    pub lsn: u128,
}

/// One backup set, as the emulator writes it to a backup file: header, files, and the
/// chat messages it carries (the emulator's stand-in for data pages and log records).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSet {
    /// What `RESTORE HEADERONLY` shows.
    pub header: BackupHeader,
    /// What `RESTORE FILELISTONLY` shows: the database's files.
    pub files: Vec<FileEntry>,
    /// The messages the set carries, in LSN order.
    pub messages: Vec<Message>,
}

/// Why a backup file cannot be used, with the SQL Server error it maps to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackupFileError {
    /// The file does not exist or cannot be opened (3201).
    #[error("cannot open backup device: {0}")]
    Open(String),
    /// Not a backup file of this format, or its header is damaged (3241).
    #[error("the media family is incorrectly formed")]
    Malformed,
    /// The file ends early (3203, operating system error 38).
    #[error("reached the end of the file")]
    Truncated,
    /// The checksum does not match (3203, operating system error 23).
    #[error("data error (cyclic redundancy check)")]
    Checksum,
}

impl BackupSet {
    /// The file's bytes, for a set whose data pages are empty (`data_bytes` 0).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out, &mut std::io::empty())
            .expect("writing to memory cannot fail");
        out
    }

    /// Writes the file to `out`: the header, the files and messages, then exactly
    /// `header.data_bytes` bytes of data pages read from `pages` in large chunks, then
    /// the checksum. A `pages` that ends early is an [`std::io::ErrorKind::UnexpectedEof`].
    pub fn write_to(&self, out: &mut impl Write, pages: &mut impl Read) -> std::io::Result<()> {
        let mut sink = Checksummed::new(out);
        sink.write_all(&self.record())?;
        let copied = copy_exactly(pages, &mut sink, self.header.data_bytes)?;
        if copied != self.header.data_bytes {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let crc = sink.crc();
        sink.inner.write_all(&crc.to_le_bytes())
    }

    /// The size of the file the set is written to: its header, files, messages, data
    /// pages and checksum.
    pub fn file_bytes(&self) -> u64 {
        self.record().len() as u64 + self.header.data_bytes + 4
    }

    /// Header, files and messages: every byte before the data pages.
    fn record(&self) -> Vec<u8> {
        let h = &self.header;
        let mut out = Vec::with_capacity(256 + self.messages.len() * 24);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.push(h.kind.code());
        out.push(
            u8::from(h.has_checksum)
                | (u8::from(h.is_copy_only) << 1)
                | (u8::from(h.begins_log_chain) << 2),
        );
        out.extend_from_slice(&h.family_guid.0);
        out.extend_from_slice(&h.binding_id.0);
        out.extend_from_slice(&h.first_lsn.to_le_bytes());
        out.extend_from_slice(&h.last_lsn.to_le_bytes());
        out.extend_from_slice(&h.start.timestamp_millis().to_le_bytes());
        out.extend_from_slice(&h.finish.timestamp_millis().to_le_bytes());
        out.extend_from_slice(&h.database_backup_lsn.to_le_bytes());
        out.extend_from_slice(&h.first_recovery_fork.0);
        out.extend_from_slice(&h.recovery_fork.0);
        out.extend_from_slice(&h.fork_point_lsn.unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&h.data_bytes.to_le_bytes());
        put_str(&mut out, &h.database_name);
        put_str(&mut out, &h.server_name);
        put_u16(&mut out, self.files.len());
        for file in &self.files {
            out.push(u8::from(file.is_log));
            put_str(&mut out, &file.logical_name);
            put_str(&mut out, &file.physical_name);
        }
        out.extend_from_slice(&(self.messages.len() as u32).to_le_bytes());
        for message in &self.messages {
            out.extend_from_slice(&message.id.to_le_bytes());
            out.extend_from_slice(&message.lsn.to_le_bytes());
        }
        out
    }

    /// Reads a whole backup set from its bytes.
    pub fn decode(bytes: &[u8]) -> Result<BackupSet, BackupFileError> {
        Self::read_from(&mut &bytes[..], &mut std::io::sink())
    }

    /// Reads a whole backup set from `input`, writing its data pages to `pages` as they
    /// pass (a restore's data file, or a sink), and checks its length and checksum.
    pub fn read_from(
        input: &mut impl Read,
        pages: &mut impl Write,
    ) -> Result<BackupSet, BackupFileError> {
        let mut source = Checksummed::new(input);
        let header = read_header(&mut source)?;
        let files = read_files(&mut source)?;
        let messages = read_messages(&mut source)?;
        let copied = copy_exactly(&mut source, pages, header.data_bytes)
            .map_err(|e| BackupFileError::Open(e.to_string()))?;
        if copied != header.data_bytes {
            return Err(BackupFileError::Truncated);
        }
        let crc = source.crc();
        let stored = array::<4, _>(&mut source.inner)?;
        let mut rest = [0u8; 1];
        if source
            .inner
            .read(&mut rest)
            .map_err(|_| BackupFileError::Truncated)?
            != 0
        {
            return Err(BackupFileError::Truncated);
        }
        if crc != u32::from_le_bytes(stored) {
            return Err(BackupFileError::Checksum);
        }
        Ok(BackupSet {
            header,
            files,
            messages,
        })
    }

    /// The set as `RESTORE HEADERONLY` reads it: the header, files and messages, never
    /// the data pages nor the checksum after them ("Returns a result set containing all
    /// the backup header information", RESTORE Statements - HEADERONLY,
    /// <https://learn.microsoft.com/en-us/sql/t-sql/statements/restore-statements-headeronly-transact-sql>),
    /// so a body that ends early or fails its checksum shows only when the set is
    /// restored or verified ("Possible Media Errors During Backup and Restore",
    /// <https://learn.microsoft.com/en-us/sql/relational-databases/backup-restore/possible-media-errors-during-backup-and-restore-sql-server>).
    /// A damaged header is [`BackupFileError::Malformed`]; files or messages that cannot
    /// be read leave the set without them.
    pub fn read_for_header(input: &mut impl Read) -> Result<BackupSet, BackupFileError> {
        let header = read_header(input)?;
        let record = read_files(input).and_then(|files| Ok((files, read_messages(input)?)));
        let (files, messages) = record.unwrap_or_default();
        Ok(BackupSet {
            header,
            files,
            messages,
        })
    }

    /// Reads and decodes the backup set in the file at `path`.
    pub fn read(path: &Path) -> Result<BackupSet, BackupFileError> {
        let file = std::fs::File::open(path).map_err(|e| BackupFileError::Open(e.to_string()))?;
        Self::read_from(&mut std::io::BufReader::new(file), &mut std::io::sink())
    }
}

/// Reads the header; a damaged header is [`BackupFileError::Malformed`].
fn read_header(input: &mut impl Read) -> Result<BackupHeader, BackupFileError> {
    let malformed = |_| BackupFileError::Malformed;
    if array::<8, _>(input).map_err(malformed)? != *MAGIC {
        return Err(BackupFileError::Malformed);
    }
    if u16::from_le_bytes(array(input).map_err(malformed)?) != VERSION {
        return Err(BackupFileError::Malformed);
    }
    let [kind, flags] = array::<2, _>(input).map_err(malformed)?;
    let kind = BackupKind::from_code(kind).ok_or(BackupFileError::Malformed)?;
    let family_guid = Guid(array(input).map_err(malformed)?);
    let binding_id = Guid(array(input).map_err(malformed)?);
    let first_lsn = u128::from_le_bytes(array(input).map_err(malformed)?);
    let last_lsn = u128::from_le_bytes(array(input).map_err(malformed)?);
    let start = time(i64::from_le_bytes(array(input).map_err(malformed)?))?;
    let finish = time(i64::from_le_bytes(array(input).map_err(malformed)?))?;
    let database_backup_lsn = u128::from_le_bytes(array(input).map_err(malformed)?);
    let first_recovery_fork = Guid(array(input).map_err(malformed)?);
    let recovery_fork = Guid(array(input).map_err(malformed)?);
    let fork_point_lsn = u128::from_le_bytes(array(input).map_err(malformed)?);
    let data_bytes = u64::from_le_bytes(array(input).map_err(malformed)?);
    let database_name = string(input).map_err(malformed)?;
    let server_name = string(input).map_err(malformed)?;
    Ok(BackupHeader {
        database_name,
        server_name,
        kind,
        first_lsn,
        last_lsn,
        family_guid,
        binding_id,
        start,
        finish,
        has_checksum: flags & 1 == 1,
        is_copy_only: flags & 2 == 2,
        begins_log_chain: flags & 4 == 4,
        database_backup_lsn,
        first_recovery_fork,
        recovery_fork,
        fork_point_lsn: (fork_point_lsn != 0).then_some(fork_point_lsn),
        data_bytes,
    })
}

fn time(millis: i64) -> Result<DateTime<Utc>, BackupFileError> {
    DateTime::from_timestamp_millis(millis).ok_or(BackupFileError::Malformed)
}

fn read_files(input: &mut impl Read) -> Result<Vec<FileEntry>, BackupFileError> {
    let count = u16::from_le_bytes(array(input)?);
    let mut files = Vec::new();
    for _ in 0..count {
        let [is_log] = array::<1, _>(input)?;
        let logical_name = string(input)?;
        let physical_name = string(input)?;
        files.push(FileEntry {
            logical_name,
            physical_name,
            is_log: is_log == 1,
        });
    }
    Ok(files)
}

fn read_messages(input: &mut impl Read) -> Result<Vec<Message>, BackupFileError> {
    let count = u32::from_le_bytes(array(input)?);
    let mut messages = Vec::new();
    for _ in 0..count {
        let id = u64::from_le_bytes(array(input)?);
        let lsn = u128::from_le_bytes(array(input)?);
        messages.push(Message { id, lsn });
    }
    Ok(messages)
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let len = bytes.len().min(usize::from(u16::MAX));
    put_u16(out, len);
    out.extend_from_slice(&bytes[..len]);
}

fn put_u16(out: &mut Vec<u8>, value: usize) {
    let value = u16::try_from(value).unwrap_or(u16::MAX);
    out.extend_from_slice(&value.to_le_bytes());
}

/// The next `N` bytes; running past the end is [`BackupFileError::Truncated`].
fn array<const N: usize, R: Read>(input: &mut R) -> Result<[u8; N], BackupFileError> {
    let mut bytes = [0u8; N];
    input
        .read_exact(&mut bytes)
        .map_err(|_| BackupFileError::Truncated)?;
    Ok(bytes)
}

/// A string with its `u16` byte length in front.
fn string(input: &mut impl Read) -> Result<String, BackupFileError> {
    let len = usize::from(u16::from_le_bytes(array(input)?));
    let mut bytes = vec![0u8; len];
    input
        .read_exact(&mut bytes)
        .map_err(|_| BackupFileError::Truncated)?;
    String::from_utf8(bytes).map_err(|_| BackupFileError::Malformed)
}

/// Copies up to `len` bytes from `from` to `to` in chunks of [`CHUNK`]; returns how
/// many there were (fewer when `from` ends early).
pub(crate) fn copy_exactly(
    from: &mut impl Read,
    to: &mut impl Write,
    len: u64,
) -> std::io::Result<u64> {
    let mut buffer = vec![0u8; CHUNK];
    let mut left = len;
    while left > 0 {
        let want = usize::try_from(left).map_or(CHUNK, |l| l.min(CHUNK));
        let got = from.read(&mut buffer[..want])?;
        if got == 0 {
            break;
        }
        to.write_all(&buffer[..got])?;
        left -= got as u64;
    }
    Ok(len - left)
}

/// A reader or writer that keeps the CRC-32 of the bytes that pass through it.
struct Checksummed<T> {
    inner: T,
    crc: u32,
}

impl<T> Checksummed<T> {
    fn new(inner: T) -> Self {
        Self { inner, crc: !0 }
    }

    fn crc(&self) -> u32 {
        !self.crc
    }
}

impl<R: Read> Read for Checksummed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.crc = crc32_update(self.crc, &buf[..n]);
        Ok(n)
    }
}

impl<W: Write> Write for Checksummed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc = crc32_update(self.crc, &buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The CRC-32 lookup tables for slicing by eight bytes: table 0 is the classic one
/// entry per byte value, table `k` the same byte `k` bytes further back.
const CRC_TABLES: [[u32; 256]; 8] = {
    let mut tables = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
            bit += 1;
        }
        tables[0][i] = crc;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let previous = tables[k - 1][i];
            tables[k][i] = (previous >> 8) ^ tables[0][(previous & 0xFF) as usize];
            i += 1;
        }
        k += 1;
    }
    tables
};

/// Continues a CRC-32 register (not yet inverted) over `bytes`, eight bytes a step.
fn crc32_update(mut crc: u32, bytes: &[u8]) -> u32 {
    let t = &CRC_TABLES;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let lo = crc ^ u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        let hi = u32::from_le_bytes([word[4], word[5], word[6], word[7]]);
        let byte = |value: u32, shift: u32| usize::from((value >> shift) as u8);
        crc = t[7][byte(lo, 0)]
            ^ t[6][byte(lo, 8)]
            ^ t[5][byte(lo, 16)]
            ^ t[4][byte(lo, 24)]
            ^ t[3][byte(hi, 0)]
            ^ t[2][byte(hi, 8)]
            ^ t[1][byte(hi, 16)]
            ^ t[0][byte(hi, 24)];
    }
    for &byte in words.remainder() {
        crc = (crc >> 8) ^ t[0][usize::from((crc as u8) ^ byte)];
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) of `bytes`.
    fn crc32(bytes: &[u8]) -> u32 {
        !crc32_update(!0, bytes)
    }

    fn sample() -> BackupSet {
        let start = DateTime::from_timestamp_millis(1_795_000_000_000).unwrap();
        BackupSet {
            header: BackupHeader {
                database_name: "mgc".into(),
                server_name: "SQLPC-ATL".into(),
                kind: BackupKind::Log,
                first_lsn: 35_000_000_000_100_000_001,
                last_lsn: 35_000_000_000_100_000_301,
                family_guid: Guid([0xAB; 16]),
                binding_id: Guid([0xCD; 16]),
                start,
                finish: start,
                has_checksum: true,
                is_copy_only: false,
                begins_log_chain: false,
                database_backup_lsn: 35_000_000_000_000_000_001,
                first_recovery_fork: Guid([0xF1; 16]),
                recovery_fork: Guid([0xF2; 16]),
                fork_point_lsn: Some(35_000_000_000_100_000_001),
                data_bytes: 0,
            },
            files: vec![FileEntry {
                logical_name: "mgc".into(),
                physical_name: "/d/mgc.mdf".into(),
                is_log: false,
            }],
            messages: vec![Message {
                id: 7,
                lsn: 35_000_000_000_100_000_101,
            }],
        }
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
    }

    #[test]
    fn header_bytes_are_laid_out_as_documented() {
        let bytes = sample().encode();
        assert_eq!(&bytes[..8], b"PCDRBAK1");
        assert_eq!(&bytes[8..10], &[5, 0]);
        assert_eq!(bytes[10], 2);
        assert_eq!(bytes[11], 1);
        assert_eq!(&bytes[12..28], &[0xAB; 16]);
        assert_eq!(&bytes[28..44], &[0xCD; 16]);
        assert_eq!(
            u128::from_le_bytes(bytes[44..60].try_into().unwrap()),
            35_000_000_000_100_000_001
        );
        assert_eq!(
            u128::from_le_bytes(bytes[92..108].try_into().unwrap()),
            35_000_000_000_000_000_001
        );
        assert_eq!(&bytes[108..124], &[0xF1; 16]);
        assert_eq!(&bytes[124..140], &[0xF2; 16]);
        assert_eq!(
            u128::from_le_bytes(bytes[140..156].try_into().unwrap()),
            35_000_000_000_100_000_001
        );
        assert_eq!(&bytes[156..164], &[0; 8]);
        assert_eq!(&bytes[164..169], &[3, 0, b'm', b'g', b'c']);
        assert_eq!(&bytes[169..171], &[9, 0]);
        assert_eq!(&bytes[171..180], b"SQLPC-ATL");
        let body = bytes.len() - 4;
        assert_eq!(
            u32::from_le_bytes(bytes[body..].try_into().unwrap()),
            crc32(&bytes[..body])
        );
    }

    #[test]
    fn a_copy_only_set_sets_flag_bit_1_and_round_trips() {
        let mut set = sample();
        set.header.is_copy_only = true;
        let bytes = set.encode();
        assert_eq!(bytes[11], 0b11);
        assert_eq!(BackupSet::decode(&bytes), Ok(set));
    }

    #[test]
    fn a_set_beginning_a_log_chain_sets_flag_bit_2_and_round_trips() {
        let mut set = sample();
        set.header.begins_log_chain = true;
        let bytes = set.encode();
        assert_eq!(bytes[11], 0b101);
        assert_eq!(BackupSet::decode(&bytes), Ok(set));
    }

    #[test]
    fn a_set_round_trips() {
        let set = sample();
        assert_eq!(BackupSet::decode(&set.encode()), Ok(set));
    }

    #[test]
    fn a_set_on_one_fork_has_no_fork_point_and_round_trips() {
        let mut set = sample();
        set.header.fork_point_lsn = None;
        let bytes = set.encode();
        assert_eq!(&bytes[140..156], &[0; 16]);
        assert_eq!(BackupSet::decode(&bytes), Ok(set));
    }

    #[test]
    fn every_truncation_is_refused() {
        let bytes = sample().encode();
        for len in 0..bytes.len() {
            let error = BackupSet::decode(&bytes[..len]).unwrap_err();
            assert!(
                matches!(
                    error,
                    BackupFileError::Malformed
                        | BackupFileError::Truncated
                        | BackupFileError::Checksum
                ),
                "{len}: {error:?}"
            );
        }
    }

    #[test]
    fn a_short_or_foreign_header_is_malformed_and_a_short_body_truncated() {
        let bytes = sample().encode();
        assert_eq!(
            BackupSet::decode(&bytes[..20]),
            Err(BackupFileError::Malformed)
        );
        assert_eq!(
            BackupSet::decode(b"TAPE0000 not ours"),
            Err(BackupFileError::Malformed)
        );
        let cut = bytes.len() - 10;
        assert_eq!(
            BackupSet::decode(&bytes[..cut]),
            Err(BackupFileError::Truncated)
        );
    }

    #[test]
    fn a_flipped_body_byte_fails_the_checksum() {
        let mut bytes = sample().encode();
        let at = bytes.len() - 6;
        bytes[at] ^= 0xFF;
        assert_eq!(BackupSet::decode(&bytes), Err(BackupFileError::Checksum));
    }

    /// A full set of `len` data page bytes, and its file.
    fn full_with_pages(len: u64) -> (BackupSet, Vec<u8>) {
        let mut set = sample();
        set.header.kind = BackupKind::Database;
        set.header.data_bytes = len;
        let pages: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let mut file = Vec::new();
        set.write_to(&mut file, &mut pages.as_slice()).unwrap();
        (set, file)
    }

    #[test]
    fn data_pages_follow_the_messages_and_come_back_on_read() {
        let (set, file) = full_with_pages(3 * CHUNK as u64 + 5);
        let mut pages = Vec::new();
        let read = BackupSet::read_from(&mut file.as_slice(), &mut pages).unwrap();
        assert_eq!(read, set);
        assert_eq!(pages.len() as u64, set.header.data_bytes);
        assert_eq!(pages[300], (300 * 31 % 251) as u8);
        assert!(file.len() as u64 > set.header.data_bytes);
    }

    #[test]
    fn damaged_or_missing_pages_are_seen_on_read_but_not_by_the_header() {
        let (set, mut file) = full_with_pages(100_000);
        file[60_000] ^= 0x01;
        assert_eq!(BackupSet::decode(&file), Err(BackupFileError::Checksum));
        assert_eq!(
            BackupSet::decode(&file[..50_000]),
            Err(BackupFileError::Truncated)
        );
        let header = BackupSet::read_for_header(&mut &file[..50_000]).unwrap();
        assert_eq!(header, set);
    }

    #[test]
    fn pages_shorter_than_the_header_says_are_not_written() {
        let mut set = sample();
        set.header.data_bytes = 10;
        let error = set
            .write_to(&mut Vec::new(), &mut [0u8; 4].as_slice())
            .unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof);
    }
}
