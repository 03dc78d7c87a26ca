//! `pcdr sim …`: the emulated two-site world (pcdr-sim) from the command line — serve
//! it, strike it with a disaster, rebuild it, send traffic, inject faults, verify it,
//! and run its emulated Management Shell. Every closed set of values (sites, instances,
//! statement kinds, end states) is an enum clap checks, mapped to pcdr-sim's own type.

use crate::exit;
use clap::{Args, Subcommand, ValueEnum};
use pcdr_sim::serve::{ServeOptions, ShellLauncher, serve, wait_for_site};
use pcdr_sim::shell::run_shell;
use pcdr_sim::world::faults::{StatementFault, StatementKind, StatementMatch, StoredCmdletFault};
use pcdr_sim::world::model::{InstanceId, Site};
use pcdr_sim::world::version::SqlVersion;
use pcdr_sim::world::{DeclaredLoss, Expect, World, WorldOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// The `pcdr sim` commands.
#[derive(Subcommand)]
pub enum SimCommand {
    /// Create the world when absent, serve its four SQL Server instances, write
    /// DIR/topology.toml, print `READY <topology>` and run until stopped.
    Serve(ServeArgs),
    /// Run the emulated Management Shell (what the PowerShell adapter starts).
    Shell {
        /// The world folder.
        #[arg(long)]
        world: PathBuf,
        /// The shell's arguments (`-NoProfile -NonInteractive -EncodedCommand <base64>`).
        #[arg(last = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Take a site down: its instances refuse connections.
    Disaster {
        #[command(flatten)]
        dir: Dir,
        /// The site.
        #[arg(long, value_enum, ignore_case = true)]
        site: SiteArg,
        /// The backup share is lost too.
        #[arg(long)]
        share_lost: bool,
    },
    /// Rebuild a site as Topology Builder does: empty mgc and mgccomp, no log shipping.
    Rebuild {
        #[command(flatten)]
        dir: Dir,
        /// The site (primary).
        #[arg(long, value_enum, ignore_case = true)]
        site: SiteArg,
    },
    /// Commit chat messages on the principal chat database.
    Traffic {
        #[command(flatten)]
        dir: Dir,
        /// How many messages.
        #[arg(long)]
        messages: u32,
        /// Then run the log-backup job.
        #[arg(long)]
        log_backup: bool,
    },
    /// Advance the world's clock, running the log-shipping jobs that fall due.
    Tick {
        #[command(flatten)]
        dir: Dir,
        /// Minutes to advance.
        #[arg(long, default_value_t = 15)]
        minutes: u32,
    },
    /// Check the world against a procedure's end state and the message ground truth.
    Verify {
        #[command(flatten)]
        dir: Dir,
        /// The end state.
        #[arg(long, value_enum, ignore_case = true)]
        expect: ExpectArg,
        /// The JSON report of the failover (the `.report.json` next to its journal): when it
        /// declares a data loss, the messages missing must be exactly those it says
        /// were lost.
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Inject or clear faults.
    Fault(FaultArgs),
}

/// The world folder.
#[derive(Args)]
pub struct Dir {
    /// The world folder.
    #[arg(long)]
    dir: PathBuf,
}

/// `pcdr sim serve`.
#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    dir: Dir,
    /// Log backups taken before serving (when the world is created).
    #[arg(long, default_value_t = 4)]
    logs: u32,
    /// The newest K of them not yet copied.
    #[arg(long, default_value_t = 1)]
    uncopied: u32,
    /// The newest M of them not yet restored.
    #[arg(long, default_value_t = 2)]
    unrestored: u32,
    /// Chat messages per log backup.
    #[arg(long, default_value_t = 5)]
    messages_per_log: u32,
    /// Restore the secondary in standby mode.
    #[arg(long)]
    standby: bool,
    /// Read-only sessions kept open on a standby secondary.
    #[arg(long, default_value_t = 0, requires = "standby")]
    readers: u32,
    /// Restore throughput in MB/s (0: instant).
    #[arg(long, default_value_t = 0.0)]
    restore_mb_per_s: f64,
    /// Latency added to every statement, in milliseconds.
    #[arg(long, default_value_t = 0)]
    statement_latency_ms: u64,
    /// The SQL Server version every instance presents: 2016, or 2008r2 (the oldest
    /// back end Skype for Business Server 2015 supports).
    #[arg(long, default_value = "2016", value_parser = sql_version)]
    sql_version: SqlVersion,
    /// The instances' offset from UTC in minutes, east positive, from -720 to 840 as
    /// time zones are (e.g. -360 for Central Standard Time): SYSDATETIME(), backup dates
    /// and msdb's dates are local.
    #[arg(
        long,
        default_value_t = 0,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(i32).range(-720..=840)
    )]
    utc_offset_minutes: i32,
    /// The size of each chat database's data file, e.g. 64MiB or 2GiB: real bytes that
    /// full backups copy and restores write, so their cost grows with it.
    #[arg(long, default_value = "1MiB", value_parser = crate::byte_size::parse)]
    db_size: u64,
    /// Run the world's clock: one emulated minute every this many milliseconds.
    #[arg(long)]
    minute_every_ms: Option<u64>,
    /// Offer TLS without forcing it (Force Encryption off): a client whose topology says
    /// `encrypt = "off"` then encrypts its login only.
    #[arg(long)]
    encryption_not_forced: bool,
}

