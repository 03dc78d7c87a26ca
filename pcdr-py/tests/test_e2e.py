"""End to end on pcdr-sim: each test serves a fresh emulated two-site world with
``pcdr sim serve`` (four SQL Server instances over TDS on loopback, a backup share, a
copy folder, an emulated Management Shell) and drives it with ``pcdr sim …``, while the
package plans, fails over, fails back, switches over and resumes through the real
adapters.

The pcdr executable is ``$PCDR_BIN`` (``scripts/test-py`` builds it and sets it), else
``target/debug/pcdr`` of this checkout."""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import queue
import re
import signal
import subprocess
import threading
from typing import IO, Iterator, Optional

import pytest

import pcdr

ROOT = pathlib.Path(__file__).resolve().parents[2]

#: How long a served world may take to print READY, and a sim command to return.
READY_TIMEOUT = 30.0
SIM_TIMEOUT = 60.0


def pcdr_bin() -> pathlib.Path:
    """The pcdr executable the worlds are served with."""
    path = pathlib.Path(os.environ.get("PCDR_BIN") or ROOT / "target" / "debug" / "pcdr")
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is not an executable: build it (cargo build -p pcdr) or set PCDR_BIN")
    return path


class World:
    """A world served by ``pcdr sim serve --dir DIR`` in a subprocess."""

    def __init__(self, dir: pathlib.Path, *serve_args: str) -> None:
        self.dir = dir
        self.bin = pcdr_bin()
        self.reader: Optional[threading.Thread] = None
        # The server's log goes to a file: a pipe nobody reads could fill and stall it.
        self.log = dir.with_name(dir.name + ".log")
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [str(self.bin), "sim", "serve", "--dir", str(dir), *serve_args],
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        try:
            self.topology_path = self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_until_ready(self) -> pathlib.Path:
        lines: queue.Queue[Optional[str]] = queue.Queue()
        stdout: IO[str] | None = self.process.stdout
        assert stdout is not None

        def read() -> None:
            for line in stdout:
                lines.put(line)
            lines.put(None)

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        try:
            line = lines.get(timeout=READY_TIMEOUT)
        except queue.Empty:
            pytest.fail(f"pcdr sim serve printed nothing in {READY_TIMEOUT} s")
        if line is None or not line.startswith("READY "):
            pytest.fail(f"pcdr sim serve did not become ready: {line!r} {self.log.read_text()}")
        return pathlib.Path(line.removeprefix("READY ").strip())

    def stop(self) -> None:
        """Stops the server (SIGTERM, then SIGKILL after 10 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.reader is not None:
            self.reader.join(timeout=10)  # it reads to the end of the server's output
        if self.process.stdout is not None and not (self.reader and self.reader.is_alive()):
            self.process.stdout.close()

    def sim(self, command: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Runs ``pcdr sim COMMAND --dir DIR ARGS…``."""
        return subprocess.run(
            [str(self.bin), "sim", command, "--dir", str(self.dir), *args],
            capture_output=True,
            text=True,
            timeout=SIM_TIMEOUT,
        )

    def must(self, command: str, *args: str) -> None:
        """Runs a ``pcdr sim`` command that must succeed."""
        done = self.sim(command, *args)
        assert done.returncode == 0, f"pcdr sim {command}: {done.stdout}{done.stderr}"

    def verify(self, expect: str) -> subprocess.CompletedProcess[str]:
        """``pcdr sim verify --expect EXPECT`` (exit 0 only when the world matches)."""
        return self.sim("verify", "--expect", expect)

    def topology(self) -> pcdr.Topology:
        """The served topology, loaded by the package."""
        return pcdr.Topology.load(self.topology_path)


@pytest.fixture
def world(tmp_path: pathlib.Path) -> Iterator[World]:
    """A fresh world, served for the test."""
    served = World(tmp_path / "world")
    yield served
    served.stop()


@pytest.fixture
def world_with_two_uncopied(tmp_path: pathlib.Path) -> Iterator[World]:
    """A fresh world whose two newest log backups are not copied yet."""
    served = World(tmp_path / "world", "--uncopied", "2")
    yield served
    served.stop()


