//! The check of a procedure's end state: what failover, failback and a switchover must
//! leave (as pcdr-core's `procedure/failover.rs`, `failback.rs` and `switchover.rs`
//! describe), and the message
//! ground truth (no message lost that a surviving log backup held, none duplicated; or,
//! after a failover whose report declares a data loss, exactly the messages it declares
//! lost missing).
//!
//! Reads the state only; every finding is a [`Difference`].

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use crate::world::model::{CHAT_DB, Database, InstanceId, MirrorRole, UserAccess, WorldState};
use crate::world::msdb::JobKind;
use crate::world::{World, WorldResult};

/// The end state to check against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// After failover: the pool runs on the backup site.
    FailedOver,
    /// After failback (or before any disaster): the pool runs on the primary site with
    /// log shipping to the backup site.
    Normal,
    /// After a planned switchover to the backup site: the pool runs on the backup site,
    /// whose mgc ships its log to the primary mgc, left RESTORING by its tail-log backup
    /// ("Change Roles Between Primary and Secondary Log Shipping Servers (SQL Server)",
    /// <https://learn.microsoft.com/sql/database-engine/log-shipping/change-roles-between-primary-and-secondary-log-shipping-servers-sql-server>).
    SwitchedOver,
}

impl std::str::FromStr for Expect {
    type Err = String;

    /// `failed-over`, `normal` or `switched-over`, as the CLI spells them.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "failed-over" | "failedover" => Ok(Expect::FailedOver),
            "normal" => Ok(Expect::Normal),
            "switched-over" | "switchedover" => Ok(Expect::SwitchedOver),
            _ => Err(format!(
                "unknown end state {text:?}; expected failed-over, normal or switched-over"
            )),
        }
    }
}

/// One way the world differs from the expected end state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// What was checked.
    pub what: String,
    /// What should be.
    pub expected: String,
    /// What is.
    pub found: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {}, found {}",
            self.what, self.expected, self.found
        )
    }
}

/// Collects differences.
#[derive(Default)]
struct Findings(Vec<Difference>);

impl Findings {
    fn check(&mut self, ok: bool, what: &str, expected: &str, found: impl fmt::Display) {
        if !ok {
            self.0.push(Difference {
                what: what.to_owned(),
                expected: expected.to_owned(),
                found: found.to_string(),
            });
        }
    }
}

/// The data loss a failover's report declares it accepted (`rpo.lost_from` of pcdr's
/// report): every log record from `lost_from` on is lost, and only those.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeclaredLoss {
    /// The first LSN the new primary does not hold.
    pub lost_from: u128,
}

impl World {
    /// Every difference between the world and the end state `expect`; empty when the
    /// procedure left what it should.
    pub fn verify(&self, expect: Expect) -> WorldResult<Vec<Difference>> {
        self.verify_declaring(expect, None)
    }

    /// As [`World::verify`], for a failover whose report declares a data loss: the
    /// messages missing on the new primary must be exactly those committed at or after
    /// the declared LSN, instead of none a surviving log backup held.
    pub fn verify_declaring(
        &self,
        expect: Expect,
        declared: Option<DeclaredLoss>,
    ) -> WorldResult<Vec<Difference>> {
        let state = self.read()?;
        let mut findings = Findings::default();
        match expect {
            Expect::FailedOver => failed_over(&state, declared, &mut findings),
            Expect::Normal => log_shipped_from(&state, InstanceId::Primary, &mut findings),
            Expect::SwitchedOver => {
                log_shipped_from(&state, InstanceId::Backup, &mut findings);
                nothing_lost(&state, InstanceId::Backup, &mut findings);
            }
        }
        Ok(findings.0)
    }
}

fn chat_db(state: &WorldState, instance: InstanceId) -> Option<&Database> {
    state.instance(instance).and_then(|i| i.database(CHAT_DB))
}

fn failed_over(state: &WorldState, declared: Option<DeclaredLoss>, f: &mut Findings) {
    f.check(state.pool.failed_over, "pool state", "FailedOver", "Normal");
    active_servers(state, &state.pool.backup_servers, "backup", f);
    serving_principal(state, InstanceId::Backup, f);
    let backup = state.instance(InstanceId::Backup);
    let still_secondary = backup.is_some_and(|i| {
        i.msdb
            .secondary_databases
            .iter()
            .any(|r| r.secondary_database.eq_ignore_ascii_case(CHAT_DB))
    });
    f.check(
        !still_secondary,
        "log shipping on the backup instance",
        "removed",
        "still configured",
    );
    messages(state, InstanceId::Backup, declared, f);
}

