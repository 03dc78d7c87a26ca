"""Real runs against the example topology, whose hosts do not resolve: errors with
their place, events to the callback and to logging, reports, callback exceptions,
KeyboardInterrupt and resume."""

from __future__ import annotations

import json
import logging
import pathlib
import signal
import threading
import time
from typing import NoReturn

import pytest

import pcdr
from conftest import SilentServer, topology_with_backup_sql


def failed_failover(runbook: pcdr.Runbook, events: list[pcdr.Event]) -> pcdr.StepError:
    with pytest.raises(pcdr.StepError) as caught:
        runbook.failover(on_event=events.append)
    return caught.value


def test_failover_raises_step_error_for_check_sites_with_its_place(
    topology: pcdr.Topology, journal: pathlib.Path
) -> None:
    error = failed_failover(pcdr.Runbook(topology, journal=journal), [])
    assert type(error) is pcdr.StepError
    assert error.step == "check_sites"
    assert error.server == "sql-dal.contoso.com,1433"
    assert error.database == "mgc"
    assert error.file is None
    # The name does not resolve here: not a refusal or a time-out, so the instance is not
    # known to be down, and resuming unchanged would not help.
    assert error.transient is False
    assert "cannot connect to sql-dal.contoso.com,1433" in str(error)
    assert "Next: " in str(error)