@pytest.fixture
def slow_world(tmp_path: pathlib.Path) -> Iterator[World]:
    """A fresh world whose every statement takes 200 ms (a failover: about 9 s)."""
    served = World(tmp_path / "world", "--statement-latency-ms", "200")
    yield served
    served.stop()


def kinds(events: list[pcdr.Event], kind: str) -> list[Optional[str]]:
    """The steps of the events of one kind."""
    return [event.step for event in events if event.kind == kind]


def test_plan_while_the_primary_answers_blocks_check_sites(world: World) -> None:
    steps = pcdr.Runbook(world.topology()).plan("failover")
    assert len(steps) == 9
    by_id = {step.id: step for step in steps}
    check_sites = by_id["check_sites"]
    assert check_sites.state == "blocked"
    assert check_sites.reason is not None and "still answers" in check_sites.reason
    assert by_id["copy_log_backups"].state == "would_run"
    assert len(by_id["copy_log_backups"].files) == 1
    restore = by_id["apply_unapplied_logs"]
    assert restore.state == "would_run"
    assert [c.kind for c in restore.commands] and all(c.kind == "sql" for c in restore.commands)
    # The copy step acts first, so the plan shows the restores' template: readers of a
    # standby copy ended, then each log backup restored, placeholders for what only
    # observation can tell.
    assert len(restore.commands) == 2
    assert "KILL <session>" in restore.commands[0].text
    assert "RESTORE LOG" in restore.commands[1].text
    assert by_id["set_pool_failed_over"].commands[0].kind == "shell"


def test_failover_then_failback_and_the_world_verifies(
    world: World, tmp_path: pathlib.Path
) -> None:
    topology = world.topology()
    world.must("traffic", "--messages", "20", "--log-backup")
    world.must("traffic", "--messages", "3")
    world.must("disaster", "--site", "primary")

    runbook = pcdr.Runbook(topology, journal=tmp_path / "failover.journal")
    assert runbook.plan("failover")[0].state == "would_run"
    events: list[pcdr.Event] = []
    report = runbook.failover(on_event=events.append)
    assert isinstance(report, pcdr.Report)
    assert report.completed and report.procedure == "failover"
    assert report.failed_step is None
    outcomes = {s.id: s.outcome for s in report.steps if s.outcome}
    # Pipelined (the default): the copy step restores each log backup as it lands, so
    # the apply step finds nothing left to restore.
    assert "restored as they landed" in outcomes["copy_log_backups"].message
    assert outcomes.pop("apply_unapplied_logs").kind == "skipped"
    assert [o.kind for o in outcomes.values()] == ["done"] * 8
    assert kinds(events, "step_finished") == list(outcomes)
    assert kinds(events, "step_skipped") == ["apply_unapplied_logs"]
    assert report.files_copied >= 1 and report.logs_restored >= 1
    assert report.rpo["last_applied_file"]
    verified = world.verify("failed-over")
    assert verified.returncode == 0, verified.stdout

    world.must("traffic", "--messages", "10")
    world.must("rebuild", "--site", "primary")
    runbook = pcdr.Runbook(
        topology,
        journal=tmp_path / "failback.journal",
        failover_journal=tmp_path / "failover.journal",
    )
    check = runbook.plan("failback")[0]
    assert check.state == "would_run"
    # The failback keeps the log-shipping settings the failover recorded.
    kept = "with the settings of the failover's snapshot in " + str(tmp_path / "failover.journal")
    assert any(kept in note for note in check.notes), check.notes
    report = runbook.failback(on_event=events.append)
    assert isinstance(report, pcdr.Report)
    assert report.completed and report.procedure == "failback"
    assert len(report.steps) == 11
    world.must("traffic", "--messages", "5", "--log-backup")
    world.must("tick", "--minutes", "20")
    verified = world.verify("normal")
    assert verified.returncode == 0, verified.stdout


#: The steps a switchover may find done: the catch-up of a secondary log shipping
#: already brought up to date, the unmirroring of a database no mirror partners, and the
#: tail's restore (pipelined, the copy step restored each file as it landed).
SWITCHOVER_MAY_SKIP = {
    "copy_backlog",
    "restore_backlog",
    "unmirror_serving_database",
    "restore_tail",
}