/// The messages missing on the new primary (the backup mgc) against those the lost
/// primary committed must be exactly those committed at or after the declared LSN.
fn declared_loss(state: &WorldState, backup: &Database, loss: DeclaredLoss, f: &mut Findings) {
    let Some(lost_primary) = chat_db(state, InstanceId::Primary) else {
        f.check(
            false,
            "declared data loss",
            "the lost primary mgc",
            "missing",
        );
        return;
    };
    let held: BTreeSet<u64> = backup.messages.iter().map(|m| m.id).collect();
    let committed = || lost_primary.messages.iter();
    let missing: BTreeSet<u64> = committed()
        .map(|m| m.id)
        .filter(|id| !held.contains(id))
        .collect();
    let declared: BTreeSet<u64> = committed()
        .filter(|m| m.lsn >= loss.lost_from)
        .map(|m| m.id)
        .collect();
    f.check(
        missing == declared,
        "messages of backup mgc",
        &format!(
            "missing exactly the {} the report declares lost (from LSN {})",
            declared.len(),
            loss.lost_from
        ),
        format!(
            "{} missing: {} of them not declared, and {} declared but held",
            missing.len(),
            missing.difference(&declared).count(),
            declared.difference(&missing).count()
        ),
    );
}

/// The site whose mgc `serving` (the primary or the backup instance) is.
fn site_servers(state: &WorldState, serving: InstanceId) -> (&[String], &'static str) {
    match serving {
        InstanceId::Backup | InstanceId::BackupMirror => (&state.pool.backup_servers, "backup"),
        InstanceId::Primary | InstanceId::PrimaryMirror => (&state.pool.primary_servers, "primary"),
    }
}

/// The other site's principal instance: the log-shipping secondary of `serving`.
fn other_site(serving: InstanceId) -> InstanceId {
    match serving {
        InstanceId::Backup | InstanceId::BackupMirror => InstanceId::Primary,
        InstanceId::Primary | InstanceId::PrimaryMirror => InstanceId::Backup,
    }
}

/// The steady state with the pool on `serving`'s site (the primary instance in normal
/// operation, the backup instance after a switchover): its mgc the mirrored principal,
/// log shipping from it to the other site's mgc, which restores a prefix of its
/// messages.
fn log_shipped_from(state: &WorldState, serving: InstanceId, f: &mut Findings) {
    let failed_over = serving == InstanceId::Backup;
    let pool = |failed_over: bool| if failed_over { "FailedOver" } else { "Normal" };
    f.check(
        state.pool.failed_over == failed_over,
        "pool state",
        pool(failed_over),
        pool(state.pool.failed_over),
    );
    let (servers, site) = site_servers(state, serving);
    active_servers(state, servers, site, f);
    serving_principal(state, serving, f);
    let secondary = other_site(serving);
    log_shipping_running(state, (serving, secondary), f);
    let primary = chat_db(state, serving);
    let backup = chat_db(state, secondary);
    f.check(
        backup.is_some_and(Database::accepts_logs),
        &format!("{} mgc", secondary.name()),
        "RESTORING or standby (a log-shipping secondary)",
        backup.map_or("missing".into(), describe),
    );
    let same_family =
        matches!((primary, backup), (Some(p), Some(b)) if p.family_guid == b.family_guid);
    f.check(
        same_family,
        &format!(
            "family GUID of {} and {} mgc",
            serving.name(),
            secondary.name()
        ),
        "the same",
        "different or missing",
    );
    messages(state, serving, None, f);
    if let (Some(p), Some(b)) = (primary, backup) {
        restored_prefix((serving, p), (secondary, b), f);
    }
}

/// The secondary mgc holds a prefix of the serving one's messages: log shipping
/// restores the serving database's log in order, so every message it holds is held by
/// the serving mgc, and so is every message committed before them.
fn restored_prefix(
    (serving, p): (InstanceId, &Database),
    (secondary, b): (InstanceId, &Database),
    f: &mut Findings,
) {
    let held: BTreeSet<u64> = b.messages.iter().map(|m| m.id).collect();
    let newest = held.last().copied().unwrap_or(0);
    let missing = held
        .iter()
        .filter(|id| !p.messages.iter().any(|m| m.id == **id))
        .count();
    let gaps = p
        .messages
        .iter()
        .filter(|m| m.id < newest && !held.contains(&m.id))
        .count();
    f.check(
        missing == 0 && gaps == 0,
        &format!("messages of {} mgc", secondary.name()),
        &format!("a prefix of those of {} mgc", serving.name()),
        format!(
            "{missing} not held by {} mgc, {gaps} older ones missing",
            serving.name()
        ),
    );
}

