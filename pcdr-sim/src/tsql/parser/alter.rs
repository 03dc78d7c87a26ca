//! `ALTER DATABASE name SET …` for the options failover and failback use, following
//! Microsoft's "ALTER DATABASE SET Options (Transact-SQL)" and "ALTER DATABASE Database
//! Mirroring (Transact-SQL)":
//!
//! ```text
//! ALTER DATABASE name SET PARTNER OFF | PARTNER FAILOVER | PARTNER = 'TCP://host:port'
//! ALTER DATABASE name SET SINGLE_USER | RESTRICTED_USER | MULTI_USER [termination]
//! ALTER DATABASE name SET ONLINE | OFFLINE [termination]
//! ALTER DATABASE name SET RECOVERY FULL | BULK_LOGGED | SIMPLE
//! termination: WITH ROLLBACK IMMEDIATE | WITH ROLLBACK AFTER n [SECONDS] | WITH NO_WAIT
//! ```
//!
//! The name must be a literal identifier; a variable is a syntax error, as in SQL Server.

use super::super::ast::{
    AlterDatabase, AlterDatabaseAction, RecoveryModel, Termination, UserAccess,
};
use super::super::lexer::Punct;
use super::{Parser, Result};

impl Parser<'_> {
    /// `ALTER DATABASE …`.
    pub(super) fn alter_database(&mut self) -> Result<AlterDatabase> {
        self.expect_keyword("ALTER")?;
        self.expect_keyword("DATABASE")?;
        let database = self.identifier()?;
        self.expect_keyword("SET")?;
        let action = self.alter_action()?;
        Ok(AlterDatabase { database, action })
    }

    fn alter_action(&mut self) -> Result<AlterDatabaseAction> {
        let words = [
            "PARTNER",
            "SINGLE_USER",
            "RESTRICTED_USER",
            "MULTI_USER",
            "ONLINE",
            "OFFLINE",
            "RECOVERY",
        ];
        match self.eat_one_of(&words) {
            Some("PARTNER") => self.partner(),
            Some("SINGLE_USER") => self.user_access(UserAccess::Single),
            Some("RESTRICTED_USER") => self.user_access(UserAccess::Restricted),
            Some("MULTI_USER") => self.user_access(UserAccess::Multi),
            Some("ONLINE") => self.state(true),
            Some("OFFLINE") => self.state(false),
            Some("RECOVERY") => self.recovery_model().map(AlterDatabaseAction::Recovery),
            _ => Err(self.error()),
        }
    }

    fn partner(&mut self) -> Result<AlterDatabaseAction> {
        if self.eat_keyword("OFF") {
            return Ok(AlterDatabaseAction::PartnerOff);
        }
        if self.eat_keyword("FAILOVER") {
            return Ok(AlterDatabaseAction::PartnerFailover);
        }
        self.expect_punct(Punct::Eq)?;
        match self.eat_string() {
            Some(endpoint) => Ok(AlterDatabaseAction::Partner(endpoint)),
            None => Err(self.error()),
        }
    }

    fn user_access(&mut self, access: UserAccess) -> Result<AlterDatabaseAction> {
        let termination = self.termination()?;
        Ok(AlterDatabaseAction::UserAccess {
            access,
            termination,
        })
    }

    fn state(&mut self, online: bool) -> Result<AlterDatabaseAction> {
        let termination = self.termination()?;
        Ok(AlterDatabaseAction::State {
            online,
            termination,
        })
    }

    fn recovery_model(&mut self) -> Result<RecoveryModel> {
        match self.eat_one_of(&["FULL", "BULK_LOGGED", "SIMPLE"]) {
            Some("FULL") => Ok(RecoveryModel::Full),
            Some("BULK_LOGGED") => Ok(RecoveryModel::BulkLogged),
            Some("SIMPLE") => Ok(RecoveryModel::Simple),
            _ => Err(self.error()),
        }
    }

    /// `[WITH ROLLBACK IMMEDIATE | WITH ROLLBACK AFTER n [SECONDS] | WITH NO_WAIT]`.
    fn termination(&mut self) -> Result<Option<Termination>> {
        if !self.eat_keyword("WITH") {
            return Ok(None);
        }
        if self.eat_keyword("NO_WAIT") {
            return Ok(Some(Termination::NoWait));
        }
        self.expect_keyword("ROLLBACK")?;
        if self.eat_keyword("IMMEDIATE") {
            return Ok(Some(Termination::RollbackImmediate));
        }
        self.expect_keyword("AFTER")?;
        let seconds = self.integer()?;
        self.eat_keyword("SECONDS");
        Ok(Some(Termination::RollbackAfterSeconds(seconds)))
    }
}
