"""The native part of pcdr; import everything from ``pcdr`` itself.

``DrillCheck``, ``DrillReport``, ``drill`` and ``_sim_shell`` exist only in a build
with the emulator (the default); a production build (``--no-default-features``) has
none of them."""

import datetime
import os
from pathlib import Path
from typing import Any, Callable, Literal, Optional, Union, final

__all__ = [
    "ChatPoolError",
    "Command",
    "DataLossRefused",
    "DrillCheck",
    "DrillReport",
    "Event",
    "JournalError",
    "JournalLocked",
    "PcdrError",
    "PlannedStep",
    "PreconditionError",
    "ProcedureInfo",
    "Report",
    "RunCancelled",
    "Runbook",
    "SqlServerError",
    "StepError",
    "StepInfo",
    "StepOutcome",
    "StepReport",
    "Topology",
    "TopologyError",
    "__version__",
    "_sim_shell",
    "drill",
    "procedures",
]

#: The version of pcdr this module was built from (its Rust crates'), e.g. ``"0.1.0"``.
__version__: str

_StrPath = Union[str, "os.PathLike[str]"]

@final
class Topology:
    """A Persistent Chat deployment: the pool, its databases, log shipping, the two
    sites and how pcdr reaches them, checked before anything runs."""

    @staticmethod
    def load(path: _StrPath) -> Topology:
        """Read and check the topology file at ``path``.

        A relative ``sql.password_file`` resolves against the file's folder.

        Raises:
            TopologyError: the file cannot be read or breaks a rule; ``.key`` is the
                key path (``sites.backup.chat_servers[2]``) or the file.
        """

    @staticmethod
    def from_toml(text: str, base_dir: Optional[_StrPath] = None) -> Topology:
        """Check topology TOML text; a relative ``sql.password_file`` resolves
        against ``base_dir``.

        Raises:
            TopologyError: the text breaks a rule; ``.key`` says where.
        """

    @property
    def pool(self) -> str:
        """The Persistent Chat pool's fully qualified domain name."""

    @property
    def chat_database(self) -> str:
        """The chat database's name (``mgc`` by default)."""

    @property
    def primary_site(self) -> str:
        """The primary site's name."""

    @property
    def backup_site(self) -> str:
        """The backup site's name."""

    def to_dict(self) -> dict[str, Any]:
        """The whole topology as plain Python values, passwords masked."""

@final
class StepInfo:
    """One step of a procedure, as the procedure declares it."""

    @property
    def id(self) -> str:
        """The step's stable id (``check_sites``), as ``Runbook.run_step`` takes it."""

    @property
    def title(self) -> str:
        """What the step does, in one line."""

@final
class ProcedureInfo:
    """One procedure pcdr runs (``failover``, ``failback``): its name, what it does
    and its steps."""

    @property
    def name(self) -> str:
        """The procedure's stable name, as ``Runbook.run``, ``Runbook.plan`` and
        ``Runbook.run_step`` take it."""

    @property
    def summary(self) -> str:
        """What the procedure does, in one line."""

    @property
    def steps(self) -> list[StepInfo]:
        """The steps, in the order they run (the order ``Runbook.plan`` and a
        report list them)."""

def procedures() -> list[ProcedureInfo]:
    """Every procedure pcdr runs, with its steps, in the order help texts list them.

    Example::

        for procedure in pcdr.procedures():
            print(procedure.name, [step.id for step in procedure.steps])
    """

@final
class Command:
    """One command a step would send, exactly as it would send it."""

    @property
    def target(self) -> str:
        """Where it goes: a SQL Server instance, the pool, or ``files``."""

    @property
    def kind(self) -> Literal["sql", "shell", "copy"]:
        """T-SQL, a Management Shell command line, or a file copy."""

    @property
    def text(self) -> str:
        """The command as an operator reads it (T-SQL with its parameters)."""

    def to_dict(self) -> dict[str, Any]:
        """The command as plain Python values, SQL parameters included."""

