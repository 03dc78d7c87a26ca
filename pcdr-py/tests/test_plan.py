"""Runbook.plan and dry runs: a read-only description of every step."""

import json
import pathlib

import pytest

import pcdr

FAILOVER_STEPS = [
    "check_sites",
    "snapshot_log_shipping",
    "remove_log_shipping",
    "copy_log_backups",
    "apply_unapplied_logs",
    "recover_database",
    "set_pool_failed_over",
    "mirror_new_primary",
    "activate_backup_servers",
]


def test_plan_returns_the_nine_failover_steps_in_order(topology: pcdr.Topology) -> None:
    steps = pcdr.Runbook(topology, dry_run=True).plan("failover")
    assert [step.id for step in steps] == FAILOVER_STEPS
    assert all(isinstance(step, pcdr.PlannedStep) and step.title for step in steps)


def test_unobservable_steps_show_command_templates(topology: pcdr.Topology) -> None:
    steps = {s.id: s for s in pcdr.Runbook(topology, dry_run=True).plan("failover")}
    assert all(step.state == "unknown" and step.reason for step in steps.values())
    remove = steps["remove_log_shipping"].commands
    # A log-shipping job found running is stopped first, then log shipping removed.
    assert [c.kind for c in remove] == ["sql", "sql"]
    assert "sp_stop_job" in remove[0].text
    assert remove[1].target == "sql-dal.contoso.com,1433"
    assert "sp_delete_log_shipping_secondary_database" in remove[1].text
    apply = steps["apply_unapplied_logs"].commands
    assert [c.kind for c in apply] == ["sql", "sql"]
    assert "<yyyyMMddHHmmss>" in apply[1].text
    copy = steps["copy_log_backups"].commands[0]
    assert copy.kind == "copy"
    assert copy.to_dict()["kind"]["from"].startswith("\\\\fs01.contoso.com\\pchat-logs")
    pool = steps["set_pool_failed_over"].commands[0]
    assert pool.kind == "shell"
    assert "Set-CsPersistentChatState" in pool.text


def test_plan_of_the_failback(topology: pcdr.Topology) -> None:
    steps = pcdr.Runbook(topology).plan("failback")
    assert steps[0].id == "check_rebuilt_primary"
    assert steps[-1].id == "set_pool_normal"


def test_a_failback_plan_refuses_a_failover_journal_that_does_not_exist(
    topology: pcdr.Topology, tmp_path: pathlib.Path
) -> None:
    missing = tmp_path / "pcdr-failover.journal"
    runbook = pcdr.Runbook(topology, dry_run=True, failover_journal=missing)
    with pytest.raises(pcdr.JournalError, match="failover journal but does not exist"):
        runbook.plan("failback")
    # A failover does not read it.
    assert runbook.plan("failover")


def test_a_planned_step_to_dict_is_json(topology: pcdr.Topology) -> None:
    step = pcdr.Runbook(topology).plan("failover")[2]
    data = json.loads(json.dumps(step.to_dict()))
    assert data["step"] == step.id
    assert data["status"] == step.state
    assert data["reason"] == step.reason
    assert len(data["commands"]) == len(step.commands)
    assert data["files"] == step.files and data["notes"] == step.notes


def test_an_unknown_procedure_is_a_value_error_listing_the_names(
    topology: pcdr.Topology,
) -> None:
    with pytest.raises(ValueError, match="failsideways") as caught:
        pcdr.Runbook(topology).plan("failsideways")
    assert all(procedure.name in str(caught.value) for procedure in pcdr.procedures())


def test_a_dry_run_failover_returns_the_plan_and_writes_no_journal(
    topology: pcdr.Topology, journal: pathlib.Path
) -> None:
    runbook = pcdr.Runbook(topology, journal=journal, dry_run=True)
    outcome = runbook.failover()
    assert isinstance(outcome, list)
    assert [step.id for step in outcome] == FAILOVER_STEPS
    assert not journal.exists()