/// `pcdr sim fault`.
#[derive(Args)]
pub struct FaultArgs {
    #[command(flatten)]
    dir: Dir,
    /// Take an instance down …
    #[arg(long, value_enum, ignore_case = true)]
    down: Option<InstanceArg>,
    /// … or bring it back up.
    #[arg(long, value_enum, ignore_case = true)]
    up: Option<InstanceArg>,
    /// Fail statements of this kind …
    #[arg(long, value_enum, ignore_case = true)]
    fail_statement: Option<StatementKindArg>,
    /// … with this SQL Server error number.
    #[arg(long, default_value_t = 50000)]
    error: u32,
    /// Drop the connection during statements of this kind.
    #[arg(long, value_enum, ignore_case = true)]
    drop_statement: Option<StatementKindArg>,
    /// Only on this instance (for --fail-statement and --drop-statement).
    #[arg(long, value_enum, ignore_case = true)]
    on: Option<InstanceArg>,
    /// Make this cmdlet fail …
    #[arg(long)]
    fail_cmdlet: Option<String>,
    /// … or hang.
    #[arg(long)]
    hang_cmdlet: Option<String>,
    /// Make the backup share unreachable.
    #[arg(long)]
    share_unreachable: bool,
    /// Make the copy folder full.
    #[arg(long)]
    copy_folder_full: bool,
    /// Remove every fault first (instances stay down or up as they are).
    #[arg(long)]
    clear: bool,
}

/// A site of the world.
#[derive(Clone, Copy, ValueEnum)]
pub enum SiteArg {
    /// Runs the pool in normal operation.
    Primary,
    /// Takes over after a disaster.
    Backup,
}

impl From<SiteArg> for Site {
    fn from(site: SiteArg) -> Self {
        match site {
            SiteArg::Primary => Site::Primary,
            SiteArg::Backup => Site::Backup,
        }
    }
}

/// An instance of the world.
#[derive(Clone, Copy, ValueEnum)]
pub enum InstanceArg {
    /// The primary site's instance.
    Primary,
    /// Its mirror.
    PrimaryMirror,
    /// The backup site's instance.
    Backup,
    /// Its mirror.
    BackupMirror,
}

impl From<InstanceArg> for InstanceId {
    fn from(instance: InstanceArg) -> Self {
        match instance {
            InstanceArg::Primary => InstanceId::Primary,
            InstanceArg::PrimaryMirror => InstanceId::PrimaryMirror,
            InstanceArg::Backup => InstanceId::Backup,
            InstanceArg::BackupMirror => InstanceId::BackupMirror,
        }
    }
}

/// A kind of statement, as faults select them.
#[derive(Clone, Copy, ValueEnum)]
pub enum StatementKindArg {
    /// `SELECT`.
    Select,
    /// `RESTORE LOG`.
    RestoreLog,
    /// `RESTORE DATABASE` (from a device, or `WITH RECOVERY` only).
    RestoreDatabase,
    /// `RESTORE HEADERONLY`.
    #[value(name = "restore-headeronly")]
    RestoreHeaderOnly,
    /// `RESTORE FILELISTONLY`.
    #[value(name = "restore-filelistonly")]
    RestoreFileListOnly,
    /// `RESTORE VERIFYONLY`.
    #[value(name = "restore-verifyonly")]
    RestoreVerifyOnly,
    /// `BACKUP DATABASE`.
    BackupDatabase,
    /// `BACKUP LOG`.
    BackupLog,
    /// `ALTER DATABASE`.
    AlterDatabase,
    /// `KILL`.
    Kill,
    /// `EXEC`.
    #[value(name = "exec")]
    Execute,
    /// Anything else (`DECLARE`, `SET`, `USE`, transactions, `WAITFOR`, `PRINT`).
    Other,
}

