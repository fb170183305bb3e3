"""An eMSP for the OCPI tests: a platform of its own (a FastAPI app on uvicorn, on its own port), written from
OCPI 2.2.1's text and not from csms's OCPI code, so csms is not checking itself.

It checks every request csms sends it (the Authorization header in Base64 with a token it gave out, unique
X-Request-IDs, X-Correlation-IDs, no routing headers on configuration modules, the credentials object's field
rules, a real-time authorization's path, type, routing and LocationReferences) and every answer csms gives its
own requests (the envelope, the echoed ids, the versions, version details, credentials and Token objects).
Each breach is recorded in `violations`; the fixture fails the test on any.

As an eMSP it pushes its tokens to csms (`push_token`) and answers csms's real-time authorizations
(`POST .../tokens/{uid}/authorize`) as scripted in `authorize_answers`, after `authorize_delay` seconds. It sends
commands (`send_command`: the CommandResponse checked by §13.3.2) and takes their CommandResults (§13.3.3) at
the response_url it gave, into `command_results`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.support import ocpi_objects, ocpi_session_objects

ROLES = {"CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP"}
TOKEN_TYPES = {"AD_HOC_USER", "APP_USER", "OTHER", "RFID"}
WHITELISTS = {"ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER"}
CONFIGURATION_MODULES = ("versions", "credentials")
ROUTING_HEADERS = ("ocpi-from-country-code", "ocpi-from-party-id", "ocpi-to-country-code", "ocpi-to-party-id")
# §16.2: the only forms a DateTime may take.
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z?$")
_PRINTABLE = re.compile(r"^[!-~]+$")
# §16.1 CiString: printable ASCII.
_CI_STRING = re.compile(r"^[ -~]*$")
COMMAND_RESPONSES = {"ACCEPTED", "NOT_SUPPORTED", "REJECTED", "UNKNOWN_SESSION"}
COMMAND_RESULTS = {
    "ACCEPTED", "CANCELED_RESERVATION", "EVSE_OCCUPIED", "EVSE_INOPERATIVE", "FAILED", "NOT_SUPPORTED",
    "REJECTED", "TIMEOUT", "UNKNOWN_RESERVATION",
}  # fmt: skip


@dataclass
class Seen:
    """One request csms sent the peer."""

    method: str
    path: str
    token: str | None
    headers: dict[str, str]
    body: Any


@dataclass
class EmspPeer:
    country_code: str
    party_id: str
    name: str = "Peer eMSP"
    offered_versions: list[str] = field(default_factory=lambda: ["2.2.1"])
    # Tokens csms may call the peer with, and the one the peer calls csms with.
    accepted_tokens: set[str] = field(default_factory=set)
    csms_token: str | None = None
    registered: bool = False
    violations: list[str] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    base_url: str = ""
    # The modules the peer receives as an eMSP (beside credentials), and what csms pushed to them.
    receives: tuple[str, ...] = ("locations", "tariffs")
    pushes: list[Seen] = field(default_factory=list)
    locations: dict[str, dict[str, Any]] = field(default_factory=dict)
    tariffs: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Sessions by id as csms PUT and PATCHed them, and the CDRs it POSTed, in the order they came.
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    cdrs: list[dict[str, Any]] = field(default_factory=list)
    # While True the peer's receiver endpoints answer 503, as a platform that is down; while `answering` is clear
    # they hold each request (a platform that hangs), and one whose sender left meanwhile is not taken.
    away: bool = False
    answering: asyncio.Event = field(default_factory=asyncio.Event)
    # The peer's own tokens by (uid, type), what csms's real-time authorizations are answered (by uid: an
    # AllowedType, or UNKNOWN for 404 / 2004; ALLOWED when not scripted), after how many seconds, and the
    # authorization requests csms sent.
    tokens: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    authorize_answers: dict[str, str] = field(default_factory=dict)
    authorize_delay: float = 0.0
    authorizations: list[Seen] = field(default_factory=list)
    # The CommandResults csms POSTed to the response_urls the peer gave, by the key in the URL.
    command_results: dict[str, list[Seen]] = field(default_factory=dict)
    # csms's own ids, from the credentials it sent or answered with.
    csms_party: tuple[str, str] | None = None
    _request_ids: set[str] = field(default_factory=set)

    # -- what the peer publishes ---------------------------------------------------------------

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}/emsp/versions"

    def issue_token(self) -> str:
        token = f"peer-{secrets.token_hex(12)}"
        self.accepted_tokens.add(token)
        return token

    def credentials(self, token: str) -> dict[str, Any]:
        role = {
            "role": "EMSP",
            "party_id": self.party_id,
            "country_code": self.country_code,
            "business_details": {"name": self.name},
        }
        return {"token": token, "url": self.versions_url, "roles": [role]}

    def __post_init__(self) -> None:
        self.answering.set()

    async def unavailable(self, request: Request) -> JSONResponse | None:
        """The answer of a receiver endpoint that is down or hung up on; None when it takes the request."""
        await self.answering.wait()
        if self.away or await request.is_disconnected():
            return self.envelope(None, 3000, 503)
        return None

    def envelope(self, data: Any, status_code: int = 1000, http_status: int = 200) -> JSONResponse:
        body: dict[str, Any] = {"status_code": status_code, "timestamp": "2026-01-01T00:00:00Z"}
        if data is not None:
            body["data"] = data
        return JSONResponse(body, status_code=http_status)

    # -- checking what csms sends --------------------------------------------------------------

    def violation(self, text: str) -> None:
        self.violations.append(text)

    async def check_request(self, request: Request, module: str) -> str | None:
        """The token of a request from csms, once every header rule is checked; None when it is not one the peer
        gave out."""
        headers = {name.lower(): value for name, value in request.headers.items()}
        raw = await request.body()
        body = await request.json() if request.method in ("POST", "PUT", "PATCH") and raw else None
        token = self._token_of(headers.get("authorization"))
        self.seen.append(Seen(request.method, request.url.path, token, headers, body))
        self._check_ids(headers)
        routing = [name for name in ROUTING_HEADERS if name in headers]
        if module in CONFIGURATION_MODULES and routing:
            self.violation(f"{request.method} {request.url.path} carries routing headers {routing} (§4.1.8.2)")
        if module not in CONFIGURATION_MODULES and len(routing) != 4:
            self.violation(f"{request.method} {request.url.path} lacks routing headers: has {routing}")
        if raw and headers.get("content-type", "") != "application/json":
            self.violation(f"{request.method} {request.url.path} has Content-Type {headers.get('content-type')}")
        if token is not None and token not in self.accepted_tokens:
            self.violation(f"{request.method} {request.url.path} with token {token!r}, which the peer never gave")
            return None
        return token

    def _token_of(self, header: str | None) -> str | None:
        if header is None or not header.startswith("Token "):
            self.violation(f"Authorization header is {header!r}, not 'Token <base64>'")
            return None
        try:
            token = base64.b64decode(header.removeprefix("Token "), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            self.violation(f"Authorization {header!r} is not a Base64-encoded token (§4.1.2)")
            return None
        if not _PRINTABLE.match(token) or len(token) > 64:
            self.violation(f"the token {token!r} is not up to 64 printable non-whitespace ASCII characters")
        return token

    def _check_ids(self, headers: dict[str, str]) -> None:
        request_id = headers.get("x-request-id")
        if not request_id:
            self.violation("a request without X-Request-ID (§4.2)")
        elif request_id in self._request_ids:
            self.violation(f"X-Request-ID {request_id} used twice (§4.2: unique per request)")
        self._request_ids.add(request_id or "")
        if not headers.get("x-correlation-id"):
            self.violation("a request without X-Correlation-ID (§4.2)")

    def check_credentials(self, credentials: Any, where: str) -> None:
        """§7.3.1 and §7.4.1: the credentials object and its roles."""
        if not isinstance(credentials, dict):
            self.violation(f"{where}: credentials are {credentials!r}, not an object")
            return
        token, url, roles = credentials.get("token"), credentials.get("url"), credentials.get("roles")
        if not isinstance(token, str) or not _PRINTABLE.match(token) or len(token) > 64:
            self.violation(f"{where}: token {token!r} is not string(64) of printable non-whitespace ASCII")
        self._check_url(url, f"{where}: url")
        if not isinstance(roles, list) or not roles:
            self.violation(f"{where}: roles {roles!r} is not a list of at least one CredentialsRole")
            return
        for index, role in enumerate(roles):
            self._check_role(role, f"{where}: roles[{index}]")
        keys = [(r.get("role"), r.get("country_code"), r.get("party_id")) for r in roles if isinstance(r, dict)]
        if len(set(keys)) != len(keys):
            self.violation(f"{where}: roles repeat a role, party_id and country_code")

    def _check_role(self, role: Any, where: str) -> None:
        if not isinstance(role, dict):
            self.violation(f"{where} is not an object")
            return
        if role.get("role") not in ROLES:
            self.violation(f"{where}.role {role.get('role')!r} is not a Role")
        country_code, party_id = role.get("country_code"), role.get("party_id")
        if not isinstance(country_code, str) or not re.fullmatch(r"[A-Za-z]{2}", country_code):
            self.violation(f"{where}.country_code {country_code!r} is not CiString(2) ISO 3166 alpha-2")
        if not isinstance(party_id, str) or not re.fullmatch(r"[A-Za-z0-9]{3}", party_id):
            self.violation(f"{where}.party_id {party_id!r} is not CiString(3)")
        details = role.get("business_details")
        name = details.get("name") if isinstance(details, dict) else None
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            self.violation(f"{where}.business_details.name {name!r} is not string(100)")
        if isinstance(details, dict) and details.get("website") is not None:
            self._check_url(details["website"], f"{where}.business_details.website")

    def _check_url(self, url: Any, where: str) -> None:
        if not isinstance(url, str) or not re.match(r"^https?://\S+$", url) or len(url) > 255:
            self.violation(f"{where} {url!r} is not a URL of up to 255 characters")

    # -- checking what csms answers ------------------------------------------------------------

    async def call_csms(
        self, method: str, url: str, *, token: str | None, body: Any = None, routing: dict[str, str] | None = None
    ) -> httpx.Response:
        """A request to csms as an OCPI platform sends one; the envelope and the echoed ids are checked."""
        request_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
        headers = {"X-Request-ID": request_id, "X-Correlation-ID": correlation_id, **(routing or {})}
        if token is not None:
            headers["Authorization"] = "Token " + base64.b64encode(token.encode()).decode()
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.request(method, url, headers=headers, json=body)
        self._check_envelope(response, f"{method} {url}")
        if response.headers.get("x-request-id") != request_id:
            self.violation(f"{method} {url}: X-Request-ID not echoed ({response.headers.get('x-request-id')})")
        if response.headers.get("x-correlation-id") != correlation_id:
            self.violation(f"{method} {url}: X-Correlation-ID not echoed ({response.headers.get('x-correlation-id')})")
        return response

    def _check_envelope(self, response: httpx.Response, where: str) -> None:
        if not response.headers.get("content-type", "").startswith("application/json"):
            self.violation(f"{where}: answered {response.headers.get('content-type')}, not application/json")
            return
        body = response.json()
        status_code = body.get("status_code") if isinstance(body, dict) else None
        if not isinstance(status_code, int) or not 1000 <= status_code <= 4999:
            self.violation(f"{where}: status_code {status_code!r} is not a four-digit OCPI status code")
            return
        timestamp = body.get("timestamp")
        if not isinstance(timestamp, str) or len(timestamp) > 25 or not _DATETIME.match(timestamp):
            self.violation(f"{where}: timestamp {timestamp!r} is not an OCPI DateTime (§16.2)")
        if "status_message" in body and not isinstance(body["status_message"], str):
            self.violation(f"{where}: status_message {body['status_message']!r} is not a string")
        if status_code == 1000 and response.status_code >= 400:
            self.violation(f"{where}: OCPI success with HTTP {response.status_code}")

    def check_versions(self, data: Any, where: str) -> None:
        if not isinstance(data, list) or not data:
            self.violation(f"{where}: versions data {data!r} is not a list of at least one Version (§6.1.1)")
            return
        for version in data:
            if not isinstance(version, dict) or not isinstance(version.get("version"), str):
                self.violation(f"{where}: {version!r} is not a Version")
                continue
            self._check_url(version.get("url"), f"{where}: {version['version']}.url")

    def check_details(self, data: Any, where: str) -> None:
        endpoints = data.get("endpoints") if isinstance(data, dict) else None
        if not isinstance(data, dict) or data.get("version") != "2.2.1" or not isinstance(endpoints, list):
            self.violation(f"{where}: version details {data!r} are not 2.2.1's with endpoints (§6.2.1)")
            return
        for endpoint in endpoints:
            if endpoint.get("role") not in ("SENDER", "RECEIVER") or not isinstance(endpoint.get("identifier"), str):
                self.violation(f"{where}: endpoint {endpoint!r} lacks an identifier or an InterfaceRole")
            self._check_url(endpoint.get("url"), f"{where}: endpoint url")

    async def discover_csms(self, versions_url: str, token: str) -> dict[str, str]:
        """csms's 2.2.1 endpoints by identifier, fetched and checked as a sender does before registering."""
        versions = (await self.call_csms("GET", versions_url, token=token)).json().get("data")
        self.check_versions(versions, "csms versions")
        url = next(v["url"] for v in versions if v["version"] == "2.2.1")
        details = (await self.call_csms("GET", url, token=token)).json().get("data")
        self.check_details(details, "csms version details")
        return {endpoint["identifier"]: endpoint["url"] for endpoint in details["endpoints"]}

    async def crawl(self, url: str, *, limit: int | None = None) -> tuple[list[Any], list[httpx.Response]]:
        """Every object of a paginated list (§4.1.4), following each page's Link; the objects and the pages."""
        items: list[Any] = []
        pages: list[httpx.Response] = []
        next_url: str | None = url + (f"?limit={limit}" if limit else "")
        while next_url is not None:
            if len(pages) > 100:
                self.violation(f"{url}: more than 100 pages, a Link that never ends")
                break
            response = await self.call_csms("GET", next_url, token=self.csms_token)
            pages.append(response)
            body = response.json()
            if body.get("status_code") != 1000 or not isinstance(body.get("data"), list):
                self.violation(f"GET {next_url}: not a page of objects: {body}")
                break
            items += body["data"]
            self._check_page_headers(response, f"GET {next_url}")
            next_url = _next_link(response.headers.get("link"))
        return items, pages

    def _check_page_headers(self, response: httpx.Response, where: str) -> None:
        for header in ("x-total-count", "x-limit"):
            value = response.headers.get(header)
            if value is None or not value.isdigit():
                self.violation(f"{where}: {header} {value!r} is not a number (§4.1.4.2)")
        if len(response.json()["data"]) > int(response.headers.get("x-limit") or 0):
            self.violation(f"{where}: a page carries more objects than its X-Limit")

    # -- the peer as the sender of credentials -------------------------------------------------

    async def register_with(self, versions_url: str, token_a: str) -> httpx.Response:
        """The registration a sender runs (§7.1.1): discover with token A, POST a new token B, keep csms's C."""
        endpoints = await self.discover_csms(versions_url, token_a)
        response = await self.call_csms(
            "POST", endpoints["credentials"], token=token_a, body=self.credentials(self.issue_token())
        )
        self._keep_csms_token(response, "csms's answer to POST credentials")
        return response

    async def update_with(self, versions_url: str) -> httpx.Response:
        """§7.1.4: a PUT with a new token for csms; csms's new token replaces the one the peer had."""
        assert self.csms_token is not None
        endpoints = await self.discover_csms(versions_url, self.csms_token)
        old_tokens, new_token = set(self.accepted_tokens), self.issue_token()
        body = self.credentials(new_token)
        response = await self.call_csms("PUT", endpoints["credentials"], token=self.csms_token, body=body)
        if self._keep_csms_token(response, "csms's answer to PUT credentials"):
            self.accepted_tokens -= old_tokens
        return response

    def _keep_csms_token(self, response: httpx.Response, where: str) -> bool:
        body = response.json()
        if body.get("status_code") != 1000:
            return False
        self.check_credentials(body.get("data"), where)
        self.csms_token, self.registered = body["data"]["token"], True
        self.learn_csms(body["data"])
        return True

    def learn_csms(self, credentials: dict[str, Any]) -> None:
        cpo = next((role for role in credentials.get("roles", []) if role.get("role") == "CPO"), None)
        if cpo is not None:
            self.csms_party = (cpo["country_code"], cpo["party_id"])

    # -- the peer as the sender of tokens ------------------------------------------------------------------

    def token(self, uid: str, *, whitelist: str = "ALWAYS", type: str = "RFID", **fields: Any) -> dict[str, Any]:
        """A Token of the peer's (§12.3.2), kept as the peer's own."""
        token = {
            "country_code": self.country_code,
            "party_id": self.party_id,
            "uid": uid,
            "type": type,
            "contract_id": f"{self.country_code}-{self.party_id}-C{uid[-6:]}",
            "issuer": self.name,
            "valid": True,
            "whitelist": whitelist,
            "last_updated": "2026-01-01T10:00:00Z",
            **fields,
        }
        self.tokens[(uid.upper(), type)] = token
        return token

    def routing_to_csms(self, sender: tuple[str, str] | None = None) -> dict[str, str]:
        """The routing headers of a functional-module request to csms (§4.1.8.2), from the peer or `sender`."""
        assert self.csms_party is not None
        country_code, party_id = sender or (self.country_code, self.party_id)
        return {
            "OCPI-from-country-code": country_code,
            "OCPI-from-party-id": party_id,
            "OCPI-to-country-code": self.csms_party[0],
            "OCPI-to-party-id": self.csms_party[1],
        }

    async def push_token(
        self, tokens_url: str, token: dict[str, Any], *, method: str = "PUT", body: Any = None
    ) -> httpx.Response:
        """PUT (or PATCH, with `body`) a token on csms's tokens endpoint, under its own owner, uid and type."""
        url = f"{tokens_url}/{token['country_code']}/{token['party_id']}/{token['uid']}?type={token['type']}"
        return await self.call_csms(
            method, url, token=self.csms_token, body=token if body is None else body, routing=self.routing_to_csms()
        )

    def check_token(self, token: Any, where: str) -> None:
        """§12.3.2: a Token object's fields, their types and lengths."""
        if not isinstance(token, dict):
            self.violation(f"{where}: {token!r} is not a Token object")
            return
        required = {
            "country_code": 2,
            "party_id": 3,
            "uid": 36,
            "type": None,
            "contract_id": 36,
            "issuer": 64,
            "valid": None,
            "whitelist": None,
            "last_updated": None,
        }
        for name in required:
            if name not in token:
                self.violation(f"{where}: a Token without {name}")
        for name, length in {**required, "visual_number": 64, "group_id": 36, "language": 2}.items():
            value = token.get(name)
            if length is not None and value is not None and (not isinstance(value, str) or len(value) > length):
                self.violation(f"{where}: {name} {value!r} is not a string of up to {length} characters")
        if token.get("type") not in TOKEN_TYPES or token.get("whitelist") not in WHITELISTS:
            self.violation(f"{where}: type {token.get('type')!r} or whitelist {token.get('whitelist')!r} unknown")
        if not isinstance(token.get("valid"), bool):
            self.violation(f"{where}: valid {token.get('valid')!r} is not a boolean")
        stamp = token.get("last_updated")
        if not isinstance(stamp, str) or not _DATETIME.match(stamp):
            self.violation(f"{where}: last_updated {stamp!r} is not an OCPI DateTime (§16.2)")

    # -- the peer as the sender of commands ----------------------------------------------------------------

    def response_url(self, command: str, key: str) -> str:
        return f"{self.base_url}/emsp/2.2.1/commands/{command}/{key}"

    async def send_command(self, commands_url: str, command: str, body: dict[str, Any]) -> httpx.Response:
        """POST a command to csms (§13.2.2); an answer of 1000 must carry a CommandResponse (§13.3.2)."""
        response = await self.call_csms(
            "POST", f"{commands_url}/{command}", token=self.csms_token, body=body, routing=self.routing_to_csms()
        )
        answer = response.json()
        if answer.get("status_code") == 1000:
            self.check_command_answer(answer.get("data"), f"POST {command}", COMMAND_RESPONSES, needs_timeout=True)
        return response

    def check_command_answer(self, data: Any, where: str, results: set[str], *, needs_timeout: bool) -> None:
        if not isinstance(data, dict) or data.get("result") not in results:
            self.violation(f"{where}: {data!r} is no Command{'Response' if needs_timeout else 'Result'}")
            return
        timeout = data.get("timeout")
        if needs_timeout and (not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 1):
            self.violation(f"{where}: timeout {timeout!r} is not a number of seconds")
        unknown = set(data) - {"result", "message", *({"timeout"} if needs_timeout else set())}
        if unknown:
            self.violation(f"{where}: no field {sorted(unknown)}")
        messages = data.get("message", [])
        if not isinstance(messages, list) or not all(
            isinstance(m, dict) and isinstance(m.get("language"), str) and len(m["language"]) == 2
            and isinstance(m.get("text"), str) and len(m["text"]) <= 512
            for m in messages
        ):  # fmt: skip
            self.violation(f"{where}: message {messages!r} is not a list of DisplayText")

    # -- the peer answering real-time authorizations --------------------------------------------------------

    def check_authorize(self, seen: Seen, uid: str, token_type: str | None) -> None:
        """§12.2.2.2: the uid and type, the routing headers (csms to the token's owner), the LocationReferences."""
        where = f"POST {seen.path}"
        if not 1 <= len(uid) <= 36 or not _CI_STRING.match(uid):
            self.violation(f"{where}: token_uid {uid!r} is not CiString(36)")
        if token_type is not None and token_type not in TOKEN_TYPES:
            self.violation(f"{where}: type {token_type!r} is not a TokenType")
        headers = seen.headers
        to = (headers.get("ocpi-to-country-code"), headers.get("ocpi-to-party-id"))
        if to != (self.country_code, self.party_id):
            self.violation(f"{where}: addressed to {to}, not to the token's owner")
        sender = (headers.get("ocpi-from-country-code"), headers.get("ocpi-from-party-id"))
        if self.csms_party is not None and sender != self.csms_party:
            self.violation(f"{where}: sent as {sender}, not as csms's CPO role {self.csms_party}")
        if seen.body is not None:
            self._check_location_references(seen.body, where)

    def _check_location_references(self, body: Any, where: str) -> None:
        if not isinstance(body, dict):
            self.violation(f"{where}: body {body!r} is not a LocationReferences object")
            return
        location_id = body.get("location_id")
        if not isinstance(location_id, str) or not 1 <= len(location_id) <= 36 or not _CI_STRING.match(location_id):
            self.violation(f"{where}: location_id {location_id!r} is not CiString(36)")
        evse_uids = body.get("evse_uids", [])
        if not isinstance(evse_uids, list) or not all(
            isinstance(uid, str) and 1 <= len(uid) <= 36 and _CI_STRING.match(uid) for uid in evse_uids
        ):
            self.violation(f"{where}: evse_uids {evse_uids!r} is not a list of CiString(36)")
        unknown = set(body) - {"location_id", "evse_uids"}
        if unknown:
            self.violation(f"{where}: LocationReferences has no field {sorted(unknown)}")