def switch_over(world: World, journal: pathlib.Path) -> pcdr.Report:
    """Runs a switchover to its end, with messages committed after the last log backup
    (only the tail-log backup holds them), and checks its report: every step done or,
    where its work may already be done, skipped; the outage fenced by ``fence_pool``
    and closed."""
    world.must("traffic", "--messages", "3")
    switchover = next(p for p in pcdr.procedures() if p.name == "switchover")
    events: list[pcdr.Event] = []
    report = pcdr.Runbook(world.topology(), journal=journal).run("switchover", events.append)
    assert isinstance(report, pcdr.Report)
    assert report.completed and report.procedure == "switchover"
    assert kinds(events, "step_started") == [step.id for step in switchover.steps]
    assert set(kinds(events, "step_skipped")) <= SWITCHOVER_MAY_SKIP
    outage = report.outage
    assert outage is not None and outage["fenced_by"] == "fence_pool", outage
    assert outage["ended"] is not None, outage
    return report


def test_a_switchover_and_a_switch_back_return_the_world_to_normal(
    world: World, tmp_path: pathlib.Path
) -> None:
    """Both sites answer: a switchover moves the pool to the backup site, the same
    procedure run again moves it back, and the world verifies as it was, log shipping
    to the backup site included."""
    world.must("traffic", "--messages", "20", "--log-backup")
    switch_over(world, tmp_path / "switchover.journal")
    switch_over(world, tmp_path / "switchover-back.journal")
    world.must("traffic", "--messages", "5", "--log-backup")
    world.must("tick", "--minutes", "20")
    verified = world.verify("normal")
    assert verified.returncode == 0, verified.stdout


def test_run_by_name_fails_over_like_failover(world: World, tmp_path: pathlib.Path) -> None:
    """``run("failover")`` on a world after a disaster: the steps that run and report
    are the ones ``procedures()`` lists, and the world verifies as failed over."""
    world.must("traffic", "--messages", "5", "--log-backup")
    world.must("disaster", "--site", "primary")
    failover = next(p for p in pcdr.procedures() if p.name == "failover")
    steps = [step.id for step in failover.steps]
    runbook = pcdr.Runbook(world.topology(), journal=tmp_path / "failover.journal")
    events: list[pcdr.Event] = []
    report = runbook.run("failover", on_event=events.append)
    assert isinstance(report, pcdr.Report)
    assert report.completed and report.procedure == "failover"
    assert [s.id for s in report.steps] == steps
    assert kinds(events, "step_started") == steps
    verified = world.verify("failed-over")
    assert verified.returncode == 0, verified.stdout


def test_a_gap_in_the_log_chain_is_refused_then_resumed_accepting_data_loss(
    world_with_two_uncopied: World, tmp_path: pathlib.Path
) -> None:
    world = world_with_two_uncopied
    topology = world.topology()
    share, copy = world.dir / "share", world.dir / "copy"
    uncopied = sorted(
        p.name for p in share.glob("mgc_*.trn") if not (copy / p.name).exists()
    )
    assert len(uncopied) == 2, uncopied
    world.must("disaster", "--site", "primary")
    (share / uncopied[0]).unlink()

    journal = tmp_path / "failover.journal"
    with pytest.raises(pcdr.DataLossRefused) as refused:
        pcdr.Runbook(topology, journal=journal).failover()
    error = refused.value
    assert isinstance(error, pcdr.PreconditionError)
    assert error.step == "apply_unapplied_logs"
    assert error.database == "mgc"
    backup_sql = topology.to_dict()["sites"]["backup"]["sql"]
    # Every emulated instance is named, on a static port: SQL Server's host\INSTANCE,port.
    assert error.server == f"{backup_sql['host']}\\{backup_sql['instance']},{backup_sql['port']}"
    lsns = re.search(r"from LSN (\d+) to (\d+)", str(error))
    assert lsns is not None, str(error)
    assert int(lsns.group(1)) < int(lsns.group(2))
    assert uncopied[1] in str(error)  # the next file, after the gap

    refused_run = pcdr.Runbook(topology, journal=journal).report()
    assert refused_run.failed_step == "apply_unapplied_logs"
    assert refused_run.rpo["accepted_gap"] is None

    accepting = pcdr.Runbook(topology, journal=journal, accept_data_loss=True)
    report = accepting.resume()
    assert isinstance(report, pcdr.Report)
    assert report.completed and report.run_id == refused_run.run_id
    gap = str(report.rpo["accepted_gap"])
    assert lsns.group(1) in gap and lsns.group(2) in gap