@final
class PlannedStep:
    """What the plan expects of one step, from a read-only look at the live state."""

    @property
    def id(self) -> str:
        """The step's stable id, e.g. ``apply_unapplied_logs``."""

    @property
    def title(self) -> str:
        """What the step does, in one line."""

    @property
    def state(
        self,
    ) -> Literal["would_run", "already_done", "unknown", "after_earlier_steps", "blocked"]:
        """What the observation found. ``unknown``: the state could not be observed
        (the commands are then templates with placeholders); ``blocked``: the step
        would refuse to run."""

    @property
    def reason(self) -> Optional[str]:
        """Why the step is already done, unknown or blocked; None when it would run."""

    @property
    def commands(self) -> list[Command]:
        """The commands the step would send."""

    @property
    def files(self) -> list[str]:
        """The files it would copy or restore."""

    @property
    def notes(self) -> list[str]:
        """What an operator should know about this step."""

    def to_dict(self) -> dict[str, Any]:
        """The step as plain Python values."""

@final
class StepOutcome:
    """How a step ended."""

    @property
    def kind(self) -> Literal["done", "skipped"]:
        """``done``: the step acted and verified the result; ``skipped``: the work
        was already done and nothing was changed."""

    @property
    def message(self) -> str:
        """What the step did, or how it knew the work was done."""

    def to_dict(self) -> dict[str, Any]:
        """The outcome as plain Python values."""

@final
class StepReport:
    """One step in a report."""

    @property
    def id(self) -> str:
        """The step's stable id."""

    @property
    def title(self) -> str:
        """What the step does."""

    @property
    def started(self) -> Optional[datetime.datetime]:
        """When it last started (UTC)."""

    @property
    def ended(self) -> Optional[datetime.datetime]:
        """When it last ended (UTC)."""

    @property
    def millis(self) -> Optional[int]:
        """Milliseconds between the two."""

    @property
    def outcome(self) -> Optional[StepOutcome]:
        """How it ended, if it ended well."""

    @property
    def error(self) -> Optional[str]:
        """Its last error, if it failed."""

    def to_dict(self) -> dict[str, Any]:
        """The step as plain Python values."""

@final
class Report:
    """The report of one run, read from its journal: each step's timing and outcome,
    the recovery time, and the evidence of how much data, if any, was lost."""

    @property
    def procedure(self) -> str:
        """Which procedure ran (a ``ProcedureInfo.name``)."""

    @property
    def run_id(self) -> str:
        """The run's id, the same across resumes."""

    @property
    def started(self) -> Optional[datetime.datetime]:
        """When the run first started (UTC)."""

    @property
    def finished(self) -> Optional[datetime.datetime]:
        """When it finished, if it did (UTC)."""

    @property
    def rto_seconds(self) -> Optional[float]:
        """Seconds from start to finish (or to the last record): the recovery time."""

    @property
    def completed(self) -> bool:
        """Whether every step is done."""

    @property
    def steps(self) -> list[StepReport]:
        """The steps, in procedure order."""

    @property
    def failed_step(self) -> Optional[str]:
        """The id of the first step whose last attempt failed, if any."""

    @property
    def rpo(self) -> dict[str, Any]:
        """The data-loss evidence: the last log backup applied, when it finished, the
        restore point, any gap the operator accepted, a share that could not be read
        while data loss was accepted, and, after an accepted loss, the first LSN lost
        (``lost_from``)."""

    @property
    def outage(self) -> Optional[dict[str, Any]]:
        """The window in which the pool served no one, or ``None`` if the run has not
        fenced the pool: ``fenced_by`` (the fencing step's id, ``None`` when the pool
        served no one from the run's start, as in a failover), ``started``, ``ended``
        (``None`` while still open: the run has not activated the pool's servers),
        ``seconds`` and ``bytes_moved`` (the bytes moved inside it: log backups
        copied and restored, full backups written and restored)."""

    @property
    def files_copied(self) -> int:
        """Log backups copied."""

    @property
    def bytes_copied(self) -> int:
        """Bytes copied."""

    @property
    def logs_restored(self) -> int:
        """Log backups restored."""

    def to_dict(self) -> dict[str, Any]:
        """The report as plain Python values, the same as the CLI's JSON report."""