def test_events_go_to_the_callback_and_to_logging(
    topology: pcdr.Topology, journal: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[pcdr.Event] = []
    with caplog.at_level(logging.INFO, logger="pcdr"):
        failed_failover(pcdr.Runbook(topology, journal=journal), events)
    assert [(e.kind, e.step) for e in events] == [
        ("step_started", "check_sites"),
        ("step_failed", "check_sites"),
    ]
    assert events[0].to_dict() == {
        "event": "step_started",
        "step": "check_sites",
        "title": events[0].message.split(": ", 1)[1],
    }
    records = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert records == [
        ("pcdr", logging.INFO, events[0].message),
        ("pcdr", logging.WARNING, events[1].message),
    ]


def test_report_after_the_failure_names_the_step(
    topology: pcdr.Topology, journal: pathlib.Path
) -> None:
    runbook = pcdr.Runbook(topology, journal=journal)
    failed_failover(runbook, [])
    report = runbook.report()
    assert report.procedure == "failover"
    assert not report.completed
    assert report.failed_step == "check_sites"
    first = report.steps[0]
    assert first.id == "check_sites" and first.outcome is None
    assert first.error is not None and "cannot connect to" in first.error
    assert first.started is not None and first.ended is not None
    assert all(step.started is None for step in report.steps[1:])


def test_report_to_dict_is_json_and_matches_the_attributes(
    topology: pcdr.Topology, journal: pathlib.Path
) -> None:
    runbook = pcdr.Runbook(topology, journal=journal)
    failed_failover(runbook, [])
    report = runbook.report()
    data = report.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["procedure"] == report.procedure
    assert data["run_id"] == report.run_id
    assert data["completed"] is report.completed
    assert data["rto_seconds"] == report.rto_seconds
    assert data["rpo"] == report.rpo
    # A failover's pool serves no one from the run's start; this one never activated.
    assert data["outage"] == report.outage
    assert report.outage is not None
    assert report.outage["fenced_by"] is None and report.outage["ended"] is None
    assert [s["step"] for s in data["steps"]] == [s.id for s in report.steps]
    assert data["steps"][0] == report.steps[0].to_dict()
    assert report.started is not None
    assert data["started"].startswith(report.started.strftime("%Y-%m-%dT%H:%M:%S"))


def test_an_exception_in_the_callback_is_raised_as_the_cause(
    topology: pcdr.Topology, journal: pathlib.Path
) -> None:
    original = ValueError("the operator's script broke")

    def on_event(event: pcdr.Event) -> NoReturn:
        raise original

    with pytest.raises(pcdr.PcdrError) as caught:
        pcdr.Runbook(topology, journal=journal).failover(on_event=on_event)
    assert caught.value.__cause__ is original
    # The step that was running failed on its own before the run could stop.
    assert isinstance(caught.value, pcdr.StepError)


def test_the_callback_is_not_called_again_after_it_raised(
    topology: pcdr.Topology, journal: pathlib.Path
) -> None:
    calls: list[str] = []

    def on_event(event: pcdr.Event) -> None:
        calls.append(event.kind)
        raise RuntimeError("once")

    with pytest.raises(pcdr.StepError):
        pcdr.Runbook(topology, journal=journal).failover(on_event=on_event)
    assert calls == ["step_started"]


def test_a_keyboard_interrupt_in_the_callback_leaves_a_resumable_journal(
    topology: pcdr.Topology, journal: pathlib.Path
) -> None:
    def on_event(event: pcdr.Event) -> NoReturn:
        raise KeyboardInterrupt

    runbook = pcdr.Runbook(topology, journal=journal)
    with pytest.raises(KeyboardInterrupt) as caught:
        runbook.failover(on_event=on_event)
    assert isinstance(caught.value.__context__, pcdr.StepError)
    assert not runbook.report().completed
    events: list[pcdr.Event] = []
    with pytest.raises(pcdr.StepError) as resumed:
        runbook.resume(on_event=events.append)
    assert resumed.value.step == "check_sites"
    assert [e.kind for e in events] == ["step_started", "step_failed"]


def test_ctrl_c_cancels_a_hanging_run_and_the_journal_resumes(
    silent_server: SilentServer, journal: pathlib.Path
) -> None:
    """A real SIGINT while the first step hangs on a silent SQL Server port. The threads
    that accept the connection and send the signal run Python code while the run
    waits, so this also shows the run releases the GIL.

    The run's start already reads the backup instance (the journal's deployment records
    the backup database's family), so the signal waits for a connection made after the
    step started; the start's own read gives up after the login time limit."""
    runbook = pcdr.Runbook(topology_with_backup_sql(silent_server.port), journal=journal)
    connections_before_the_step: list[int] = []

    def on_event(event: pcdr.Event) -> None:
        # Called on the run's thread before the step goes on: no connection of the
        # step's can be accepted before this count is taken.
        if event.kind == "step_started" and not connections_before_the_step:
            connections_before_the_step.append(len(silent_server.accepted))

    def a_step_connection_is_waiting() -> bool:
        return bool(connections_before_the_step) and (
            len(silent_server.accepted) > connections_before_the_step[0]
        )

    def interrupt_then_drop_connections() -> None:
        deadline = time.monotonic() + 60
        while not a_step_connection_is_waiting():
            assert time.monotonic() < deadline, "the first step never connected"
            time.sleep(0.01)
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
        threading.Timer(0.5, silent_server.close).start()

    threading.Thread(target=interrupt_then_drop_connections, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        runbook.failover(on_event=on_event)
    report = runbook.report()
    assert not report.completed
    assert report.steps[0].ended is not None, "the run waited for the step to end"
    with pytest.raises(pcdr.StepError) as resumed:
        runbook.resume()
    assert resumed.value.step == "check_sites"
    assert resumed.value.server == f"127.0.0.1,{silent_server.port}"


def test_run_step_with_an_unknown_id_raises_precondition_error(
    topology: pcdr.Topology, journal: pathlib.Path
) -> None:
    with pytest.raises(pcdr.PreconditionError, match="use one of: check_sites"):
        pcdr.Runbook(topology, journal=journal).run_step("failover", "no_such_step")
    assert not journal.exists()


def test_run_step_runs_one_step_journaled(topology: pcdr.Topology, journal: pathlib.Path) -> None:
    runbook = pcdr.Runbook(topology, journal=journal)
    with pytest.raises(pcdr.StepError) as caught:
        runbook.run_step("failover", "check_sites")
    assert caught.value.step == "check_sites"
    assert runbook.report().failed_step == "check_sites"


def test_run_step_refuses_to_run_ahead_of_the_earlier_steps(
    topology: pcdr.Topology, journal: pathlib.Path
) -> None:
    with pytest.raises(pcdr.PreconditionError) as caught:
        pcdr.Runbook(topology, journal=journal).run_step("failover", "recover_database")
    assert caught.value.step == "recover_database"
    assert caught.value.kind == "earlier_step"


def test_resume_of_a_missing_journal_raises_journal_error(
    topology: pcdr.Topology, journal: pathlib.Path
) -> None:
    with pytest.raises(pcdr.JournalError) as caught:
        pcdr.Runbook(topology, journal=journal).resume()
    assert caught.value.path == journal
    assert "holds no run to resume" in str(caught.value)


def test_report_of_a_missing_journal_raises_journal_error(
    topology: pcdr.Topology, journal: pathlib.Path
) -> None:
    with pytest.raises(pcdr.JournalError):
        pcdr.Runbook(topology, journal=journal).report()


def test_a_new_run_refuses_a_journal_that_holds_one(
    topology: pcdr.Topology, journal: pathlib.Path
) -> None:
    runbook = pcdr.Runbook(topology, journal=journal)
    failed_failover(runbook, [])
    with pytest.raises(pcdr.JournalError, match="holds an interrupted failover"):
        runbook.failover()


def test_failback_fails_on_its_first_step(topology: pcdr.Topology, journal: pathlib.Path) -> None:
    with pytest.raises(pcdr.StepError) as caught:
        pcdr.Runbook(topology, journal=journal).failback()
    assert caught.value.step == "check_rebuilt_primary"


def test_on_event_must_be_callable(topology: pcdr.Topology, journal: pathlib.Path) -> None:
    with pytest.raises(TypeError, match="on_event"):
        pcdr.Runbook(topology, journal=journal).failover(on_event=42)  # type: ignore[arg-type]
    assert not journal.exists()


def test_the_default_journal_is_a_new_file_in_the_temporary_folder(
    topology: pcdr.Topology,
) -> None:
    runbook = pcdr.Runbook(topology)
    assert isinstance(runbook.journal, pathlib.Path)
    assert runbook.journal.name.startswith("pcdr-")
    assert not runbook.journal.exists()


def test_a_runbook_runs_one_call_at_a_time(topology: pcdr.Topology, journal: pathlib.Path) -> None:
    runbook = pcdr.Runbook(topology, journal=journal)

    def on_event(event: pcdr.Event) -> None:
        runbook.failover()

    with pytest.raises(pcdr.StepError) as caught:
        runbook.failover(on_event=on_event)
    assert isinstance(caught.value.__cause__, pcdr.PcdrError)
    assert "already running" in str(caught.value.__cause__)