def peer_app(peer: EmspPeer) -> FastAPI:
    """The peer's OCPI endpoints: versions, version details and credentials (as the receiver of csms's POST)."""
    app = FastAPI()

    @app.get("/emsp/versions")
    async def versions(request: Request) -> JSONResponse:
        if await peer.check_request(request, "versions") is None:
            return peer.envelope(None, 2000, 401)
        return peer.envelope([{"version": v, "url": f"{peer.base_url}/emsp/{v}"} for v in peer.offered_versions])

    @app.get("/emsp/{version}")
    async def details(version: str, request: Request) -> JSONResponse:
        if await peer.check_request(request, "versions") is None:
            return peer.envelope(None, 2000, 401)
        base = f"{peer.base_url}/emsp/{version}"
        endpoints = [
            {"identifier": "credentials", "role": "SENDER", "url": f"{base}/credentials"},
            {"identifier": "tokens", "role": "SENDER", "url": f"{base}/tokens"},
        ]
        endpoints += [{"identifier": module, "role": "RECEIVER", "url": f"{base}/{module}"} for module in peer.receives]
        return peer.envelope({"version": version, "endpoints": endpoints})

    @app.api_route("/emsp/2.2.1/locations/{country_code}/{party_id}/{rest:path}", methods=["PUT", "PATCH"])
    async def receive_location(country_code: str, party_id: str, rest: str, request: Request) -> JSONResponse:
        return await receive_push(peer, request, "locations", country_code, party_id, rest.split("/"))

    @app.put("/emsp/2.2.1/tariffs/{country_code}/{party_id}/{tariff_id}")
    async def receive_tariff(country_code: str, party_id: str, tariff_id: str, request: Request) -> JSONResponse:
        return await receive_push(peer, request, "tariffs", country_code, party_id, [tariff_id])

    @app.api_route("/emsp/2.2.1/sessions/{country_code}/{party_id}/{session_id}", methods=["PUT", "PATCH"])
    async def receive_session(country_code: str, party_id: str, session_id: str, request: Request) -> JSONResponse:
        return await receive_session_push(peer, request, country_code, party_id, session_id)

    @app.post("/emsp/2.2.1/cdrs")
    async def receive_cdr(request: Request) -> JSONResponse:
        return await receive_cdr_push(peer, request)

    @app.get("/emsp/2.2.1/tokens")
    async def tokens(request: Request) -> JSONResponse:
        # A functional module: its requests carry the four routing headers (§4.1.8.2).
        if await peer.check_request(request, "tokens") is None:
            return peer.envelope(None, 2000, 401)
        return peer.envelope([])

    @app.post("/emsp/2.2.1/tokens/{uid}/authorize")
    async def authorize(uid: str, request: Request) -> JSONResponse:
        if await peer.check_request(request, "tokens") is None:
            return peer.envelope(None, 2000, 401)
        seen = peer.seen[-1]
        token_type = request.query_params.get("type")
        peer.check_authorize(seen, uid, token_type)
        peer.authorizations.append(seen)
        if peer.authorize_delay:
            await asyncio.sleep(peer.authorize_delay)
        answer = peer.authorize_answers.get(uid.upper(), "ALLOWED")
        token = peer.tokens.get((uid.upper(), token_type or "RFID"))
        if answer == "UNKNOWN" or token is None:
            return peer.envelope(None, 2004, 404)
        info: dict[str, Any] = {"allowed": answer, "token": token, "authorization_reference": f"AUTH-{uid[-8:]}"}
        if seen.body is not None:
            info["location"] = seen.body
        return peer.envelope(info)

    @app.post("/emsp/2.2.1/commands/{command}/{key}")
    async def command_result(command: str, key: str, request: Request) -> JSONResponse:
        if await peer.check_request(request, "commands") is None:
            return peer.envelope(None, 2000, 401)
        seen = peer.seen[-1]
        if (down := await peer.unavailable(request)) is not None:
            return down
        to = (seen.headers.get("ocpi-to-country-code"), seen.headers.get("ocpi-to-party-id"))
        if to != (peer.country_code, peer.party_id):
            peer.violation(f"POST {seen.path}: addressed to {to}, not to the peer that sent the command")
        peer.check_command_answer(seen.body, f"POST {seen.path}", COMMAND_RESULTS, needs_timeout=False)
        peer.command_results.setdefault(key, []).append(seen)
        return peer.envelope(None)

    @app.api_route("/emsp/2.2.1/credentials", methods=["GET", "POST", "PUT", "DELETE"])
    async def credentials(request: Request) -> JSONResponse:
        token = await peer.check_request(request, "credentials")
        if token is None:
            return peer.envelope(None, 2000, 401)
        if request.method == "GET":
            return peer.envelope(peer.credentials(token))
        if request.method == "DELETE":
            peer.registered, peer.csms_token, peer.accepted_tokens = False, None, set()
            return peer.envelope(None)
        return await _receive_credentials(peer, request, token)

    return app


