"""`csms serve` over TLS with client certificates (security profile 3) as a real process, with an operator
CA the test makes, and what a test does with it: chargers over wss://, an admin over HTTPS."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from csms.simulator.charger import ChargerBehaviour, SimulatedCharger, connect_charger
from tests.certificates import Issued, issue
from tests.support.processes import CSMS, free_port, run_csms, sqlite_env, wait_until_serving


@dataclass
class TlsNode:
    address: str
    directory: Path
    ca: Issued

    def context(self, client: Issued | None = None) -> ssl.SSLContext:
        """A charger's TLS context: trusts the operator CA, presents `client` if given."""
        context = ssl.create_default_context(cadata=self.ca.pem)
        if client is not None:
            context.load_cert_chain(*client.write(self.directory, f"client-{id(client)}"))
        return context

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=f"https://{self.address}", verify=self.context(), timeout=30)

    def charger(
        self,
        charge_point_id: str,
        client: Issued | None = None,
        password: str | None = None,
        behaviour: ChargerBehaviour | None = None,
    ) -> AbstractAsyncContextManager[SimulatedCharger]:
        """A charger connecting over wss://, with its client certificate or its Basic-auth password."""
        context = self.context(client)
        return connect_charger(f"wss://{self.address}", charge_point_id, password, ssl=context, behaviour=behaviour)


@contextmanager
def tls_node(
    directory: Path, ca: Issued, *, admin: tuple[str, str], settings: dict[str, str] | None = None
) -> Iterator[TlsNode]:
    """A node serving wss:// and HTTPS with a server certificate of `ca`, verifying client certificates
    against it; `admin` (username, password) is created first, `settings` are CSMS_ variables."""
    certfile, keyfile = issue(ca, "csms", server_ip="127.0.0.1").write(directory, "server")
    ca_file, _ = ca.write(directory, "operator-ca")
    username, password = admin
    created = run_csms(directory, "create-user", "--username", username, "--password", password, "--role", "admin")
    assert created.returncode == 0, created.stderr
    port = free_port()
    tls_files = ["--ssl-certfile", str(certfile), "--ssl-keyfile", str(keyfile), "--ssl-ca-certs", str(ca_file)]
    env = sqlite_env(directory) | {f"CSMS_{name.upper()}": value for name, value in (settings or {}).items()}
    process = subprocess.Popen(
        [CSMS, "serve", "--port", str(port), *tls_files],
        env=env,
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    node = TlsNode(f"127.0.0.1:{port}", directory, ca)
    try:
        wait_until_serving(f"https://{node.address}", process, verify=node.context())
        yield node
    finally:
        process.terminate()
        process.wait(timeout=15)
