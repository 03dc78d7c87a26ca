//! An instance's offset from UTC, and its local dates converted to UTC with it.
//!
//! SQL Server dates everything in the local time of the computer it runs on:
//! `SYSDATETIME()`, `BackupStartDate`/`BackupFinishDate` (`RESTORE HEADERONLY`),
//! `msdb.dbo.restorehistory.restore_date`, `backupset.backup_finish_date` (beside which
//! it records the offset, `backupset.time_zone`), `sys.dm_exec_sessions.login_time`. The
//! offset is what the instance itself gives: `SYSDATETIME()` and `SYSUTCDATETIME()` read
//! in one statement
//! (<https://learn.microsoft.com/sql/t-sql/functions/sysdatetime-transact-sql>,
//! <https://learn.microsoft.com/sql/t-sql/functions/sysutcdatetime-transact-sql>).
//! Owns the arithmetic only; the plane asks once per connection.

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};

/// The offset of an instance whose clock reads `local` when UTC reads `utc`, to the
/// nearest minute (the two readings of one statement can differ by a fraction of a
/// second); `None` beyond a day, which no time zone is.
pub fn offset_between(local: NaiveDateTime, utc: NaiveDateTime) -> Option<FixedOffset> {
    const MINUTE_MS: i64 = 60_000;
    let millis = (local - utc).num_milliseconds();
    let minutes = (millis + MINUTE_MS / 2).div_euclid(MINUTE_MS);
    FixedOffset::east_opt(i32::try_from(minutes * 60).ok()?)
}

/// `local`, a date an instance at `offset` gave, in UTC.
pub fn to_utc(local: NaiveDateTime, offset: FixedOffset) -> DateTime<Utc> {
    (local - offset).and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(h: u32, m: u32, s: u32, ms: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, 7)
            .and_then(|d| d.and_hms_milli_opt(h, m, s, ms))
            .expect("a valid date")
    }

    #[test]
    fn a_server_behind_utc_has_a_negative_offset_to_the_minute() {
        let offset = offset_between(at(6, 59, 59, 999), at(13, 0, 0, 1)).unwrap();
        assert_eq!(offset.local_minus_utc(), -6 * 3600);
        let nepal = offset_between(at(18, 45, 0, 0), at(13, 0, 0, 0)).unwrap();
        assert_eq!(nepal.local_minus_utc(), 5 * 3600 + 45 * 60);
    }

    #[test]
    fn a_local_date_converts_to_utc_with_the_servers_offset() {
        let central = FixedOffset::west_opt(6 * 3600).unwrap();
        assert_eq!(to_utc(at(7, 30, 0, 0), central), at(13, 30, 0, 0).and_utc());
        let utc = FixedOffset::east_opt(0).unwrap();
        assert_eq!(to_utc(at(7, 30, 0, 0), utc), at(7, 30, 0, 0).and_utc());
    }

    #[test]
    fn no_time_zone_is_a_day_away() {
        assert_eq!(
            offset_between(at(12, 0, 0, 0) + chrono::Duration::days(2), at(12, 0, 0, 0)),
            None
        );
    }
}
