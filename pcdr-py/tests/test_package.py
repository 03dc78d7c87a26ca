"""The package itself: every public item is documented, typed and exported."""

from __future__ import annotations

import inspect
import logging
import pathlib
import re

import pcdr


def test_every_public_item_has_a_docstring() -> None:
    undocumented = []
    assert pcdr.__doc__
    for name in pcdr.__all__:
        item = getattr(pcdr, name)
        if not inspect.getdoc(item):
            undocumented.append(name)
        members = vars(item) if inspect.isclass(item) else {}  # pcdr.drill is a function
        for member, value in members.items():
            if not member.startswith("_") and not inspect.getdoc(value):
                undocumented.append(f"{name}.{member}")
    assert undocumented == []


def test_the_package_is_typed() -> None:
    package = pathlib.Path(pcdr.__file__).parent
    assert (package / "py.typed").exists()
    assert (package / "_pcdr.pyi").exists()


def test_every_exception_is_a_pcdr_error() -> None:
    exceptions = [getattr(pcdr, n) for n in pcdr.__all__ if n.endswith(("Error", "Refused"))]
    exceptions += [pcdr.JournalLocked, pcdr.RunCancelled]
    assert all(issubclass(e, pcdr.PcdrError) for e in exceptions)
    assert issubclass(pcdr.SqlServerError, pcdr.StepError)
    assert issubclass(pcdr.ChatPoolError, pcdr.StepError)
    assert issubclass(pcdr.DataLossRefused, pcdr.PreconditionError)
    assert issubclass(pcdr.JournalLocked, pcdr.JournalError)
    assert pcdr.PcdrError.__module__ == "pcdr"


def test_the_logger_pcdr_has_a_null_handler() -> None:
    handlers = logging.getLogger("pcdr").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


def test_the_version_is_the_crates_version() -> None:
    cargo_toml = pathlib.Path(__file__).parents[2] / "Cargo.toml"
    workspace = re.search(
        r'^\[workspace\.package\]\nversion = "([^"]+)"$', cargo_toml.read_text(), re.M
    )
    assert workspace, cargo_toml
    assert pcdr.__version__ == workspace.group(1)