async def _receive_credentials(peer: EmspPeer, request: Request, used_token: str) -> JSONResponse:
    """csms POSTs (or PUTs) its credentials: check them, fetch csms's versions with its new token, answer with a
    new token of the peer's (§7.2.2); the token csms used stops working."""
    offered = peer.seen[-1].body
    peer.check_credentials(offered, f"csms's {request.method} credentials")
    if (request.method == "POST") == peer.registered:
        return peer.envelope(None, 2000, 405)
    await peer.discover_csms(offered["url"], offered["token"])
    peer.csms_token, peer.registered = offered["token"], True
    peer.learn_csms(offered)
    peer.accepted_tokens.discard(used_token)
    return peer.envelope(peer.credentials(peer.issue_token()))


async def receive_push(
    peer: EmspPeer, request: Request, module: str, country_code: str, party_id: str, ids: list[str]
) -> JSONResponse:
    """csms pushes a Location, EVSE, Connector (PUT or PATCH) or Tariff (PUT): checked by the field rules, kept."""
    token = await peer.check_request(request, module)
    if token is None:
        return peer.envelope(None, 2000, 401)
    seen = peer.seen[-1]
    if (down := await peer.unavailable(request)) is not None:
        return down
    peer.pushes.append(seen)
    where = f"{seen.method} {seen.path}"
    sender = (seen.headers.get("ocpi-from-country-code"), seen.headers.get("ocpi-from-party-id"))
    if sender != (country_code, party_id):
        peer.violation(f"{where}: the URL names {country_code} {party_id}, the routing headers {sender} (§8.2.2)")
    if module == "tariffs":
        return _keep(peer, where, ocpi_objects.check_tariff(seen.body, where), peer.tariffs, ids[0], seen.body)
    partial = seen.method == "PATCH"
    kinds = {1: ocpi_objects.check_location, 2: ocpi_objects.check_evse, 3: ocpi_objects.check_connector}
    if len(ids) not in kinds:
        peer.violation(f"{where}: not a Location, EVSE or Connector URL")
        return peer.envelope(None, 2001)
    problems = kinds[len(ids)](seen.body, where, partial=partial)
    if len(ids) == 1:
        if not partial and isinstance(seen.body, dict) and seen.body.get("id") != ids[0]:
            problems.append(f"{where}: the Location's id {seen.body.get('id')!r} is not the URL's")
        known = peer.locations.get(ids[0]) if partial else None
        return _keep(peer, where, problems, peer.locations, ids[0], {**(known or {}), **seen.body})
    location = peer.locations.get(ids[0])
    if location is None:
        return peer.envelope(None, 2003)  # an EVSE of a Location the peer was never told of
    evse = next((e for e in location.get("evses", []) if e.get("uid") == ids[1]), None)
    if len(ids) == 2 and (evse is not None or not partial):
        peer.violations.extend(problems)
        updated = {**(evse or {}), **seen.body} if partial else seen.body
        location["evses"] = [e for e in location.get("evses", []) if e.get("uid") != ids[1]] + [updated]
        return peer.envelope(None)
    peer.violations.extend(problems)
    return peer.envelope(None, 2003 if evse is None else 1000)


