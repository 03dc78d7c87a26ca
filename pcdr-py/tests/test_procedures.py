"""pcdr.procedures() and Runbook.run: the procedures and their steps come from the
same tables the runbook runs, and run() takes any name procedures() lists."""

from __future__ import annotations

import pathlib
from typing import Literal

import pytest

import pcdr
from test_plan import FAILOVER_STEPS


def by_name() -> dict[str, pcdr.ProcedureInfo]:
    return {procedure.name: procedure for procedure in pcdr.procedures()}


PREPARE_FAILBACK_STEPS = [
    "check_prepare_failback",
    "back_up_serving_database",
    "seed_primary",
    "ship_logs_to_primary",
]

SWITCHOVER_STEPS = [
    "check_switchover",
    "record_log_shipping",
    "remove_incoming_log_shipping",
    "copy_backlog",
    "restore_backlog",
    "fence_pool",
    "unmirror_serving_database",
    "back_up_tail_log",
    "copy_tail",
    "restore_tail",
    "recover_new_primary",
    "set_switched_pool_state",
    "activate_switched_servers",
    "mirror_switched_database",
    "reverse_log_shipping",
]


def test_procedures_lists_every_procedure_with_its_steps() -> None:
    procedures = pcdr.procedures()
    assert [p.name for p in procedures] == [
        "failover",
        "failback",
        "prepare_failback",
        "switchover",
    ]
    assert all(isinstance(p, pcdr.ProcedureInfo) and p.summary for p in procedures)
    failover, failback, prepare_failback, switchover = procedures
    assert [step.id for step in failover.steps] == FAILOVER_STEPS
    assert len(failback.steps) == 11
    assert failback.steps[0].id == "check_rebuilt_primary"
    assert [step.id for step in prepare_failback.steps] == PREPARE_FAILBACK_STEPS
    assert [step.id for step in switchover.steps] == SWITCHOVER_STEPS
    steps = [step for p in procedures for step in p.steps]
    assert all(isinstance(step, pcdr.StepInfo) and step.title for step in steps)
    assert len({step.id for step in steps}) == len(steps), "step ids are unique"


def test_each_procedures_steps_are_the_steps_its_plan_shows(topology: pcdr.Topology) -> None:
    runbook = pcdr.Runbook(topology, dry_run=True)
    for procedure in pcdr.procedures():
        planned = runbook.plan(procedure.name)
        assert [(s.id, s.title) for s in procedure.steps] == [(s.id, s.title) for s in planned]


def test_run_on_a_dry_run_returns_the_plan_of_that_procedure(
    topology: pcdr.Topology, journal: pathlib.Path
) -> None:
    runbook = pcdr.Runbook(topology, journal=journal, dry_run=True)
    for procedure in pcdr.procedures():
        outcome = runbook.run(procedure.name)
        assert isinstance(outcome, list)
        assert [step.id for step in outcome] == [step.id for step in procedure.steps]
    assert not journal.exists()


@pytest.mark.parametrize("name", [p.name for p in pcdr.procedures()])
def test_run_fails_on_the_first_step_of_the_procedure_it_names(
    name: str, topology: pcdr.Topology, journal: pathlib.Path
) -> None:
    """The example topology's hosts do not resolve: each procedure stops on its first
    step, and the journal's report names the procedure."""
    runbook = pcdr.Runbook(topology, journal=journal)
    with pytest.raises(pcdr.StepError) as caught:
        runbook.run(name)
    assert caught.value.step == by_name()[name].steps[0].id
    assert runbook.report().procedure == name


def test_run_of_an_unknown_procedure_raises_value_error_listing_the_names(
    topology: pcdr.Topology, journal: pathlib.Path
) -> None:
    runbook = pcdr.Runbook(topology, journal=journal)
    for call in (
        lambda: runbook.run("failsideways"),
        lambda: runbook.run_step("failsideways", "check_sites"),
    ):
        with pytest.raises(ValueError) as caught:
            call()
        assert all(name in str(caught.value) for name in by_name())
    assert not journal.exists()


@pytest.mark.parametrize("site", ["primary", "backup"])
def test_switch_to_takes_either_site(
    site: Literal["primary", "backup"], topology: pcdr.Topology
) -> None:
    runbook = pcdr.Runbook(topology, dry_run=True, switch_to=site)
    assert [step.id for step in runbook.plan("switchover")] == SWITCHOVER_STEPS


def test_a_switch_to_that_names_no_site_is_refused_naming_the_argument(
    topology: pcdr.Topology, journal: pathlib.Path
) -> None:
    for text in ("sideways", "Primary", ""):
        with pytest.raises(ValueError) as caught:
            pcdr.Runbook(topology, journal=journal, switch_to=text)  # type: ignore[arg-type]
        message = str(caught.value)
        assert f'switch_to="{text}" names no site' in message, message
        assert '"primary"' in message and '"backup"' in message, message
    assert not journal.exists()