/// A planned role change loses nothing: every message ever committed is on the
/// serving mgc.
fn nothing_lost(state: &WorldState, serving: InstanceId, f: &mut Findings) {
    let Some(db) = chat_db(state, serving) else {
        return;
    };
    let held: BTreeSet<u64> = db.messages.iter().map(|m| m.id).collect();
    let lost: Vec<u64> = (1..state.next_message_id)
        .filter(|id| !held.contains(id))
        .collect();
    f.check(
        lost.is_empty(),
        &format!("messages of {} mgc", serving.name()),
        "every message ever committed",
        format!("{} lost, first {:?}", lost.len(), lost.first()),
    );
}

fn describe(db: &Database) -> String {
    let (_, state) = db.state.code_and_desc();
    let standby = if db.standby { " (standby)" } else { "" };
    format!("{state}{standby}, {}", db.user_access.desc())
}

fn active_servers(state: &WorldState, site_servers: &[String], site: &str, f: &mut Findings) {
    let active = &state.pool.active;
    let in_site = active
        .iter()
        .all(|s| site_servers.iter().any(|t| t.eq_ignore_ascii_case(s)));
    f.check(
        !active.is_empty() && in_site && active.len() <= 4,
        "active servers",
        &format!("1 to 4 servers of the {site} site"),
        format!("{active:?}"),
    );
}

fn serving_principal(state: &WorldState, instance: InstanceId, f: &mut Findings) {
    let what = format!("{} mgc", instance.name());
    let db = chat_db(state, instance);
    f.check(
        db.is_some_and(|d| d.is_recovered() && d.user_access == UserAccess::MultiUser),
        &what,
        "ONLINE, not standby, MULTI_USER",
        db.map_or("missing".into(), describe),
    );
    let partner = instance.mirror_partner();
    let principal = db
        .and_then(|d| d.mirroring.as_ref())
        .is_some_and(|m| m.role == MirrorRole::Principal && m.partner == partner.endpoint());
    let mirror = chat_db(state, partner)
        .and_then(|d| d.mirroring.as_ref())
        .is_some_and(|m| m.role == MirrorRole::Mirror && m.partner == instance.endpoint());
    f.check(
        principal && mirror,
        &format!("mirroring of {what}"),
        &format!("principal, mirrored to {}", partner.name()),
        "not mirrored to its site's mirror",
    );
}

/// Log shipping from `primary`'s mgc to `secondary`'s: the primary configuration and
/// its enabled backup job in `primary`'s msdb, the secondary configuration naming
/// `primary`'s server with its enabled copy and restore jobs in `secondary`'s.
fn log_shipping_running(
    state: &WorldState,
    (primary_id, secondary_id): (InstanceId, InstanceId),
    f: &mut Findings,
) {
    let primary = state.instance(primary_id).map(|i| &i.msdb);
    let backup = state.instance(secondary_id).map(|i| &i.msdb);
    let backup_job = primary.is_some_and(|m| {
        m.primary_databases
            .iter()
            .any(|r| r.primary_database.eq_ignore_ascii_case(CHAT_DB))
            && m.jobs
                .iter()
                .any(|j| j.enabled && matches!(j.kind, JobKind::Backup(_)))
    });
    f.check(
        backup_job,
        &format!("log shipping on the {} instance", primary_id.name()),
        "mgc configured as primary, backup job enabled",
        "missing or disabled",
    );
    let secondary = backup.is_some_and(|m| {
        let configured = m
            .secondary_databases
            .iter()
            .any(|r| r.secondary_database.eq_ignore_ascii_case(CHAT_DB))
            && m.secondaries.iter().any(|r| {
                r.primary_server
                    .eq_ignore_ascii_case(primary_id.server_name())
            });
        let enabled = |copy: bool| {
            m.jobs.iter().any(|j| {
                j.enabled
                    && match j.kind {
                        JobKind::Copy(_) => copy,
                        JobKind::Restore(_) => !copy,
                        _ => false,
                    }
            })
        };
        configured && enabled(true) && enabled(false)
    });
    f.check(
        secondary,
        &format!("log shipping on the {} instance", secondary_id.name()),
        "mgc configured as secondary, copy and restore jobs enabled",
        "missing or disabled",
    );
}