def test_an_exception_in_the_callback_stops_the_run_cleanly(
    world: World, tmp_path: pathlib.Path
) -> None:
    world.must("disaster", "--site", "primary")
    journal = tmp_path / "failover.journal"
    original = RuntimeError("the operator's dashboard is down")
    seen: list[pcdr.Event] = []

    def on_event(event: pcdr.Event) -> None:
        seen.append(event)
        if event.kind == "step_finished":
            raise original

    topology = world.topology()
    runbook = pcdr.Runbook(topology, journal=journal)
    with pytest.raises((pcdr.RunCancelled, pcdr.StepError)) as caught:
        runbook.failover(on_event=on_event)
    assert caught.value.__cause__ is original
    # check_sites had finished, so nothing failed: the run stopped before the next step.
    assert isinstance(caught.value, pcdr.RunCancelled)
    assert caught.value.step == "snapshot_log_shipping"
    assert kinds(seen, "step_finished") == ["check_sites"]
    report = runbook.report()
    assert not report.completed
    assert report.steps[0].outcome is not None
    assert all(step.started is None for step in report.steps[2:])
    assert world.verify("failed-over").returncode != 0

    report_after = pcdr.Runbook(topology, journal=journal).resume()
    assert isinstance(report_after, pcdr.Report) and report_after.completed
    verified = world.verify("failed-over")
    assert verified.returncode == 0, verified.stdout


def test_a_bad_topology_is_refused_with_its_key(world: World, tmp_path: pathlib.Path) -> None:
    text = world.topology_path.read_text()
    with pytest.raises(pcdr.TopologyError) as bad_host:
        pcdr.Topology.from_toml(text.replace('host = "127.0.0.3"', 'host = "127.0.0 .3"'))
    assert bad_host.value.key == "sites.backup.sql.host"

    missing_password = tmp_path / "topology.toml"
    missing_password.write_text(
        text.replace(str(world.dir / "sql-password"), str(tmp_path / "no-such-password"))
    )
    with pytest.raises(pcdr.TopologyError) as no_password:
        pcdr.Runbook(pcdr.Topology.load(missing_password))
    assert no_password.value.key == "sql.password_file"

    with pytest.raises(pcdr.TopologyError):
        pcdr.Topology.load(tmp_path / "missing.toml")



def age_journal(journal: pathlib.Path, hours: int) -> None:
    """Moves the start of the run ``journal`` holds ``hours`` into the past."""
    lines = journal.read_text().splitlines()
    started = json.loads(lines[0])
    at = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=hours)
    started["at"] = at.isoformat()
    lines[0] = json.dumps(started)
    journal.write_text("\n".join(lines) + "\n")


def test_a_journal_older_than_a_day_resumes_only_with_resume_stale(
    world: World, tmp_path: pathlib.Path
) -> None:
    world.must("disaster", "--site", "primary")
    journal = tmp_path / "failover.journal"
    topology = world.topology()
    runbook = pcdr.Runbook(topology, journal=journal)
    runbook.run_step("failover", "check_sites")
    with pytest.raises(pcdr.PreconditionError) as refused:
        runbook.run_step("failover", "recover_database")
    assert refused.value.kind == "earlier_step"
    age_journal(journal, 25)

    with pytest.raises(pcdr.JournalError) as stale:
        pcdr.Runbook(topology, journal=journal).resume()
    assert "resume_stale" in str(stale.value)
    report = pcdr.Runbook(topology, journal=journal, resume_stale=True).resume()
    assert isinstance(report, pcdr.Report) and report.completed
    verified = world.verify("failed-over")
    assert verified.returncode == 0, verified.stdout

