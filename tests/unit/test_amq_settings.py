"""How the ActiveMQ sink reads its broker list and credentials."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from services.common.errors import ConfigError
from services.sinks.amq import Credentials, parse_brokers


def test_brokers_keep_the_configured_failover_order():
    assert parse_brokers(["mb1.cern.ch:61313", "mb2.cern.ch:61313", "[::1]:61613"]) == [
        ("mb1.cern.ch", 61313),
        ("mb2.cern.ch", 61313),
        ("::1", 61613),
    ]


@pytest.mark.parametrize("hosts", [[], ["mb1.cern.ch"], ["mb1.cern.ch:stomp"], [":61313"]])
def test_a_broker_list_without_host_and_port_is_a_config_error(hosts):
    with pytest.raises(ConfigError):
        parse_brokers(hosts)


def test_credentials_come_from_the_two_files(tmp_path):
    (tmp_path / "amq_username").write_text("cmsjobmon\n")
    (tmp_path / "amq_password").write_text("s3cret\n")
    creds = Credentials.from_files(tmp_path / "amq_username", tmp_path / "amq_password")
    assert (creds.username.get_secret_value(), creds.password.get_secret_value()) == ("cmsjobmon", "s3cret")
    assert "s3cret" not in repr(creds) and "cmsjobmon" not in repr(creds)


def test_no_credential_files_means_an_anonymous_or_certificate_login(tmp_path):
    assert Credentials.from_files(tmp_path / "amq_username", tmp_path / "amq_password") == Credentials()


def test_only_one_credential_file_is_a_config_error_naming_the_missing_file(tmp_path):
    (tmp_path / "amq_username").write_text("cmsjobmon\n")
    with pytest.raises(ConfigError, match="amq_password"):
        Credentials.from_files(tmp_path / "amq_username", tmp_path / "amq_password")


def test_broker_messages_quoting_the_login_are_redacted():
    creds = Credentials(SecretStr("cmsjobmon"), SecretStr("s3cret"))
    assert creds.redact("User name [cmsjobmon] or password is invalid.") == "User name [***] or password is invalid."
