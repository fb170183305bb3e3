"""csms logs in to NATS the ways NATS offers: a token, an NKey, TLS with the operator's CA (user and
password with the repo's configuration are in test_bus_commands.py)."""

from __future__ import annotations

from pathlib import Path

import nkeys
import pytest
from nacl.signing import SigningKey

from csms.bus import BusUnavailable
from csms.bus.nats import NatsBus, NatsLogin
from tests.certificates import issue as issue_certificate
from tests.certificates import make_ca
from tests.support.nats_server import nats_server

pytestmark = [pytest.mark.nats]


async def connects(url: str, login: NatsLogin) -> bool:
    """The bus starts with this login and a request to itself comes back through NATS."""
    bus = NatsBus(url, login=login)
    await bus.start()
    try:
        return await bus.is_healthy()
    finally:
        await bus.close()


async def test_a_token_login() -> None:
    async with nats_server("--auth", "the-token-0123456789") as port:
        url = f"nats://127.0.0.1:{port}"
        assert await connects(url, NatsLogin(token="the-token-0123456789"))
        with pytest.raises(BusUnavailable, match="refused this node"):
            await connects(url, NatsLogin(token="a-guess"))


async def test_an_nkey_seed_file_login(tmp_path: Path) -> None:
    seed = nkeys.encode_seed(bytes(SigningKey.generate()), nkeys.PREFIX_BYTE_USER)
    public_key = nkeys.from_seed(bytearray(seed)).public_key.decode()
    config = tmp_path / "nats.conf"
    config.write_text(f'authorization {{ users: [ {{ nkey: "{public_key}" }} ] }}\n')
    seed_file = tmp_path / "csms.nk"
    seed_file.write_bytes(seed)
    async with nats_server("-c", str(config)) as port:
        url = f"nats://127.0.0.1:{port}"
        assert await connects(url, NatsLogin(nkey_seed_file=str(seed_file)))
        with pytest.raises(BusUnavailable, match="refused this node"):
            await connects(url, NatsLogin())


@pytest.fixture
def nats_tls(tmp_path: Path) -> tuple[list[str], Path]:
    """nats-server options for TLS with a certificate of a CA of the test's own, a password, and that CA's file."""
    ca = make_ca("NATS CA")
    certfile, keyfile = issue_certificate(ca, "nats", server_ip="127.0.0.1").write(tmp_path, "nats")
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(ca.pem)
    options = ["--tls", "--tlscert", str(certfile), "--tlskey", str(keyfile), "--user", "csms", "--pass", "pw-0123"]
    return options, ca_file


async def test_tls_with_the_operators_ca_and_a_password(nats_tls: tuple[list[str], Path]) -> None:
    options, ca_file = nats_tls
    async with nats_server(*options) as port:
        login = NatsLogin(user="csms", password="pw-0123", tls_ca_file=str(ca_file))
        assert await connects(f"tls://127.0.0.1:{port}", login)


async def test_a_nats_certificate_of_another_ca_is_refused_at_once(
    nats_tls: tuple[list[str], Path], tmp_path: Path
) -> None:
    options, _ca_file = nats_tls
    other_ca = tmp_path / "other-ca.pem"
    other_ca.write_text(make_ca("Another CA").pem)
    async with nats_server(*options) as port:
        login = NatsLogin(user="csms", password="pw-0123", tls_ca_file=str(other_ca))
        with pytest.raises(BusUnavailable, match=r"refused this node.*certificate verify failed"):
            await connects(f"tls://127.0.0.1:{port}", login)