/// The ground truth on the serving chat database: nothing is held twice, nothing unknown
/// is held, and nothing a surviving log backup held is missing, or, when a data loss is
/// `declared`, exactly what it declares is missing.
fn messages(
    state: &WorldState,
    instance: InstanceId,
    declared: Option<DeclaredLoss>,
    f: &mut Findings,
) {
    let Some(db) = chat_db(state, instance) else {
        return;
    };
    let ids: Vec<u64> = db.messages.iter().map(|m| m.id).collect();
    let unique: BTreeSet<u64> = ids.iter().copied().collect();
    f.check(
        unique.len() == ids.len(),
        &format!("messages of {} mgc", instance.name()),
        "no message held twice",
        format!("{} duplicates", ids.len() - unique.len()),
    );
    let unknown = unique
        .iter()
        .filter(|id| **id >= state.next_message_id)
        .count();
    f.check(
        unknown == 0,
        &format!("messages of {} mgc", instance.name()),
        "only messages that were committed",
        format!("{unknown} never committed"),
    );
    if let Some(loss) = declared {
        declared_loss(state, db, loss, f);
    } else if let Some(truth) = &state.ground_truth {
        let lost: Vec<u64> = (1..=truth.guaranteed_through)
            .filter(|id| !unique.contains(id))
            .collect();
        f.check(
            lost.is_empty(),
            &format!("messages of {} mgc", instance.name()),
            &format!(
                "every message up to {} (the newest surviving log backup)",
                truth.guaranteed_through
            ),
            format!("{} lost, first {:?}", lost.len(), lost.first()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::WorldOptions;
    use crate::world::model::Site;

    #[test]
    fn a_new_world_is_normal_and_not_failed_over() {
        let dir = tempfile::tempdir().unwrap();
        let world = World::create(dir.path(), &WorldOptions::default()).unwrap();
        assert_eq!(world.verify(Expect::Normal).unwrap(), vec![]);
        let differences = world.verify(Expect::FailedOver).unwrap();
        let what: Vec<&str> = differences.iter().map(|d| d.what.as_str()).collect();
        assert!(what.contains(&"pool state"), "{what:?}");
        assert!(what.contains(&"backup mgc"), "{what:?}");
        assert!(
            what.contains(&"log shipping on the backup instance"),
            "{what:?}"
        );
    }

    #[test]
    fn the_cli_spellings_name_the_end_states() {
        let parse = |text: &str| text.parse::<Expect>();
        assert_eq!(parse("switched-over"), Ok(Expect::SwitchedOver));
        assert_eq!(parse("Failed-Over"), Ok(Expect::FailedOver));
        assert_eq!(parse("normal"), Ok(Expect::Normal));
        assert!(parse("switched").unwrap_err().contains("switched-over"));
    }

    /// A new world serves from the primary site: none of what a switchover leaves holds,
    /// and the messages check, which needs every committed message on the backup mgc,
    /// finds the ones log shipping has not restored there yet.
    #[test]
    fn a_new_world_is_not_switched_over() {
        let dir = tempfile::tempdir().unwrap();
        let world = World::create(dir.path(), &WorldOptions::default()).unwrap();
        world.traffic(3, false).unwrap();
        let differences = world.verify(Expect::SwitchedOver).unwrap();
        let what: Vec<&str> = differences.iter().map(|d| d.what.as_str()).collect();
        for expected in [
            "pool state",
            "active servers",
            "backup mgc",
            "mirroring of backup mgc",
            "primary mgc",
            "log shipping on the backup instance",
            "log shipping on the primary instance",
            "messages of backup mgc",
        ] {
            assert!(what.contains(&expected), "{expected} missing in {what:?}");
        }
    }

    #[test]
    fn a_failover_that_dropped_the_backlog_loses_messages() {
        let dir = tempfile::tempdir().unwrap();
        let world = World::create(dir.path(), &WorldOptions::default()).unwrap();
        world.disaster(Site::Primary, false).unwrap();
        let differences = world.verify(Expect::FailedOver).unwrap();
        assert!(
            differences
                .iter()
                .any(|d| d.found.contains("10 lost, first Some(11)")),
            "{differences:?}"
        );
    }

    /// The backup mgc after a disaster that dropped the backlog holds messages 1 to 10;
    /// message 11 is the first the lost primary committed past them.
    #[test]
    fn a_declared_loss_is_accepted_only_when_it_names_exactly_the_missing_messages() {
        let dir = tempfile::tempdir().unwrap();
        let world = World::create(dir.path(), &WorldOptions::default()).unwrap();
        world.disaster(Site::Primary, false).unwrap();
        let lsn_of = |id: u64| {
            let state = world.read().unwrap();
            let primary = chat_db(&state, InstanceId::Primary).unwrap();
            primary.messages.iter().find(|m| m.id == id).unwrap().lsn
        };
        let message_findings = |lost_from: u128| {
            let declared = Some(DeclaredLoss { lost_from });
            let differences = world
                .verify_declaring(Expect::FailedOver, declared)
                .unwrap();
            differences
                .into_iter()
                .filter(|d| d.what == "messages of backup mgc")
                .collect::<Vec<_>>()
        };
        assert_eq!(message_findings(lsn_of(11)), vec![]);
        let too_late = message_findings(lsn_of(12));
        assert!(
            too_late[0].found.contains("1 of them not declared"),
            "{too_late:?}"
        );
        let too_early = message_findings(lsn_of(10));
        assert!(
            too_early[0].found.contains("1 declared but held"),
            "{too_early:?}"
        );
    }
}
