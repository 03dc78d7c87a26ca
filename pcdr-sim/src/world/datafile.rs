//! The database data files on disk: a new chat database's file filled with real bytes
//! of the world's database size, the size of a database's data file, and writing a
//! restored one from a backup's data pages.
//!
//! Owns the bytes of `data/<instance>/*.mdf` only; what a database is lives in
//! `dbops.rs`, the backup file's layout in `backup_file.rs`.

use std::io::Write;
use std::path::Path;

use crate::world::model::Database;

/// The bytes written at a time.
const CHUNK: usize = 1 << 20;
/// The size of a SQL Server data page ("Pages and Extents Architecture Guide",
/// <https://learn.microsoft.com/en-us/sql/relational-databases/pages-and-extents-architecture-guide>).
const PAGE: usize = 8192;

/// Writes `len` bytes of a deterministic pseudo-random fill to a new file at `path`, in
/// chunks of a MiB: real bytes, not a sparse file, so reading and copying it costs what
/// its size says. One MiB of SplitMix64 output is made once; each chunk is that MiB with
/// its own number at the head of every 8 KiB page (SQL Server's page size), so no two
/// chunks are alike.
pub fn fill(path: &Path, len: u64) -> std::io::Result<()> {
    let mut file = std::io::BufWriter::with_capacity(CHUNK, std::fs::File::create(path)?);
    let mut chunk = random_chunk();
    let mut left = len;
    for number in 0u64.. {
        if left == 0 {
            break;
        }
        for page in chunk.chunks_exact_mut(PAGE) {
            page[..8].copy_from_slice(&number.to_le_bytes());
        }
        let take = usize::try_from(left).map_or(CHUNK, |l| l.min(CHUNK));
        file.write_all(&chunk[..take])?;
        left -= take as u64;
    }
    file.flush()
}

/// A MiB of SplitMix64 output from a fixed seed.
fn random_chunk() -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut chunk = vec![0u8; CHUNK];
    for word in chunk.chunks_exact_mut(8) {
        word.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
    }
    chunk
}

/// The next value of SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom
/// number generators", 2014).
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The path of `db`'s data file (its first file that is not the log).
pub fn path_of(db: &Database) -> Option<&Path> {
    db.files
        .iter()
        .find(|f| !f.is_log)
        .map(|f| Path::new(f.physical_name.as_str()))
}

/// The size of `db`'s data file on disk; 0 when the emulator never wrote one (the
/// system databases, and mirror copies, whose pages the emulator does not keep).
pub fn size_of(db: &Database) -> u64 {
    path_of(db)
        .and_then(|p| std::fs::metadata(p).ok())
        .map_or(0, |m| m.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filled_file_holds_its_size_in_varied_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mgc.mdf");
        fill(&path, 3 * CHUNK as u64 + 100).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 3 * CHUNK + 100);
        assert_ne!(bytes[..CHUNK], bytes[CHUNK..2 * CHUNK]);
        assert!(bytes.iter().filter(|b| **b == 0).count() < bytes.len() / 100);
    }
}