async def receive_session_push(
    peer: EmspPeer, request: Request, country_code: str, party_id: str, session_id: str
) -> JSONResponse:
    """§9.2.2: csms PUTs a Session or PATCHes one the peer has (a PATCH of an unknown one is 2003)."""
    token = await peer.check_request(request, "sessions")
    if token is None:
        return peer.envelope(None, 2000, 401)
    seen = peer.seen[-1]
    if (down := await peer.unavailable(request)) is not None:
        return down
    peer.pushes.append(seen)
    where = f"{seen.method} {seen.path}"
    sender = (seen.headers.get("ocpi-from-country-code"), seen.headers.get("ocpi-from-party-id"))
    if sender != (country_code, party_id):
        peer.violation(f"{where}: the URL names {country_code} {party_id}, the routing headers {sender}")
    to = (seen.headers.get("ocpi-to-country-code"), seen.headers.get("ocpi-to-party-id"))
    if to != (peer.country_code, peer.party_id):
        peer.violation(f"{where}: addressed to {to}, not to the eMSP")
    partial = seen.method == "PATCH"
    problems = ocpi_session_objects.check_session(seen.body, where, partial=partial)
    body = seen.body if isinstance(seen.body, dict) else {}
    if not partial and (body.get("id"), body.get("country_code"), body.get("party_id")) != (
        session_id,
        country_code,
        party_id,
    ):
        problems.append(f"{where}: the Session's ids are not the URL's")
    known = peer.sessions.get(session_id)
    if partial and known is None:
        peer.violations.extend(problems)
        return peer.envelope(None, 2003)
    merged = {**(known or {}), **body} if partial else body
    if partial and not problems:
        problems = ocpi_session_objects.check_session(merged, f"{where} (the Session as patched)")
    return _keep(peer, where, problems, peer.sessions, session_id, merged)


