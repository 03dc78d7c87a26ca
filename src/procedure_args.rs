//! The arguments that come from pcdr-core's procedure table: one subcommand per
//! procedure (`pcdr failover`, `pcdr failback`, …, each described by its summary), and
//! the procedure `pcdr plan` takes. A procedure added to the table appears here, with
//! its help, and no change to the command line.

use clap::builder::{PossibleValue, TypedValueParser};
use clap::error::ErrorKind;
use clap::{ArgMatches, Args, FromArgMatches, Subcommand};
use pcdr_core::procedure::{Procedure, RunOptions, failback};
use pcdr_core::topology::SiteRole;
use std::ffi::OsStr;
use std::path::PathBuf;

/// `pcdr <procedure>`: run a procedure, or resume it.
pub struct ProcedureCommand {
    /// The procedure the subcommand names.
    pub procedure: Procedure,
    /// How to run it.
    pub run: RunFlags,
    /// The operator's decisions.
    pub decisions: Decisions,
}

impl FromArgMatches for ProcedureCommand {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let Some((name, matches)) = matches.subcommand() else {
            return Err(clap::Error::new(ErrorKind::MissingSubcommand));
        };
        let procedure = name.parse().map_err(|message: String| {
            clap::Error::raw(ErrorKind::InvalidSubcommand, format!("{message}\n"))
        })?;
        Ok(Self {
            procedure,
            run: RunFlags::from_arg_matches(matches)?,
            decisions: Decisions::from_arg_matches(matches)?,
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Subcommand for ProcedureCommand {
    fn augment_subcommands(command: clap::Command) -> clap::Command {
        Procedure::all().fold(command, |command, procedure| {
            let flags = RunFlags::augment_args(clap::Command::new(procedure.as_str()));
            // After the flags, whose own documentation would otherwise describe the command.
            let subcommand = Decisions::augment_args(flags)
                .about(procedure.summary())
                .long_about(None);
            command.subcommand(subcommand)
        })
    }

    fn augment_subcommands_for_update(command: clap::Command) -> clap::Command {
        Self::augment_subcommands(command)
    }

    fn has_subcommand(name: &str) -> bool {
        Procedure::named(name).is_some()
    }
}

/// The topology and the output format, which every command that reads a deployment
/// takes.
#[derive(Args)]
pub struct Target {
    /// The topology file.
    #[arg(long)]
    pub topology: PathBuf,
    /// Print JSON on stdout (progress goes to stderr as JSON lines).
    #[arg(long)]
    pub json: bool,
}

/// How a procedure runs.
#[derive(Args)]
pub struct RunFlags {
    #[command(flatten)]
    pub target: Target,
    /// The journal file (default: pcdr-PROCEDURE-POOL.journal in the current folder).
    #[arg(long)]
    pub journal: Option<PathBuf>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// Continue the interrupted run the journal holds.
    #[arg(long)]
    pub resume: bool,
}

/// Decisions only the operator can make. Every procedure accepts them; each applies to
/// the procedures that meet its case, and the others ignore it.
#[derive(Args)]
pub struct Decisions {
    /// Fail over even though the primary site still answers (risk of two primaries).
    /// Procedures that do not check the primary site ignore it.
    #[arg(long)]
    allow_primary_reachable: bool,
    /// Recover past a gap in the log chain, losing the transactions in it. Procedures
    /// that restore no log backups ignore it.
    #[arg(long)]
    accept_data_loss: bool,
    /// Copy every log backup before restoring any. By default each copied log backup
    /// that is next in the chain is restored while later ones are still being copied.
    /// Procedures that copy no log backups ignore it.
    #[arg(long)]
    sequential_restore: bool,
    /// With --resume: continue a journal whose run started more than 24 hours ago
    /// (refused otherwise, since what it records may no longer be true).
    #[arg(long)]
    resume_stale: bool,
    /// The journal of the failover a failback follows: the failback sets log shipping up
    /// again with the settings the failover recorded in it (default: the failover's
    /// default journal, pcdr-failover-POOL.journal, when it exists; without one, the
    /// topology's values, with a warning). Other procedures ignore it.
    #[arg(long, value_name = "PATH")]
    failover_journal: Option<PathBuf>,
    /// The site a switchover moves the pool to (default: the one the pool's state does
    /// not point at). Naming the site it points at returns the pool there after a
    /// switchover that stopped before its recovery. Other procedures ignore it.
    #[arg(long, value_name = "SITE", value_parser = parse_site)]
    to: Option<SiteRole>,
    /// With failback: fail back online instead, its prepare phase (the procedure
    /// prepare_failback) while the pool keeps serving from the backup site; `pcdr
    /// switchover` then cuts over. Other procedures ignore it.
    #[arg(long)]
    online: bool,
}

/// `primary` or `backup`.
fn parse_site(text: &str) -> Result<SiteRole, String> {
    match text.to_ascii_lowercase().as_str() {
        "primary" => Ok(SiteRole::Primary),
        "backup" => Ok(SiteRole::Backup),
        _ => Err(format!("unknown site '{text}' (primary, backup)")),
    }
}

impl Decisions {
    /// The procedure to run for the one the command named: `failback --online` runs
    /// the online failback's prepare phase.
    pub fn procedure(&self, named: Procedure) -> Procedure {
        match self.online && named == failback::PROCEDURE {
            true => failback::online::PROCEDURE,
            false => named,
        }
    }

    /// The decisions as pcdr-core takes them.
    pub fn options(&self) -> RunOptions {
        RunOptions {
            accept_data_loss: self.accept_data_loss,
            allow_primary_reachable: self.allow_primary_reachable,
            sequential_restore: self.sequential_restore,
            resume_stale: self.resume_stale,
            failover_journal: self.failover_journal.clone(),
            switch_to: self.to,
        }
    }
}

/// Parses a procedure's name; its possible values (shown in help, with each
/// procedure's summary) come from the table.
#[derive(Clone)]
pub struct ProcedureParser;

impl TypedValueParser for ProcedureParser {
    type Value = Procedure;

    fn parse_ref(
        &self,
        command: &clap::Command,
        _: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Procedure, clap::Error> {
        value.to_string_lossy().parse().map_err(|message: String| {
            clap::Error::raw(ErrorKind::InvalidValue, format!("{message}\n")).with_cmd(command)
        })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(Procedure::all().map(|procedure| {
            PossibleValue::new(procedure.as_str()).help(procedure.summary())
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: ProcedureCommand,
    }

    #[test]
    fn every_procedure_of_the_table_is_a_subcommand_with_its_summary() {
        let command = Cli::command();
        for procedure in Procedure::all() {
            let subcommand = command
                .find_subcommand(procedure.as_str())
                .unwrap_or_else(|| panic!("no subcommand {procedure}"));
            let about = subcommand.get_about().map(ToString::to_string);
            assert_eq!(about.as_deref(), Some(procedure.summary()));
        }
    }

    #[test]
    fn a_procedure_subcommand_parses_its_flags_and_decisions() {
        for procedure in Procedure::all() {
            let name = procedure.as_str();
            let args = ["pcdr", name, "--topology", "t.toml", "--resume"];
            let cli = Cli::try_parse_from(args.into_iter().chain(["--accept-data-loss"])).unwrap();
            assert_eq!(cli.command.procedure, procedure);
            assert!(cli.command.run.resume && !cli.command.run.yes);
            assert!(cli.command.decisions.options().accept_data_loss);
        }
    }
}
