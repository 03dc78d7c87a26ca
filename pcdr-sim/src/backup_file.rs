//! The emulator's backup file format: what `BACKUP` writes and `RESTORE` reads.
//!
//! One backup set per file. All integers are little-endian; strings are UTF-8 with a
//! `u16` byte length in front.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `PCDRBAK1` |
//! | 8 | 2 | format version, 3 |
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
//! | 140 | 2+n | DatabaseName |
//! | … | 2+n | ServerName (`@@SERVERNAME` of the instance that wrote the set) |
//! | … | 2 | file count, then per file: type (`0` data, `1` log), logical name, physical name |
//! | … | 4 | message count, then per message: id `u64`, LSN `u128` |
//! | end−4 | 4 | CRC-32 (IEEE) of every byte before it |
//!
//! A file that does not start with the magic and version, or whose header cannot be read,
//! is "incorrectly formed" (3241); a file that ends early or fails its checksum gives a
//! read failure (3203). This module owns the bytes only; it knows nothing of databases.

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::guid::Guid;

const MAGIC: &[u8; 8] = b"PCDRBAK1";
const VERSION: u16 = 3;
/// Bytes before the database name.
const FIXED_HEADER: usize = 140;

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
    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let h = &self.header;
        let mut out = Vec::with_capacity(128 + self.messages.len() * 24);
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
        let crc = crc32(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Reads a whole backup set from its bytes.
    pub fn decode(bytes: &[u8]) -> Result<BackupSet, BackupFileError> {
        let header = Self::decode_header(bytes)?;
        let body_end = bytes
            .len()
            .checked_sub(4)
            .ok_or(BackupFileError::Truncated)?;
        let mut reader = Reader::new(bytes, FIXED_HEADER);
        reader.string()?;
        reader.string()?;
        let files = read_files(&mut reader)?;
        let messages = read_messages(&mut reader)?;
        if reader.pos != body_end {
            return Err(BackupFileError::Truncated);
        }
        let stored = bytes
            .get(body_end..)
            .and_then(|tail| <[u8; 4]>::try_from(tail).ok())
            .ok_or(BackupFileError::Truncated)?;
        if crc32(&bytes[..body_end]) != u32::from_le_bytes(stored) {
            return Err(BackupFileError::Checksum);
        }
        Ok(BackupSet {
            header,
            files,
            messages,
        })
    }

    /// The set as `RESTORE HEADERONLY` reads it: the header only ("Returns a result set
    /// containing all the backup header information", RESTORE Statements - HEADERONLY,
    /// <https://learn.microsoft.com/en-us/sql/t-sql/statements/restore-statements-headeronly-transact-sql>),
    /// so a body that ends early or fails its checksum shows only when the set is
    /// restored or verified ("Possible Media Errors During Backup and Restore",
    /// <https://learn.microsoft.com/en-us/sql/relational-databases/backup-restore/possible-media-errors-during-backup-and-restore-sql-server>).
    /// The whole set when it reads; else its header with no files or messages.
    pub fn decode_for_header(bytes: &[u8]) -> Result<BackupSet, BackupFileError> {
        let header = Self::decode_header(bytes)?;
        Ok(Self::decode(bytes).unwrap_or(BackupSet {
            header,
            files: Vec::new(),
            messages: Vec::new(),
        }))
    }

    /// Reads only the header; a damaged header is [`BackupFileError::Malformed`].
    pub(crate) fn decode_header(bytes: &[u8]) -> Result<BackupHeader, BackupFileError> {
        let malformed = |_| BackupFileError::Malformed;
        if bytes.get(..8) != Some(MAGIC.as_slice()) {
            return Err(BackupFileError::Malformed);
        }
        let mut reader = Reader::new(bytes, 8);
        if reader.u16().map_err(malformed)? != VERSION {
            return Err(BackupFileError::Malformed);
        }
        let kind = BackupKind::from_code(reader.u8().map_err(malformed)?)
            .ok_or(BackupFileError::Malformed)?;
        let flags = reader.u8().map_err(malformed)?;
        let (has_checksum, is_copy_only) = (flags & 1 == 1, flags & 2 == 2);
        let begins_log_chain = flags & 4 == 4;
        let family_guid = Guid(reader.array::<16>().map_err(malformed)?);
        let binding_id = Guid(reader.array::<16>().map_err(malformed)?);
        let first_lsn = u128::from_le_bytes(reader.array::<16>().map_err(malformed)?);
        let last_lsn = u128::from_le_bytes(reader.array::<16>().map_err(malformed)?);
        let start = time(reader.i64().map_err(malformed)?)?;
        let finish = time(reader.i64().map_err(malformed)?)?;
        let database_backup_lsn = u128::from_le_bytes(reader.array::<16>().map_err(malformed)?);
        let first_recovery_fork = Guid(reader.array::<16>().map_err(malformed)?);
        let recovery_fork = Guid(reader.array::<16>().map_err(malformed)?);
        let database_name = reader.string().map_err(malformed)?;
        let server_name = reader.string().map_err(malformed)?;
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
            has_checksum,
            is_copy_only,
            begins_log_chain,
            database_backup_lsn,
            first_recovery_fork,
            recovery_fork,
        })
    }

    /// Reads and decodes the backup set in the file at `path`.
    pub fn read(path: &Path) -> Result<BackupSet, BackupFileError> {
        let bytes = std::fs::read(path).map_err(|e| BackupFileError::Open(e.to_string()))?;
        BackupSet::decode(&bytes)
    }
}

