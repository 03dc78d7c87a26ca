"""A typed ops script, checked with `mypy --strict` against the stubs (not run by pytest):
plan a failover, run it with progress printed, and handle the errors that matter."""

from __future__ import annotations

import logging
import sys

import pcdr


def on_event(event: pcdr.Event) -> None:
    """Prints each progress event."""
    step = event.step or "-"
    print(f"[{event.kind}] {step}: {event.message}")


def main(path: str, journal: str) -> int:
    """Plans, then fails over, resuming the journal if it already holds a run."""
    logging.basicConfig(level=logging.INFO)
    runbook = pcdr.Runbook(pcdr.Topology.load(path), journal=journal)
    steps: list[pcdr.PlannedStep] = runbook.plan("failover")
    for step in steps:
        commands = [f"{c.kind} on {c.target}: {c.text}" for c in step.commands]
        print(step.id, step.state, step.reason, commands, step.files, step.notes)
    if any(step.state == "blocked" for step in steps):
        return 2
    try:
        outcome = runbook.failover(on_event=on_event)
    except pcdr.JournalLocked as e:
        print(f"another run holds {e.path}", file=sys.stderr)
        return 3
    except pcdr.JournalError:
        outcome = runbook.resume(on_event=on_event)
    except pcdr.DataLossRefused as e:
        print(f"gap on {e.server}/{e.database} in {e.step}", file=sys.stderr)
        return 4
    except pcdr.SqlServerError as e:
        print(f"SQL {e.number}/{e.state}/{e.severity} at {e.step} on {e.server}", file=sys.stderr)
        return 5
    except pcdr.StepError as e:
        where: str | None = e.database or e.file
        print(f"{e.step} on {e.server} ({where}), transient={e.transient}", file=sys.stderr)
        return 6
    except pcdr.RunCancelled as e:
        print(f"cancelled at {e.step}: {e.__cause__!r}", file=sys.stderr)
        return 7
    if isinstance(outcome, pcdr.Report):
        rto: float | None = outcome.rto_seconds
        print(outcome.completed, rto, outcome.failed_step, outcome.rpo, outcome.to_dict())
        outage = outcome.outage
        print(outage["seconds"] if outage is not None else "the pool was not fenced")
        for report in outcome.steps:
            result: pcdr.StepOutcome | None = report.outcome
            print(report.id, report.millis, result and result.kind, report.error)
    one: pcdr.StepOutcome = runbook.run_step("failover", "apply_unapplied_logs")
    print(one.kind, one.message, runbook.report().finished)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