@final
class Event:
    """One progress event of a run."""

    @property
    def kind(
        self,
    ) -> Literal[
        "step_started",
        "step_finished",
        "step_skipped",
        "step_failed",
        "planned",
        "note",
        "sessions_ended",
        "file_copied",
        "log_restored",
    ]:
        """What happened."""

    @property
    def step(self) -> Optional[str]:
        """The step's id, for the events that belong to a step."""

    @property
    def message(self) -> str:
        """The event in one line, as it is logged to the ``pcdr`` logger."""

    def to_dict(self) -> dict[str, Any]:
        """The event as plain Python values."""

_OnEvent = Optional[Callable[[Event], object]]
_RunResult = Union[Report, list[PlannedStep]]

@final
class Runbook:
    """Plans and runs the procedures (``procedures()`` lists them: failover,
    failback, prepare_failback and switchover) for one deployment, with a journal.

    Each run method releases the GIL while it waits and checks for Ctrl-C between
    short slices: on ``KeyboardInterrupt`` the run stops before its next action, the
    journal is left resumable, and the ``KeyboardInterrupt`` is raised. ``on_event``
    is called with the GIL held for each progress event; an exception it raises stops
    the run the same way and becomes the ``__cause__`` of the error the run ends with:
    ``RunCancelled``, or the running step's own error if that step failed first
    (a ``KeyboardInterrupt`` is raised as it is). One call at a time per ``Runbook``.
    """

    def __new__(
        cls,
        topology: Topology,
        journal: Optional[_StrPath] = None,
        dry_run: bool = False,
        accept_data_loss: bool = False,
        allow_primary_reachable: bool = False,
        sequential_restore: bool = False,
        resume_stale: bool = False,
        failover_journal: Optional[_StrPath] = None,
        switch_to: Optional[Literal["primary", "backup"]] = None,
    ) -> Runbook:
        """A runbook over the real SQL Server instances, share and pool of
        ``topology``; nothing is contacted until a call needs it.

        Args:
            journal: the journal file; by default a new one in the temporary folder.
            dry_run: observe and plan only; runs return the plan and change nothing.
            accept_data_loss: recover past a gap in the log chain, losing the
                transactions in it.
            allow_primary_reachable: fail over even though the primary site answers.
            sequential_restore: copy every log backup before restoring any; by
                default each one that is next in the chain is restored while later
                ones are still being copied.
            resume_stale: resume a journal whose run started more than 24 hours
                ago; refused otherwise, since what it records may no longer be true.
            failover_journal: the journal of the completed failover a failback
                follows: the failback sets log shipping up again with the settings
                the failover recorded in it. Without one it uses the topology's
                values and warns. Other procedures ignore it.
            switch_to: the site a switchover moves the pool to, ``"primary"`` or
                ``"backup"``; by default the site the pool's state does not point at.
                Naming the site it points at returns the pool there after a
                switchover that stopped before its recovery. Other procedures ignore
                it.

        Raises:
            TopologyError: the SQL password cannot be read (``sql.password_env`` or
                ``sql.password_file``).
            ValueError: ``switch_to`` names no site.

        A failover journal that is not a completed failover of this deployment is
        refused (``JournalError``) when a failback is planned or run.
        """

    @property
    def journal(self) -> Path:
        """The journal file (a ``pathlib.Path``)."""

    def plan(self, procedure: str) -> list[PlannedStep]:
        """Observe the live state and describe each step of ``procedure`` (a name
        ``procedures()`` lists), with the exact commands it would send. Read-only.

        Raises:
            ValueError: no procedure has that name (the message lists the names).
        """

    def run(self, procedure: str, on_event: _OnEvent = None) -> _RunResult:
        """Run ``procedure`` (a name ``procedures()`` lists: ``failover`` fails the
        pool over to the backup site, ``failback`` back to the rebuilt primary
        site, ``prepare_failback`` seeds the rebuilt primary while the pool serves,
        ``switchover`` moves the pool to the other site while both answer) from its
        first step, in a new journal.

        Returns:
            The report; on a dry run, the plan instead.

        Raises:
            ValueError: no procedure has that name (the message lists the names);
                nothing is run and no journal is written.
            PreconditionError: a step refused to start (``DataLossRefused`` for a gap
                in the log chain).
            StepError: a call failed (``SqlServerError``, ``ChatPoolError``).
            JournalError: the journal cannot be written (``JournalLocked``: another
                run holds it).
            RunCancelled: ``cancel()`` was called, or ``on_event`` raised (its
                exception is then the ``__cause__`` of whatever the run raises).
        """

    def failover(self, on_event: _OnEvent = None) -> _RunResult:
        """A shortcut for ``run("failover", on_event)``: fail the pool over to the
        backup site, in a new journal. Returns and raises as ``run``."""

    def failback(self, on_event: _OnEvent = None) -> _RunResult:
        """A shortcut for ``run("failback", on_event)``: fail the pool back to the
        rebuilt primary site, in a new journal. Returns and raises as ``run``."""

    def resume(self, on_event: _OnEvent = None) -> _RunResult:
        """Continue the run the journal holds from the first step not verified as
        done, with this runbook's options (e.g. ``accept_data_loss``).

        Returns and raises as ``run``; ``JournalError`` when the journal is
        missing or holds no run.
        """

    def run_step(self, procedure: str, step: str, on_event: _OnEvent = None) -> StepOutcome:
        """Run one step of ``procedure`` (of the run the journal holds, or of a new
        one), journaled. On a dry run the step is only observed. ``procedures()``
        lists each procedure's step ids.

        Raises:
            PreconditionError: ``procedure`` has no step ``step`` (the message lists
                the valid ids), or the step refused to start.
            ValueError: no procedure has that name (the message lists the names).
            StepError, JournalError, RunCancelled: as ``run``.
        """

    def report(self) -> Report:
        """The report of the run the journal holds.

        Raises:
            JournalError: the journal is missing or holds no run.
        """

    def cancel(self) -> None:
        """Stop the running procedure before its next action; callable from any
        thread. A statement already running on SQL Server runs to its end."""