async def receive_cdr_push(peer: EmspPeer, request: Request) -> JSONResponse:
    """§10.2.2: csms POSTs a new CDR; the peer answers with its own URL of it in Location. A CDR cannot be
    changed: one POSTed again with the same id (a retry after a lost answer) is kept once."""
    token = await peer.check_request(request, "cdrs")
    if token is None:
        return peer.envelope(None, 2000, 401)
    seen = peer.seen[-1]
    if (down := await peer.unavailable(request)) is not None:
        return down
    peer.pushes.append(seen)
    where = f"POST {seen.path}"
    problems = ocpi_session_objects.check_cdr(seen.body, where)
    peer.violations.extend(problems)
    if problems:
        return peer.envelope(None, 2001)
    cdr = seen.body
    if all(kept["id"] != cdr["id"] for kept in peer.cdrs):
        peer.cdrs.append(cdr)
    response = peer.envelope(None)
    response.headers["Location"] = f"{peer.base_url}/emsp/2.2.1/cdrs/{cdr['id']}"
    return response


def _keep(peer: EmspPeer, where: str, problems: list[str], store: dict[str, Any], key: str, body: Any) -> JSONResponse:
    peer.violations.extend(problems)
    if problems:
        return peer.envelope(None, 2001)
    store[key] = body
    return peer.envelope(None)


@dataclass
class RunningPeer:
    peer: EmspPeer
    server: uvicorn.Server
    task: asyncio.Task[None]


async def start_peer(peer: EmspPeer) -> RunningPeer:
    config = uvicorn.Config(peer_app(peer), host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    peer.base_url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    return RunningPeer(peer, server, task)


async def stop_peer(running: RunningPeer) -> None:
    """Stop at once: a request the peer still holds (a slow authorization csms gave up on) is dropped, not
    waited for (uvicorn's graceful stop would wait out its delay)."""
    running.server.should_exit = running.server.force_exit = True
    await asyncio.wait_for(running.task, 15)


def _next_link(header: str | None) -> str | None:
    """The URL of the Link header's rel="next" (RFC 8288), if any."""
    for part in (header or "").split(","):
        match = re.match(r'\s*<([^>]+)>\s*;\s*rel="?next"?', part)
        if match:
            return match.group(1)
    return None
