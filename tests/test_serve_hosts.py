"""The serve Host allow-list (serve/auth.py) without a server: what a hostile or odd Host header gets."""

import pytest

from parakeet_trt.serve.auth import LOOPBACK_HOSTS, default_allowed_hosts, host_error


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost", "LOCALHOST:80", "[::1]:8000", "::1"])
def test_loopback_names_pass_the_loopback_default(host):
    assert host_error(host, default_allowed_hosts("127.0.0.1")) is None


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "", None,
                                  "[::2]:80", "localhost.:80"])
def test_other_hosts_are_refused_by_name(host):
    error = host_error(host, LOOPBACK_HOSTS)
    assert error is not None and f"host {host!r} is not allowed" in error and "--allowed-hosts" in error


def test_a_public_bind_adds_the_bound_address_and_machine_names_and_star_allows_any():
    import socket

    hosts = default_allowed_hosts("10.1.2.3")
    assert "10.1.2.3" in hosts and socket.gethostname().lower() in hosts and "localhost" in hosts
    assert "0.0.0.0" not in default_allowed_hosts("0.0.0.0")
    assert host_error("anything.example", ("*",)) is None


def test_allowed_hosts_flag(monkeypatch):
    import argparse

    from parakeet_trt.serve.cli import add_serve_arguments, config_from_args

    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    assert config_from_args(parser.parse_args([])).allowed_hosts == LOOPBACK_HOSTS
    config = config_from_args(parser.parse_args(["--host", "0.0.0.0", "--allowed-hosts", "asr.example.org,[::1]"]))
    assert config.allowed_hosts == ("asr.example.org", "::1")
    with pytest.raises(ValueError, match="at least one name"):
        config_from_args(parser.parse_args(["--allowed-hosts", ","]))
    with pytest.raises(ValueError, match="max_batch must be in 1..1024"):
        config_from_args(parser.parse_args(["--max-batch", "0"]))
    with pytest.raises(ValueError, match="batching must be one of auto, on, off"):
        config_from_args(parser.parse_args(["--batching", "maybe"]))
    assert config_from_args(parser.parse_args(["--batching", "off"])).batching.replica_options() is None
    on = config_from_args(parser.parse_args(["--batching", "on", "--max-inflight-batches", "2"])).batching
    assert on.replica_options().max_inflight == 2
