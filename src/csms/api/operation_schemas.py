"""Bodies of the charger-operations API: configuration, local lists, reservations, profiles, files."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from csms.domain.commands import ConnectorType
from csms.services.certificate_revocation import RevocationReason


class ConfigurationKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    value: str | None
    readonly: bool
    updated_at: datetime


class PasswordChange(BaseModel):
    password: str = Field(min_length=16, max_length=40, description="The charger's new Basic-auth password")


class CallStatusOut(BaseModel):
    status: str = Field(description="The charger's answer")


class ChargerCommandOut(BaseModel):
    """A call to the charger, from the record the nodes that touched it keep."""

    model_config = ConfigDict(from_attributes=True)

    command_id: str
    action: str
    requested_by: str = Field(description='"user <id> <username> (<role>)", or "csms" for csms\'s own calls')
    origin_node: str = Field(description="The node that asked")
    executed_by: str | None = Field(description="The node holding the charger's socket; null if none answered")
    outcome: str = Field(
        description="answered, rejected (a CallError), timeout, expired (reached the charger's node after its"
        " deadline: never sent), refused, not_connected, or no_bus_answer (only the asking node's record)"
    )
    answer_status: str | None = Field(description="The status the charger answered, if any")
    detail: str | None
    caller_got_no_answer: bool = Field(description="The caller got 504: no answer came back through the bus")
    answered_late: bool = Field(description="The caller got 504, yet the charger answered (see answer_status)")
    created_at: datetime


class LocalListEntryOut(BaseModel):
    id_tag: str
    status: str
    expiry_date: datetime | None
    parent_id_tag: str | None


class LocalListOut(BaseModel):
    list_version: int = Field(description="The version csms last saw the charger accept (0: none)")
    reported_version: int | None = Field(description="What the charger last answered to GetLocalListVersion")
    entries: list[LocalListEntryOut]


class LocalListSend(BaseModel):
    update_type: str = Field(default="Differential", pattern="^(Full|Differential)$")


class LocalListSendOut(BaseModel):
    status: str = Field(description="The charger's answer to SendLocalList")
    list_version: int
    update_type: str
    entries: int = Field(description="Entries sent, removals included")


class ReservationCreate(BaseModel):
    evse_id: str = Field(min_length=1, max_length=64, examples=["CP001"])
    connector_id: int | None = Field(
        default=None, ge=1, examples=[1], description="The connector (1.6) or EVSE (2.x); none: any the charger picks"
    )
    connector_type: ConnectorType | None = Field(
        default=None,
        examples=["cCCS2"],
        description="2.x only: any EVSE with a connector of this type (OCPP 2.0.1 ConnectorEnumType)",
    )
    minutes: int = Field(default=15, ge=1, le=24 * 60, description="How long the connector is held")


class ReservationOut(BaseModel):
    id: int = Field(description="The OCPP reservationId")
    charge_point_id: str
    connector_id: int = Field(description="0: any connector or EVSE, picked by the charger")
    connector_type: str | None
    id_tag: str
    status: str = Field(
        description="Pending, Accepted, Faulted, Occupied, Rejected, Unavailable, Cancelled, Used, Expired"
    )
    expires_at: datetime
    transaction_id: int | None
    created_at: datetime


class StoredFileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    size: int
    sha256: str
    version: str | None
    uploaded_by: int | None
    created_at: datetime


class RolloutCreate(BaseModel):
    charge_point_ids: list[str] = Field(min_length=1, max_length=10_000)
    retrieve_date: datetime | None = Field(default=None, description="When chargers may fetch it; default now")
    retries: int | None = Field(default=None, ge=0, le=100)
    retry_interval: int | None = Field(default=None, ge=0, le=86_400, description="Seconds")
    signing_certificate: str | None = Field(
        default=None, max_length=5500, description="PEM; with `signature`, sent as SignedUpdateFirmware"
    )
    signature: str | None = Field(default=None, max_length=800, description="Base64 signature of the image")

    @model_validator(mode="after")
    def _signed_needs_both(self) -> RolloutCreate:
        if (self.signing_certificate is None) != (self.signature is None):
            raise ValueError("a signed rollout needs both signing_certificate and signature")
        return self


class FirmwareUpdateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    charge_point_id: str
    status: str = Field(description="Pending, Sent, SendFailed, a FirmwareStatus, Confirmed or VersionMismatch")
    detail: str | None
    reported_version: str | None
    transfer_scheme: str | None = Field(default=None, description="The scheme of its link: http, ftp or ftps")
    updated_at: datetime


class RolloutBriefOut(BaseModel):
    id: int
    firmware: StoredFileOut
    retrieve_date: datetime
    signed: bool = Field(description="Sent as SignedUpdateFirmware (requestId = this id)")
    created_at: datetime
    counts: dict[str, int] = Field(description="How many chargers are in each status")


class RolloutOut(RolloutBriefOut):
    retries: int | None
    retry_interval: int | None
    chargers: list[FirmwareUpdateOut]


class DiagnosticsCreate(BaseModel):
    retries: int | None = Field(default=None, ge=0, le=100)
    retry_interval: int | None = Field(default=None, ge=0, le=86_400)
    start_time: datetime | None = None
    stop_time: datetime | None = None
    log_type: Literal["DiagnosticsLog", "SecurityLog"] | None = Field(
        default=None, description="Set: sent as GetLog (requestId = the request's id) instead of GetDiagnostics"
    )


class DiagnosticsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    charge_point_id: str
    status: str = Field(
        description="Requested, Accepted, NoDiagnostics, SendFailed, Uploading, Uploaded, UploadFailed; "
        "for GetLog also Rejected, UploadFailure, BadMessage, NotSupportedOperation, PermissionDenied"
    )
    log_type: str | None = Field(description="DiagnosticsLog or SecurityLog for GetLog; null for GetDiagnostics")
    file_name: str | None = Field(description="The name the charger gave in its answer")
    file_id: int | None = Field(description="Set once the charger's upload has arrived")
    transfer_scheme: str | None = Field(default=None, description="The scheme of its upload link: http, ftp or ftps")
    created_at: datetime
    updated_at: datetime


class CertificateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    charge_point_id: str
    certificate_type: str = Field(
        description="ChargePointCertificate (the OCPP client certificate csms signed), V2GCertificate (the ISO 15118 "
        "SECC certificate the certificate provider signed); installed or reported: 1.6 CentralSystemRootCertificate, "
        "ManufacturerRootCertificate; 2.0.1 V2GRootCertificate, MORootCertificate, CSMSRootCertificate, "
        "ManufacturerRootCertificate, V2GCertificateChain"
    )
    status: str = Field(description="Issued, Accepted, Rejected, SendFailed (signed for the charger) or Installed")
    serial_number: str = Field(description="Hexadecimal, as in CertificateHashData")
    subject: str | None
    not_after: datetime | None = Field(description="Unknown for those only reported by GetInstalledCertificateIds")
    revoked_at: datetime | None = Field(
        None, description="From when csms refuses it and lists it on its CRL; ahead for a renewed one's grace"
    )
    revocation_reason: str | None = Field(None, description="RFC 5280 CRLReason: superseded after a renewal, ...")
    created_at: datetime
    updated_at: datetime


class CertificateRevocation(BaseModel):
    reason: RevocationReason = Field("unspecified", description="RFC 5280 CRLReason, as it appears on the CRL")


class SigningWindow(BaseModel):
    minutes: int = Field(ge=0, le=1440, description="How long csms signs one CSR of the charger; 0 closes it")


class SigningWindowOut(BaseModel):
    charge_point_id: str
    open_until: datetime | None = Field(description="Until when one CSR of the charger is signed; null: closed")


class SecurityProfileChange(BaseModel):
    security_profile: int = Field(ge=1, le=3, description="1 Basic auth, 2 TLS + Basic auth, 3 TLS client certificate")


class SecurityProfileOut(BaseModel):
    charge_point_id: str
    security_profile: int = Field(description="Connections below it are refused")
    security_profile_allowed: int = Field(description="Connections above it do not raise security_profile")