impl From<StatementKindArg> for StatementKind {
    fn from(kind: StatementKindArg) -> Self {
        use StatementKindArg as Arg;
        match kind {
            Arg::Select => Self::Select,
            Arg::RestoreLog => Self::RestoreLog,
            Arg::RestoreDatabase => Self::RestoreDatabase,
            Arg::RestoreHeaderOnly => Self::RestoreHeaderOnly,
            Arg::RestoreFileListOnly => Self::RestoreFileListOnly,
            Arg::RestoreVerifyOnly => Self::RestoreVerifyOnly,
            Arg::BackupDatabase => Self::BackupDatabase,
            Arg::BackupLog => Self::BackupLog,
            Arg::AlterDatabase => Self::AlterDatabase,
            Arg::Kill => Self::Kill,
            Arg::Execute => Self::Execute,
            Arg::Other => Self::Other,
        }
    }
}

/// The end state `pcdr sim verify` checks the world against.
#[derive(Clone, Copy, ValueEnum)]
pub enum ExpectArg {
    /// After failover: the pool runs on the backup site.
    #[value(alias = "failedover")]
    FailedOver,
    /// After failback (or before any disaster): the pool runs on the primary site with
    /// log shipping to the backup site.
    Normal,
    /// After a switchover to the backup site: the pool runs there, shipping its log to
    /// the primary site's mgc, left RESTORING.
    #[value(alias = "switchedover")]
    SwitchedOver,
}

impl From<ExpectArg> for Expect {
    fn from(expect: ExpectArg) -> Self {
        match expect {
            ExpectArg::FailedOver => Expect::FailedOver,
            ExpectArg::Normal => Expect::Normal,
            ExpectArg::SwitchedOver => Expect::SwitchedOver,
        }
    }
}

/// Runs a `pcdr sim` command.
pub async fn run(command: SimCommand) -> ExitCode {
    let result = match command {
        SimCommand::Serve(args) => return serve_world(args).await,
        SimCommand::Shell { world, args } => return shell(&world, &args),
        SimCommand::Disaster {
            dir,
            site,
            share_lost,
        } => disaster(&dir, site.into(), share_lost).await,
        SimCommand::Rebuild { dir, site } => rebuild(&dir, site.into()).await,
        SimCommand::Traffic {
            dir,
            messages,
            log_backup,
        } => traffic(&dir, messages, log_backup),
        SimCommand::Tick { dir, minutes } => open(&dir).and_then(|w| {
            w.tick(minutes)
                .map(|runs| println!("{} jobs ran", runs.len()))
                .map_err(|e| e.to_string())
        }),
        SimCommand::Verify {
            dir,
            expect,
            report,
        } => return verify(&dir, expect, report.as_deref()),
        SimCommand::Fault(args) => fault(&args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("pcdr sim: {message}");
            ExitCode::from(exit::FAILED)
        }
    }
}

fn open(dir: &Dir) -> Result<World, String> {
    World::open(&dir.dir).map_err(|e| format!("{}: {e}", dir.dir.display()))
}

/// Parses `--sql-version`.
fn sql_version(text: &str) -> Result<SqlVersion, String> {
    SqlVersion::parse(text).ok_or_else(|| format!("{text} is not 2016 or 2008r2"))
}

async fn serve_world(args: ServeArgs) -> ExitCode {
    let dir = &args.dir.dir;
    if !World::exists(dir) {
        let options = WorldOptions {
            logs: args.logs,
            uncopied: args.uncopied,
            unrestored: args.unrestored,
            messages_per_log: args.messages_per_log,
            standby: args.standby,
            readers: args.readers,
            restore_mb_per_s: args.restore_mb_per_s,
            statement_latency_ms: args.statement_latency_ms,
            password: None,
            sql_version: args.sql_version,
            utc_offset_minutes: args.utc_offset_minutes,
            db_size_bytes: args.db_size,
        };
        if let Err(e) = World::create(dir, &options) {
            eprintln!(
                "pcdr sim: cannot create the world in {}: {e}",
                dir.display()
            );
            return ExitCode::from(exit::FAILED);
        }
    }
    let shell_program = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "pcdr".into());
    let options = ServeOptions {
        shell: ShellLauncher::pcdr(shell_program),
        minute_every: args.minute_every_ms.map(Duration::from_millis),
        force_encryption: !args.encryption_not_forced,
    };
    let serving = match serve(dir, &options).await {
        Ok(serving) => serving,
        Err(e) => {
            eprintln!("pcdr sim: cannot serve {}: {e}", dir.display());
            return ExitCode::from(exit::FAILED);
        }
    };
    println!("READY {}", serving.topology_path().display());
    let _ = std::io::stdout().flush();
    wait_for_stop().await;
    drop(serving);
    ExitCode::SUCCESS
}

/// Waits for Ctrl-C or, on Unix, SIGTERM.
async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn shell(world: &Path, args: &[String]) -> ExitCode {
    let world = match World::open(world) {
        Ok(world) => world,
        Err(e) => {
            eprintln!("pcdr sim shell: {}: {e}", world.display());
            return ExitCode::from(1);
        }
    };
    let output = run_shell(args, &world);
    print!("{}", output.stdout);
    eprint!("{}", output.stderr);
    ExitCode::from(u8::try_from(output.exit_code).unwrap_or(1))
}