def test_ctrl_c_during_a_run_then_resume(slow_world: World, tmp_path: pathlib.Path) -> None:
    """A real SIGINT to this process while a (slow) failover runs."""
    world = slow_world
    world.must("disaster", "--site", "primary")
    journal = tmp_path / "failover.journal"
    runbook = pcdr.Runbook(world.topology(), journal=journal)
    timers: list[threading.Timer] = []
    events: list[pcdr.Event] = []

    def on_event(event: pcdr.Event) -> None:
        events.append(event)
        if not timers:  # the run is under way: interrupt it half a second from now
            timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
            timers.append(timer)
            timer.start()

    try:
        with pytest.raises(KeyboardInterrupt):
            runbook.failover(on_event=on_event)
    finally:
        for timer in timers:
            timer.join(timeout=10)
    assert timers, "the run sent no event"
    report = runbook.report()
    assert not report.completed
    assert report.failed_step is None
    interrupted_after = len(kinds(events, "step_finished"))
    assert interrupted_after < 9
    assert world.verify("failed-over").returncode != 0

    resumed: list[pcdr.Event] = []
    outcome = runbook.resume(on_event=resumed.append)
    assert isinstance(outcome, pcdr.Report) and outcome.completed
    # The resumed run starts the steps not done, and the checks again (the first two
    # steps send nothing, and were done before the interrupt).
    checks_again = min(interrupted_after, 2)
    assert len(kinds(resumed, "step_started")) <= 9 - interrupted_after + checks_again
    verified = world.verify("failed-over")
    assert verified.returncode == 0, verified.stdout



def test_a_run_while_another_holds_the_pool_is_refused_naming_it(
    slow_world: World, tmp_path: pathlib.Path
) -> None:
    """Another operator's ``pcdr failover`` (its own journal) holds the pool's run lock:
    a run from here is refused at once, as ``run_in_progress``, naming that run."""
    world = slow_world
    world.must("disaster", "--site", "primary")
    other = subprocess.Popen(
        [
            str(world.bin),
            "failover",
            "--topology",
            str(world.topology_path),
            "--journal",
            str(tmp_path / "other.journal"),
            "--yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stderr = other.stderr
        assert stderr is not None
        for line in stderr:
            if line.startswith("  done: "):
                break  # its first step is done: it holds the lock
        else:
            pytest.fail("the other run ended before its first step was done")
        runbook = pcdr.Runbook(world.topology(), journal=tmp_path / "failover.journal")
        with pytest.raises(pcdr.PreconditionError) as caught:
            runbook.failover()
        assert caught.value.kind == "run_in_progress"
        assert caught.value.step == "check_sites"
        assert re.search(r"'pcdr failover run \d{14}'", str(caught.value)), str(caught.value)
        rest = stderr.read()
        assert other.wait(timeout=120) == 0, rest
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()
    verified = world.verify("failed-over")
    assert verified.returncode == 0, verified.stdout


def test_the_failover_step_by_step_with_run_step(world: World, tmp_path: pathlib.Path) -> None:
    world.must("disaster", "--site", "primary")
    # Sequential: the copy step only copies and the apply step restores.
    runbook = pcdr.Runbook(
        world.topology(), journal=tmp_path / "failover.journal", sequential_restore=True
    )
    ids = [step.id for step in runbook.plan("failover")]
    outcomes = [runbook.run_step("failover", id) for id in ids]
    assert [outcome.kind for outcome in outcomes] == ["done"] * 9
    again = runbook.run_step("failover", "apply_unapplied_logs")
    assert again.kind == "skipped", again.message
    report = runbook.report()
    assert [s.id for s in report.steps] == ids
    assert all(s.outcome is not None for s in report.steps)
    # Every step is done, but only a run (or a resume) records the run as finished.
    events: list[pcdr.Event] = []
    finished = runbook.resume(on_event=events.append)
    assert isinstance(finished, pcdr.Report) and finished.completed
    assert kinds(events, "step_started") == []
    verified = world.verify("failed-over")
    assert verified.returncode == 0, verified.stdout
