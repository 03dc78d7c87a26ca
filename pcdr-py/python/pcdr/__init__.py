"""Disaster recovery for Skype for Business Server 2015 Persistent Chat.

Load a topology, then plan and run the failover to the backup data center (or the
failback, or a switchover while both sites answer) as a journaled, resumable runbook::

    import pcdr

    topology = pcdr.Topology.load("topology.toml")
    runbook = pcdr.Runbook(topology, journal="failover.journal")
    for step in runbook.plan("failover"):
        print(step.id, step.state)
    report = runbook.run("failover", on_event=lambda event: print(event.message))

``pcdr.procedures()`` lists the procedures (``failover``, ``failback``) and their
steps; ``Runbook.failover()`` and ``Runbook.failback()`` are shortcuts for ``run``.

Rehearse a whole disaster on an emulated two-site world, as ``pcdr drill`` does::

    report = pcdr.drill()
    assert report.passed, [c.detail for c in report.checks if not c.passed]

``drill``, ``DrillReport`` and ``DrillCheck`` exist only in a build with the emulator
(the default). A production wheel (``maturin build --release --no-default-features``)
leaves the emulator out, and them with it: ``hasattr(pcdr, "drill")`` tells which
build is installed.

Progress events also go to the ``logging`` logger ``pcdr``. Every error is a
``pcdr.PcdrError``; see the exception classes for what each one carries.
``pcdr.__version__`` is the version of pcdr the package was built from.
"""

import logging

from ._pcdr import (
    ChatPoolError,
    Command,
    DataLossRefused,
    Event,
    JournalError,
    JournalLocked,
    PcdrError,
    PlannedStep,
    PreconditionError,
    ProcedureInfo,
    Report,
    RunCancelled,
    Runbook,
    SqlServerError,
    StepError,
    StepInfo,
    StepOutcome,
    StepReport,
    Topology,
    TopologyError,
    procedures,
)
from ._pcdr import __version__ as __version__

__all__ = [
    "ChatPoolError",
    "Command",
    "DataLossRefused",
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
    "procedures",
]

try:
    from ._pcdr import DrillCheck, DrillReport, drill
except ImportError:  # a production build: no emulator
    pass
else:
    __all__ += ["DrillCheck", "DrillReport", "drill"]

logging.getLogger("pcdr").addHandler(logging.NullHandler())