fn time(millis: i64) -> Result<DateTime<Utc>, BackupFileError> {
    DateTime::from_timestamp_millis(millis).ok_or(BackupFileError::Malformed)
}

fn read_files(reader: &mut Reader<'_>) -> Result<Vec<FileEntry>, BackupFileError> {
    let count = reader.u16()?;
    let mut files = Vec::new();
    for _ in 0..count {
        let is_log = reader.u8()? == 1;
        let logical_name = reader.string()?;
        let physical_name = reader.string()?;
        files.push(FileEntry {
            logical_name,
            physical_name,
            is_log,
        });
    }
    Ok(files)
}

fn read_messages(reader: &mut Reader<'_>) -> Result<Vec<Message>, BackupFileError> {
    let count = u32::from_le_bytes(reader.array::<4>()?);
    let mut messages = Vec::new();
    for _ in 0..count {
        let id = u64::from_le_bytes(reader.array::<8>()?);
        let lsn = u128::from_le_bytes(reader.array::<16>()?);
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

/// A bounds-checked cursor; running past the end is [`BackupFileError::Truncated`].
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], pos: usize) -> Self {
        Self { bytes, pos }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], BackupFileError> {
        let end = self.pos.checked_add(n).ok_or(BackupFileError::Truncated)?;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or(BackupFileError::Truncated)?;
        self.pos = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], BackupFileError> {
        <[u8; N]>::try_from(self.take(N)?).map_err(|_| BackupFileError::Truncated)
    }

    fn u8(&mut self) -> Result<u8, BackupFileError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, BackupFileError> {
        Ok(u16::from_le_bytes(self.array::<2>()?))
    }

    fn i64(&mut self) -> Result<i64, BackupFileError> {
        Ok(i64::from_le_bytes(self.array::<8>()?))
    }

    fn string(&mut self) -> Result<String, BackupFileError> {
        let len = usize::from(self.u16()?);
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| BackupFileError::Malformed)
    }
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320).
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn header_bytes_are_laid_out_as_documented() {
        let bytes = sample().encode();
        assert_eq!(&bytes[..8], b"PCDRBAK1");
        assert_eq!(&bytes[8..10], &[3, 0]);
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
        assert_eq!(&bytes[140..145], &[3, 0, b'm', b'g', b'c']);
        assert_eq!(&bytes[145..147], &[9, 0]);
        assert_eq!(&bytes[147..156], b"SQLPC-ATL");
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
}