@final
class DrillCheck:
    """One check of a drill. Only in a build with the emulator (the default)."""

    @property
    def name(self) -> str:
        """What was checked: ``disaster``, ``failover``, ``verify failed over``,
        ``failback``, ``verify back to normal``, or ``drill`` when the rehearsal
        itself could not go on."""

    @property
    def passed(self) -> bool:
        """Whether it passed."""

    @property
    def detail(self) -> str:
        """What was found."""

    def to_dict(self) -> dict[str, Any]:
        """The check as plain Python values."""

@final
class DrillReport:
    """What a drill proved: its procedures' reports and every check. Only in a
    build with the emulator (the default)."""

    @property
    def scenario(self) -> Literal["disaster", "switchover", "online-failback"]:
        """What was rehearsed."""

    @property
    def world(self) -> Path:
        """The emulated world's folder (removed after a passed drill in a temporary
        folder)."""

    @property
    def passed(self) -> bool:
        """Whether every check passed and every procedure of the scenario ran."""

    @property
    def checks(self) -> list[DrillCheck]:
        """The checks, in order."""

    @property
    def failover(self) -> Optional[Report]:
        """The failover's report, if it ran."""

    @property
    def failback(self) -> Optional[Report]:
        """The failback's report (Microsoft's failback, or the online failback's
        prepare phase), if it ran."""

    @property
    def switchovers(self) -> list[Report]:
        """The switchovers' reports, in order (to the backup site and back, or the
        online failback's cutover)."""

    @property
    def messages_committed_before_disaster(self) -> int:
        """Chat messages committed on the primary site before the disaster."""

    @property
    def messages_guaranteed(self) -> int:
        """How many of them were in log backups on the share (the rest is the window
        log shipping cannot protect)."""

    @property
    def last_applied_log_backup(self) -> Optional[str]:
        """The last log backup the failover applied."""

    @property
    def last_applied_log_backup_finished(self) -> Optional[datetime.datetime]:
        """When that log backup finished (UTC)."""

    def to_dict(self) -> dict[str, Any]:
        """The report as plain Python values, the same as ``pcdr drill --json``."""