async fn disaster(dir: &Dir, site: Site, share_lost: bool) -> Result<(), String> {
    open(dir)?
        .disaster(site, share_lost)
        .map_err(|e| e.to_string())?;
    wait_for_site(&dir.dir, site, false).await
}

async fn rebuild(dir: &Dir, site: Site) -> Result<(), String> {
    open(dir)?.rebuild(site).map_err(|e| e.to_string())?;
    wait_for_site(&dir.dir, site, true).await
}

fn traffic(dir: &Dir, messages: u32, log_backup: bool) -> Result<(), String> {
    let traffic = open(dir)?
        .traffic(messages, log_backup)
        .map_err(|e| e.to_string())?;
    println!(
        "{} messages committed{}",
        traffic.messages.len(),
        if log_backup {
            format!(", {} log backup jobs ran", traffic.backups.len())
        } else {
            String::new()
        }
    );
    Ok(())
}

/// The data loss a pcdr report (JSON) declares: its `rpo.lost_from`, if any.
fn declared_loss(report: &Path) -> Result<Option<DeclaredLoss>, String> {
    let text = std::fs::read_to_string(report).map_err(|e| format!("{}: {e}", report.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", report.display()))?;
    let Some(lost_from) = json.pointer("/rpo/lost_from") else {
        return Ok(None);
    };
    lost_from
        .as_str()
        .and_then(|lsn| lsn.parse().ok())
        .map(|lost_from| Some(DeclaredLoss { lost_from }))
        .ok_or_else(|| format!("{}: rpo.lost_from is not an LSN", report.display()))
}

fn verify(dir: &Dir, expect: ExpectArg, report: Option<&Path>) -> ExitCode {
    let outcome = report
        .map(declared_loss)
        .transpose()
        .map(Option::flatten)
        .and_then(|declared| {
            open(dir).and_then(|world| {
                world
                    .verify_declaring(expect.into(), declared)
                    .map_err(|e| e.to_string())
            })
        });
    match outcome {
        Ok(differences) if differences.is_empty() => {
            let name = expect
                .to_possible_value()
                .map(|value| value.get_name().to_owned());
            println!("the world is as expected ({})", name.unwrap_or_default());
            ExitCode::SUCCESS
        }
        Ok(differences) => {
            for difference in &differences {
                println!("{difference}");
            }
            println!("{} differences", differences.len());
            ExitCode::from(exit::FAILED)
        }
        Err(message) => {
            eprintln!("pcdr sim verify: {message}");
            ExitCode::from(exit::USAGE)
        }
    }
}

fn statement_match(kind: StatementKindArg, on: Option<InstanceArg>) -> StatementMatch {
    StatementMatch {
        instance: on.map(InstanceId::from),
        kind: Some(kind.into()),
        nth: None,
    }
}

/// Injects the asked faults; an instance taken down or up is waited for, so the fault
/// holds when the command returns.
async fn fault(args: &FaultArgs) -> Result<(), String> {
    let world = open(&args.dir)?;
    let fail = |e: pcdr_sim::world::WorldError| e.to_string();
    if args.clear {
        world.clear_faults().map_err(fail)?;
    }
    for (instance, down) in [(args.down, true), (args.up, false)] {
        if let Some(instance) = instance.map(InstanceId::from) {
            world.set_instance_down(instance, down).map_err(fail)?;
            pcdr_sim::serve::wait_for_instances(&args.dir.dir, &[instance], !down).await?;
        }
    }
    if let Some(kind) = args.fail_statement {
        let on = statement_match(kind, args.on);
        world
            .add_statement_fault(StatementFault::Fail {
                on,
                error: args.error,
            })
            .map_err(fail)?;
    }
    if let Some(kind) = args.drop_statement {
        world
            .add_statement_fault(StatementFault::Drop(statement_match(kind, args.on)))
            .map_err(fail)?;
    }
    if let Some(cmdlet) = &args.fail_cmdlet {
        let message = format!("{cmdlet} failed (injected fault)");
        world
            .set_cmdlet_fault(cmdlet, Some(StoredCmdletFault::Fail(message)))
            .map_err(fail)?;
    }
    if let Some(cmdlet) = &args.hang_cmdlet {
        world
            .set_cmdlet_fault(cmdlet, Some(StoredCmdletFault::Hang))
            .map_err(fail)?;
    }
    if args.share_unreachable {
        world.set_share_unreachable(true).map_err(fail)?;
    }
    if args.copy_folder_full {
        world.set_copy_folder_full(true).map_err(fail)?;
    }
    Ok(())
}
