"""Topology.load and Topology.from_toml: a checked deployment, or TopologyError."""

import pathlib

import pytest

import pcdr
from conftest import EXAMPLE


def test_load_reads_the_example_topology(topology: pcdr.Topology) -> None:
    assert topology.pool == "pchat.contoso.com"
    assert topology.chat_database == "mgc"
    assert (topology.primary_site, topology.backup_site) == ("Atlanta", "Dallas")


def test_load_accepts_a_str_path() -> None:
    assert pcdr.Topology.load(str(EXAMPLE)).pool == "pchat.contoso.com"


def test_a_bad_value_raises_topology_error_naming_the_key_path() -> None:
    text = EXAMPLE.read_text().replace(
        'chat_servers = ["pc3.contoso.com", "pc4.contoso.com"]',
        'chat_servers = ["pc3.contoso.com", "pc 5"]',
    )
    with pytest.raises(pcdr.TopologyError) as caught:
        pcdr.Topology.from_toml(text)
    assert caught.value.key == "sites.backup.chat_servers[1]"
    assert "pc 5" in str(caught.value)
    assert isinstance(caught.value, pcdr.PcdrError)


def test_an_unknown_key_is_refused() -> None:
    text = EXAMPLE.read_text().replace("[pool]", "[pool]\nfqdm = 'typo'")
    with pytest.raises(pcdr.TopologyError) as caught:
        pcdr.Topology.from_toml(text)
    assert "fqdm" in str(caught.value)


def test_a_missing_file_names_the_file(tmp_path: pathlib.Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(pcdr.TopologyError) as caught:
        pcdr.Topology.load(missing)
    assert caught.value.key == str(missing)


def test_the_rust_cause_chain_becomes_the_exception_cause() -> None:
    with pytest.raises(pcdr.TopologyError) as caught:
        pcdr.Topology.from_toml('[pool]\nfqdn = "pc 1"\n')
    assert isinstance(caught.value.__cause__, pcdr.PcdrError)
    assert str(caught.value.__cause__).startswith("pool.fqdn: ")


def test_a_missing_password_is_a_topology_error(
    topology: pcdr.Topology, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PCDR_SQL_PASSWORD")
    with pytest.raises(pcdr.TopologyError) as caught:
        pcdr.Runbook(topology)
    assert caught.value.key == "sql.password_env"


def test_to_dict_gives_plain_values(topology: pcdr.Topology) -> None:
    data = topology.to_dict()
    assert data["pool"]["fqdn"] == "pchat.contoso.com"
    assert data["sql"]["password_env"] == "PCDR_SQL_PASSWORD"