def drill(
    dir: Optional[_StrPath] = None,
    logs: int = 6,
    uncopied: int = 2,
    unrestored: int = 3,
    on_event: _OnEvent = None,
    scenario: Literal["disaster", "switchover", "online-failback"] = "disaster",
) -> DrillReport:
    """Rehearse a whole disaster, as ``pcdr drill`` does: build an emulated two-site
    world in ``dir``, serve it, send chat traffic, take the primary site down, fail
    over through the real adapters, verify, rebuild the primary site, fail back,
    verify (``scenario="disaster"``). ``"switchover"`` moves the pool to the backup
    site and back while both answer; ``"online-failback"`` fails over, then prepares
    the rebuilt primary while the pool serves and cuts over with a switchover. No ``pcdr`` executable is needed: the world's Management Shell is this
    interpreter (``python -m pcdr._simshell``).

    Only in a build with the emulator (the default): a production wheel, built with
    ``--no-default-features``, has no ``drill``.

    Args:
        dir: an empty or missing folder for the world; by default a temporary one,
            removed when the drill passes.
        logs: log backups taken before the disaster.
        uncopied: the newest of them not yet copied when disaster strikes.
        unrestored: the newest of them not yet restored.
        on_event: called with each progress event of every procedure, as in
            ``Runbook.run``; an exception it raises stops the drill and is
            raised.
        scenario: what to rehearse (see above).

    Returns:
        The report; a drill that fails (including one whose ``dir`` already holds
        a world) returns it with ``passed`` false and the failed checks.

    Raises:
        KeyboardInterrupt: Ctrl-C stopped the drill.
    """

def _sim_shell(args: list[str]) -> tuple[str, str, int]:
    """Run the emulated Management Shell on ``--world DIR -- <shell args>``: its
    stdout, stderr and exit code (see ``pcdr._simshell``). Only in a build with the
    emulator (the default)."""

class PcdrError(Exception):
    """The base of every error pcdr raises. The message says what failed, where,
    and what to do next; ``__cause__`` chains what caused it (for a ``StepError``,
    the failed call to SQL Server, a share or the Management Shell), each link a
    ``PcdrError``."""

class TopologyError(PcdrError):
    """The topology is invalid or its password cannot be read."""

    key: str
    """The key path where the problem is (``sql.password_file``), or the file."""

class PreconditionError(PcdrError):
    """A step refused to start because the world is not as the procedure requires."""

    step: Optional[str]
    """The step's id."""
    kind: Optional[
        Literal[
            "primary_reachable",
            "pool_state",
            "database_state",
            "earlier_step",
            "topology",
            "world_changed",
            "run_in_progress",
        ]
    ]
    """Why, as a value to branch on (``None`` for an unknown step id)."""

class DataLossRefused(PreconditionError):
    """The log chain has a gap and data loss was not accepted: find the missing log
    backup and resume, or resume with ``accept_data_loss=True``."""

    server: str
    """The SQL Server instance."""
    database: str
    """The database."""

class StepError(PcdrError):
    """A call made by a step failed."""

    step: Optional[str]
    """The step's id."""
    server: str
    """The server, share or pool the call went to."""
    database: Optional[str]
    """The database involved, if any."""
    file: Optional[str]
    """The file involved, if any."""
    transient: bool
    """Whether resuming later, unchanged, may succeed."""

class SqlServerError(StepError):
    """SQL Server answered with an error."""

    number: int
    """SQL Server's error number (e.g. 4305)."""
    state: int
    """The error's state."""
    severity: int
    """The error's severity (class)."""

class ChatPoolError(StepError):
    """A Skype for Business Management Shell cmdlet failed on the pool."""

    cmdlet: str
    """The cmdlet."""

class JournalError(PcdrError):
    """The journal cannot be created, read or written, or holds no run."""

    path: Path
    """The journal file (a ``pathlib.Path``)."""

class JournalLocked(JournalError):
    """Another pcdr run holds the journal."""

class RunCancelled(PcdrError):
    """The run was cancelled; resume the journal to continue."""

    step: Optional[str]
    """The step that was next or running."""
