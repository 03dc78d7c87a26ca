"""``pcdr.drill()``: the rehearsal of ``pcdr drill`` on an emulated world, run from
Python alone — the world's Management Shell is this interpreter
(``python -m pcdr._simshell``), not the ``pcdr`` executable."""

from __future__ import annotations

import pathlib
import sys

import pytest

import pcdr
from pcdr import _simshell


def test_drill_passes(tmp_path: pathlib.Path) -> None:
    world = tmp_path / "world"
    events: list[pcdr.Event] = []
    report = pcdr.drill(world, on_event=events.append)

    assert isinstance(report, pcdr.DrillReport)
    assert report.passed, [c.to_dict() for c in report.checks if not c.passed]
    assert report.world == world
    assert [c.name for c in report.checks] == [
        "disaster",
        "failover",
        "verify failed over",
        "failback",
        "verify back to normal",
    ]
    assert all(isinstance(c, pcdr.DrillCheck) and c.passed for c in report.checks)
    assert report.failover is not None and report.failover.completed
    assert report.failover.procedure == "failover"
    assert report.failback is not None and report.failback.completed
    assert report.scenario == "disaster" and report.switchovers == []
    assert report.messages_committed_before_disaster >= report.messages_guaranteed > 0
    assert report.last_applied_log_backup is not None
    assert any(e.kind == "step_finished" for e in events)

    as_dict = report.to_dict()
    assert as_dict["passed"] is True
    assert as_dict["failover"]["completed"] is True
    assert len(as_dict["checks"]) == len(report.checks)

    # The world's shell is this interpreter running pcdr._simshell.
    topology = (world / "topology.toml").read_text()
    assert repr(sys.executable).strip("'") in topology or sys.executable in topology
    assert "pcdr._simshell" in topology


def test_the_switchover_drill_moves_the_pool_and_back(tmp_path: pathlib.Path) -> None:
    report = pcdr.drill(tmp_path / "world", scenario="switchover")
    assert report.passed, [c.to_dict() for c in report.checks if not c.passed]
    assert report.scenario == "switchover"
    assert report.failover is None and report.failback is None
    assert [r.procedure for r in report.switchovers] == ["switchover", "switchover"]
    assert all(r.completed for r in report.switchovers)


def test_an_unknown_scenario_is_refused(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValueError, match="online-failback"):
        pcdr.drill(tmp_path / "world", scenario="sideways")  # type: ignore[arg-type]


def test_a_second_drill_into_the_same_folder_fails_cleanly(tmp_path: pathlib.Path) -> None:
    world = tmp_path / "world"
    assert pcdr.drill(world).passed
    report = pcdr.drill(world)
    assert not report.passed
    assert report.failover is None and report.failback is None
    failed = [c for c in report.checks if not c.passed]
    assert [c.name for c in failed] == ["drill"]
    assert "a world already exists" in failed[0].detail


def test_drill_in_a_temporary_folder() -> None:
    report = pcdr.drill(logs=3, uncopied=1, unrestored=1)
    assert report.passed, [c.to_dict() for c in report.checks if not c.passed]
    assert not report.world.exists()  # removed once the drill passed


def test_a_raising_callback_stops_the_drill(tmp_path: pathlib.Path) -> None:
    def boom(event: pcdr.Event) -> None:
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        pcdr.drill(tmp_path / "world", on_event=boom)


def test_on_event_must_be_callable(tmp_path: pathlib.Path) -> None:
    with pytest.raises(TypeError, match="on_event must be callable"):
        pcdr.drill(tmp_path / "world", on_event=42)  # type: ignore[arg-type]


def test_simshell_refuses_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert _simshell.main(["-NoProfile"]) == 1
    assert "--world DIR" in capsys.readouterr().err
    assert _simshell.main(["--world", "/nonexistent/pcdr-world", "--", "-Command", "x"]) == 1
    assert "/nonexistent/pcdr-world" in capsys.readouterr().err
