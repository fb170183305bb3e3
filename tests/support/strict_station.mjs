// An independent, strict OCPP station: ocpp-rpc's RPCClient in strict mode (its own JSON schemas of
// OCPP 1.6, 2.0.1 and 2.1) connects to csms, lives a station's life, answers every call csms sends, and
// records each message that breaks the schema, in either direction.
//
//   node tests/support/strict_station.mjs --url ws://127.0.0.1:8000/ocpp --identity CP-1 \
//       --password secret --protocol ocpp2.0.1 [--id-tag TAG] [--csr CSR.pem] [--duration SECONDS]
//
// Prints one JSON line {"event": "ready"} once its own life is done (the station stays connected and keeps
// answering), then, when told to stop (a line on stdin, stdin closed, SIGTERM/SIGINT, or --duration), one
// JSON line {"event": "summary", ...}: every call received with its payload, every schema failure, every
// CallError csms answered and every malformed frame. Exits 1 when the summary holds any schema failure.
// ocpp-rpc is installed by `make tools` into .tools/.

import { createRequire } from "node:module";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const tools = createRequire(path.join(here, "..", "..", ".tools", "node_modules", "ocpp-rpc", "package.json"));
const { RPCClient, createValidator, createRPCError } = tools("ocpp-rpc");

const { values: options } = parseArgs({
  options: {
    url: { type: "string" },
    identity: { type: "string" },
    password: { type: "string" },
    protocol: { type: "string", default: "ocpp1.6" },
    "id-tag": { type: "string", default: "STRICT" + randomUUID().slice(0, 8).toUpperCase() },
    duration: { type: "string" },
    csr: { type: "string" },
  },
});

const PROTOCOLS = ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"];
if (!options.url || !options.identity || !PROTOCOLS.includes(options.protocol)) {
  process.stderr.write(`usage: --url WS_URL --identity ID --password PW --protocol ${PROTOCOLS.join("|")}\n`);
  process.exit(2);
}

const record = { received: [], unhandled: [], failures: [], callErrors: [], badMessages: [], sent: [] };
const idTag = options["id-tag"];
// The PEM CSR this station sends in SignCertificate when csms asks for one; without it, it declines.
const csr = options.csr ? readFileSync(options.csr, "utf8") : undefined;
const UNKNOWN_TAG = "UNKNOWN" + randomUUID().slice(0, 8).toUpperCase();
const now = () => new Date().toISOString();
const followUps = new Set();

// ocpp-rpc 2.2.1 ships the 2.1 schemas under the ids "urn:XRequest" / "urn:XResponse", while its strict
// mode looks schemas up as "urn:X.req" / "urn:X.conf" (as its 1.6 and 2.0.1 sets are keyed): renamed here,
// or every 2.1 message would fail as "schema missing".
function ocpp21Validator() {
  const schemas = tools("ocpp-rpc/lib/schemas/ocpp2_1.json").map((schema) => ({
    ...schema,
    $id: schema.$id.replace(/Request$/, ".req").replace(/Response$/, ".conf"),
  }));
  return createValidator("ocpp2.1", schemas);
}

const client = new RPCClient({
  endpoint: options.url,
  identity: options.identity,
  password: options.password,
  protocols: [options.protocol],
  strictMode: true,
  strictModeValidators: options.protocol === "ocpp2.1" ? [ocpp21Validator()] : [],
  reconnect: false,
  callTimeoutMs: 10_000,
});

client.on("strictValidationFailure", (failure) => {
  record.failures.push({
    // "csms" when csms sent the message that broke the schema; "station" when this script did (its own bug).
    from: failure.outbound ? "station" : "csms",
    kind: failure.isCall ? "call" : "answer",
    action: failure.method,
    message: failure.error?.message,
    errors: failure.error?.details?.errors,
    params: failure.params,
    result: failure.result,
  });
});
// Every call csms sends, before strict mode checks it: one that breaks the schema is listed here too.
client.on("call", ({ outbound, payload: [, , action, payload] }) => {
  if (outbound) return;
  record.received.push({ action, payload });
  process.stdout.write(JSON.stringify({ event: "call", action }) + "\n");
});
client.on("badMessage", ({ buffer, error }) => {
  record.badMessages.push({ frame: String(buffer), message: error?.message });
});

// -- the station's own calls ---------------------------------------------------------------------------

async function send(action, params) {
  const failuresBefore = record.failures.length;
  try {
    const answer = await client.call(action, params);
    record.sent.push({ action, answer });
    return answer;
  } catch (error) {
    record.sent.push({ action, error: error.message });
    // An answer strict mode refused is listed among the failures already; a CallError csms sent is listed here.
    const refused = record.failures.slice(failuresBefore).some((failure) => failure.action === action);
    if (error.rpcErrorCode !== undefined && !refused) {
      record.callErrors.push({ action, params, code: error.rpcErrorCode, message: error.message });
    }
    return undefined;
  }
}

function later(work) {
  // After the answer to csms's call has left: csms reads a follow-up only once its call is answered.
  const done = new Promise((resolve) => setTimeout(resolve, 20)).then(work).catch((error) => {
    record.sent.push({ action: "follow-up", error: error.message });
  });
  followUps.add(done);
  done.finally(() => followUps.delete(done));
}

const station16 = {
  transactions: new Map(), // connectorId -> transactionId
  localListVersion: 0,

  async life() {
    await send("BootNotification", {
      chargePointVendor: "StrictPeer",
      chargePointModel: "ocpp-rpc",
      chargePointSerialNumber: "SP-0001",
      firmwareVersion: "1.0.0",
    });
    for (const connectorId of [0, 1, 2]) await this.status(connectorId, "Available");
    await send("Heartbeat", {});
    await send("Authorize", { idTag });
    await this.start(2, idTag);
    await this.meter(2, 1_500);
    await this.stop(2, 2_000, "Local");
    // A card csms does not know: answered Invalid, and a transaction begun with it offline is ended.
    await send("Authorize", { idTag: UNKNOWN_TAG });
    await this.start(2, UNKNOWN_TAG);
    await this.stop(2, 1_100, "DeAuthorized");
    await send("DataTransfer", { vendorId: "org.strict-peer", messageId: "hello", data: "{\"a\":1}" });
    await send("SecurityEventNotification", { type: "StartupOfTheDevice", timestamp: now(), techInfo: "boot" });
    await send("FirmwareStatusNotification", { status: "Idle" });
    await send("DiagnosticsStatusNotification", { status: "Idle" });
  },

  status(connectorId, status) {
    return send("StatusNotification", { connectorId, status, errorCode: "NoError", timestamp: now() });
  },

  async start(connectorId, tag, reservationId) {
    const params = { connectorId, idTag: tag, meterStart: 1_000, timestamp: now() };
    if (reservationId !== undefined) params.reservationId = reservationId;
    await this.status(connectorId, "Preparing");
    const answer = await send("StartTransaction", params);
    if (answer === undefined) return;
    this.transactions.set(connectorId, answer.transactionId);
    await this.status(connectorId, "Charging");
  },

  meter(connectorId, energyWh) {
    return send("MeterValues", {
      connectorId,
      transactionId: this.transactions.get(connectorId),
      meterValue: [
        {
          timestamp: now(),
          sampledValue: [
            { value: String(energyWh), measurand: "Energy.Active.Import.Register", unit: "Wh", context: "Sample.Periodic" },
            { value: "7400", measurand: "Power.Active.Import", unit: "W" },
            { value: "230.1", measurand: "Voltage", unit: "V", phase: "L1-N" },
            { value: "55", measurand: "SoC", unit: "Percent", location: "EV" },
          ],
        },
      ],
    });
  },

  async stop(connectorId, meterStop, reason) {
    const transactionId = this.transactions.get(connectorId);
    if (transactionId === undefined) return;
    this.transactions.delete(connectorId);
    await send("StopTransaction", {
      transactionId,
      idTag,
      meterStop,
      timestamp: now(),
      reason,
      transactionData: [
        { timestamp: now(), sampledValue: [{ value: String(meterStop), measurand: "Energy.Active.Import.Register", unit: "Wh", context: "Transaction.End" }] },
      ],
    });
    await this.status(connectorId, "Available");
  },

  trigger(requested, connectorId) {
    switch (requested) {
      case "BootNotification":
        return send("BootNotification", { chargePointVendor: "StrictPeer", chargePointModel: "ocpp-rpc" });
      case "Heartbeat":
        return send("Heartbeat", {});
      case "StatusNotification":
        return this.status(connectorId ?? 1, "Available");
      case "MeterValues":
        return send("MeterValues", {
          connectorId: connectorId ?? 1,
          meterValue: [{ timestamp: now(), sampledValue: [{ value: "1000", measurand: "Energy.Active.Import.Register", unit: "Wh", context: "Trigger" }] }],
        });
      case "FirmwareStatusNotification":
        return send("FirmwareStatusNotification", { status: "Idle" });
      case "DiagnosticsStatusNotification":
        return send("DiagnosticsStatusNotification", { status: "Idle" });
      default:
        return undefined;
    }
  },

  answers: {
    RemoteStartTransaction({ connectorId, idTag: tag }) {
      later(() => station16.start(connectorId ?? 1, tag));
      return { status: "Accepted" };
    },
    RemoteStopTransaction({ transactionId }) {
      const connector = [...station16.transactions].find(([, id]) => id === transactionId)?.[0];
      if (connector === undefined) return { status: "Rejected" };
      later(() => station16.stop(connector, 3_000, "Remote"));
      return { status: "Accepted" };
    },
    Reset: () => ({ status: "Accepted" }),
    ChangeConfiguration: () => ({ status: "Accepted" }),
    GetConfiguration({ key }) {
      const known = { HeartbeatInterval: "300", MeterValueSampleInterval: "60", LocalAuthListEnabled: "true" };
      const wanted = key ?? Object.keys(known);
      return {
        configurationKey: wanted.filter((name) => name in known).map((name) => ({ key: name, readonly: false, value: known[name] })),
        unknownKey: wanted.filter((name) => !(name in known)),
      };
    },
    TriggerMessage({ requestedMessage, connectorId }) {
      later(() => station16.trigger(requestedMessage, connectorId));
      return { status: "Accepted" };
    },
    ExtendedTriggerMessage({ requestedMessage }) {
      if (requestedMessage !== "SignChargePointCertificate" || csr === undefined) return { status: "Rejected" };
      later(() => send("SignCertificate", { csr }));
      return { status: "Accepted" };
    },
    SendLocalList({ listVersion }) {
      station16.localListVersion = listVersion;
      return { status: "Accepted" };
    },
    GetLocalListVersion: () => ({ listVersion: station16.localListVersion }),
    ReserveNow: () => ({ status: "Accepted" }),
    CancelReservation: () => ({ status: "Accepted" }),
    UpdateFirmware() {
      later(async () => {
        for (const status of ["Downloading", "Downloaded", "Installing", "Installed"]) {
          await send("FirmwareStatusNotification", { status });
        }
      });
      return {};
    },
    SignedUpdateFirmware({ requestId }) {
      later(async () => {
        for (const status of ["Downloading", "Downloaded", "SignatureVerified", "Installing", "Installed"]) {
          await send("SignedFirmwareStatusNotification", { status, requestId });
        }
      });
      return { status: "Accepted" };
    },
    GetDiagnostics() {
      later(() => send("DiagnosticsStatusNotification", { status: "Uploading" }));
      return { fileName: "diagnostics.txt" };
    },
    GetLog({ requestId }) {
      later(() => send("LogStatusNotification", { status: "Uploading", requestId }));
      return { status: "Accepted", filename: "log.txt" };
    },
    SetChargingProfile: () => ({ status: "Accepted" }),
    ClearChargingProfile: () => ({ status: "Accepted" }),
    GetCompositeSchedule: ({ connectorId }) => ({
      status: "Accepted",
      connectorId,
      scheduleStart: now(),
      chargingSchedule: { chargingRateUnit: "W", chargingSchedulePeriod: [{ startPeriod: 0, limit: 11_000 }] },
    }),
    ChangeAvailability: () => ({ status: "Accepted" }),
    UnlockConnector: () => ({ status: "Unlocked" }),
    ClearCache: () => ({ status: "Accepted" }),
    DataTransfer: () => ({ status: "UnknownVendorId" }),
    CertificateSigned: () => ({ status: "Accepted" }),
    InstallCertificate: () => ({ status: "Accepted" }),
    DeleteCertificate: () => ({ status: "NotFound" }),
    GetInstalledCertificateIds: () => ({ status: "NotFound" }),
  },
};

const station2x = {
  transactions: new Map(), // evseId -> {transactionId, seqNo}
  localListVersion: 0,
  seqNo: 0,

  async life() {
    await this.boot("PowerUp");
    for (const evseId of [1, 2]) await this.status(evseId, "Available");
    await send("Heartbeat", {});
    await send("Authorize", { idToken: { idToken: idTag, type: "ISO14443" } });
    await this.start(2, { idToken: idTag, type: "ISO14443" }, "Authorized");
    await send("MeterValues", { evseId: 2, meterValue: [this.reading(1_200, "Sample.Periodic")] });
    await this.update(2, 1_500);
    await this.stop(2, 2_000, "StopAuthorized", "Local");
    await send("Authorize", { idToken: { idToken: UNKNOWN_TAG, type: "ISO14443" } });
    // A cable plugged in first, the card presented later (E03): the token comes with an Updated event.
    await this.start(2, undefined, "CablePluggedIn");
    await this.event("Updated", 2, "Authorized", {
      transactionInfo: { chargingState: "Charging" },
      fields: { idToken: { idToken: idTag, type: "ISO14443" } },
    });
    await this.stop(2, 1_300, "EVCommunicationLost", "EVDisconnected");
    await send("ReservationStatusUpdate", { reservationId: 987_654, reservationUpdateStatus: "Expired" });
    await send("DataTransfer", { vendorId: "org.strict-peer", messageId: "hello", data: { a: 1 } });
    await send("SecurityEventNotification", { type: "StartupOfTheDevice", timestamp: now(), techInfo: "boot" });
    await send("FirmwareStatusNotification", { status: "Idle" });
    await send("LogStatusNotification", { status: "Idle" });
    await send("NotifyEvent", {
      generatedAt: now(),
      seqNo: 0,
      eventData: [
        {
          eventId: 1,
          timestamp: now(),
          trigger: "Alerting",
          actualValue: "true",
          eventNotificationType: "HardWiredNotification",
          component: { name: "ChargingStation" },
          variable: { name: "Problem" },
        },
      ],
    });
  },

  boot(reason) {
    return send("BootNotification", {
      reason,
      chargingStation: { model: "ocpp-rpc", vendorName: "StrictPeer", serialNumber: "SP-0001", firmwareVersion: "1.0.0" },
    });
  },

  status(evseId, connectorStatus) {
    return send("StatusNotification", { timestamp: now(), connectorStatus, evseId, connectorId: 1 });
  },

  reading(energyWh, context) {
    return {
      timestamp: now(),
      sampledValue: [
        { value: energyWh, measurand: "Energy.Active.Import.Register", context, unitOfMeasure: { unit: "Wh" } },
        { value: 7_400, measurand: "Power.Active.Import", context, unitOfMeasure: { unit: "W" } },
        { value: 55, measurand: "SoC", context, location: "EV", unitOfMeasure: { unit: "Percent" } },
      ],
    };
  },

  event(eventType, evseId, triggerReason, extra) {
    const transaction = this.transactions.get(evseId);
    return send("TransactionEvent", {
      eventType,
      timestamp: now(),
      triggerReason,
      seqNo: transaction.seqNo++,
      transactionInfo: { transactionId: transaction.transactionId, ...extra.transactionInfo },
      evse: { id: evseId, connectorId: 1 },
      ...extra.fields,
    });
  },

  async start(evseId, idToken, triggerReason, remoteStartId) {
    this.transactions.set(evseId, { transactionId: randomUUID(), seqNo: 0 });
    const transactionInfo = { chargingState: "Charging" };
    if (remoteStartId !== undefined) transactionInfo.remoteStartId = remoteStartId;
    const fields = { meterValue: [this.reading(1_000, "Transaction.Begin")] };
    if (idToken !== undefined) fields.idToken = idToken;
    await this.event("Started", evseId, triggerReason, { transactionInfo, fields });
    await this.status(evseId, "Occupied");
  },

  update(evseId, energyWh) {
    return this.event("Updated", evseId, "MeterValuePeriodic", {
      transactionInfo: { chargingState: "Charging" },
      fields: { meterValue: [this.reading(energyWh, "Sample.Periodic")] },
    });
  },

  async stop(evseId, energyWh, triggerReason, stoppedReason) {
    if (!this.transactions.has(evseId)) return;
    await this.event("Ended", evseId, triggerReason, {
      transactionInfo: { chargingState: "Idle", stoppedReason },
      fields: { meterValue: [this.reading(energyWh, "Transaction.End")] },
    });
    this.transactions.delete(evseId);
    await this.status(evseId, "Available");
  },

  trigger(requested, evse) {
    switch (requested) {
      case "BootNotification":
        return this.boot("Triggered");
      case "Heartbeat":
        return send("Heartbeat", {});
      case "StatusNotification":
        return this.status(evse?.id ?? 1, "Available");
      case "MeterValues":
        return send("MeterValues", { evseId: evse?.id ?? 1, meterValue: [this.reading(1_000, "Trigger")] });
      case "FirmwareStatusNotification":
        return send("FirmwareStatusNotification", { status: "Idle" });
      case "LogStatusNotification":
        return send("LogStatusNotification", { status: "Idle" });
      default:
        return undefined;
    }
  },

  answers: {
    RequestStartTransaction({ evseId, idToken, remoteStartId }) {
      later(() => station2x.start(evseId ?? 1, idToken, "RemoteStart", remoteStartId));
      return { status: "Accepted" };
    },
    RequestStopTransaction({ transactionId }) {
      const evse = [...station2x.transactions].find(([, t]) => t.transactionId === transactionId)?.[0];
      if (evse === undefined) return { status: "Rejected" };
      later(() => station2x.stop(evse, 3_000, "RemoteStop", "Remote"));
      return { status: "Accepted" };
    },
    Reset: () => ({ status: "Accepted" }),
    SetVariables: ({ setVariableData }) => ({
      setVariableResult: setVariableData.map(({ component, variable, attributeType }) => ({
        attributeStatus: "Accepted",
        component,
        variable,
        ...(attributeType ? { attributeType } : {}),
      })),
    }),
    GetVariables: ({ getVariableData }) => ({
      getVariableResult: getVariableData.map(({ component, variable, attributeType }) => ({
        attributeStatus: "Accepted",
        attributeValue: "1",
        component,
        variable,
        ...(attributeType ? { attributeType } : {}),
      })),
    }),
    GetBaseReport({ requestId }) {
      later(() =>
        send("NotifyReport", {
          requestId,
          generatedAt: now(),
          seqNo: 0,
          tbc: false,
          reportData: [
            {
              component: { name: "OCPPCommCtrlr" },
              variable: { name: "HeartbeatInterval" },
              variableAttribute: [{ type: "Actual", value: "300", mutability: "ReadWrite" }],
            },
          ],
        }),
      );
      return { status: "Accepted" };
    },
    GetReport: () => ({ status: "EmptyResultSet" }),
    TriggerMessage({ requestedMessage, evse }) {
      if (requestedMessage === "SignChargingStationCertificate") {
        if (csr === undefined) return { status: "Rejected" };
        later(() => send("SignCertificate", { csr, certificateType: "ChargingStationCertificate" }));
        return { status: "Accepted" };
      }
      later(() => station2x.trigger(requestedMessage, evse));
      return { status: "Accepted" };
    },
    SendLocalList({ versionNumber }) {
      station2x.localListVersion = versionNumber;
      return { status: "Accepted" };
    },
    GetLocalListVersion: () => ({ versionNumber: station2x.localListVersion }),
    ReserveNow: () => ({ status: "Accepted" }),
    CancelReservation: () => ({ status: "Accepted" }),
    UpdateFirmware({ requestId }) {
      later(async () => {
        for (const status of ["Downloading", "Downloaded", "SignatureVerified", "Installing", "Installed"]) {
          await send("FirmwareStatusNotification", { status, requestId });
        }
      });
      return { status: "Accepted" };
    },
    GetLog({ requestId }) {
      later(() => send("LogStatusNotification", { status: "Uploading", requestId }));
      return { status: "Accepted", filename: "log.txt" };
    },
    SetChargingProfile: () => ({ status: "Accepted" }),
    ClearChargingProfile: () => ({ status: "Accepted" }),
    GetChargingProfiles: () => ({ status: "NoProfiles" }),
    GetCompositeSchedule: ({ evseId, duration, chargingRateUnit }) => ({
      status: "Accepted",
      schedule: {
        evseId,
        duration,
        scheduleStart: now(),
        chargingRateUnit: chargingRateUnit ?? "W",
        chargingSchedulePeriod: [{ startPeriod: 0, limit: 11_000 }],
      },
    }),
    ChangeAvailability: () => ({ status: "Accepted" }),
    UnlockConnector: () => ({ status: "Unlocked" }),
    ClearCache: () => ({ status: "Accepted" }),
    DataTransfer: () => ({ status: "UnknownVendorId" }),
    CertificateSigned: () => ({ status: "Accepted" }),
    InstallCertificate: () => ({ status: "Accepted" }),
    DeleteCertificate: () => ({ status: "NotFound" }),
    GetInstalledCertificateIds: () => ({ status: "NotFound" }),
    GetTransactionStatus: () => ({ messagesInQueue: false }),
    CostUpdated: () => ({}),
    CustomerInformation: () => ({ status: "Accepted" }),
    SetDisplayMessage: () => ({ status: "Accepted" }),
    GetDisplayMessages: () => ({ status: "Unknown" }),
    ClearDisplayMessage: () => ({ status: "Unknown" }),
    SetNetworkProfile: () => ({ status: "Accepted" }),
    SetMonitoringBase: () => ({ status: "Accepted" }),
    SetMonitoringLevel: () => ({ status: "Accepted" }),
    GetMonitoringReport: () => ({ status: "EmptyResultSet" }),
    SetVariableMonitoring: ({ setMonitoringData }) => ({
      setMonitoringResult: setMonitoringData.map(({ component, variable, type, severity }) => ({
        status: "Accepted",
        type,
        severity,
        component,
        variable,
      })),
    }),
    ClearVariableMonitoring: ({ id }) => ({ clearMonitoringResult: id.map((monitorId) => ({ status: "Accepted", id: monitorId })) }),
    PublishFirmware: () => ({ status: "Accepted" }),
    UnpublishFirmware: () => ({ status: "NoFirmware" }),
  },
};

const station = options.protocol === "ocpp1.6" ? station16 : station2x;

// Every call csms sends is recorded, then answered as this station's version answers it; one this station
// does not know is answered NotImplemented (still a valid OCPP-J answer) and shows in the summary.
client.handle(({ method, params }) => {
  const answer = station.answers[method];
  if (answer === undefined) {
    record.unhandled.push(method);
    throw createRPCError("NotImplemented", `this station does not handle ${method}`);
  }
  return answer(params ?? {});
});

// -- run, then stop when told -----------------------------------------------------------------------------

let stopping = false;
async function stop(reason) {
  if (stopping) return;
  stopping = true;
  while (followUps.size > 0) await Promise.allSettled([...followUps]);
  await client.close({ code: 1000, reason: "station stops" }).catch(() => undefined);
  const summary = { event: "summary", reason, protocol: client.protocol ?? null, identity: options.identity, ...record };
  process.stdout.write(JSON.stringify(summary) + "\n");
  process.exit(record.failures.length > 0 ? 1 : 0);
}

process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));
process.stdin.on("data", () => stop("stdin"));
process.stdin.on("end", () => stop("stdin closed"));
client.on("close", ({ code, reason }) => {
  if (!stopping) stop(`connection closed by csms: ${code} ${reason}`);
});
if (options.duration) setTimeout(() => stop("duration"), Number(options.duration) * 1000);

try {
  await client.connect();
} catch (error) {
  process.stdout.write(JSON.stringify({ event: "refused", protocol: options.protocol, message: error.message }) + "\n");
  process.exit(3);
}
await station.life();
process.stdout.write(JSON.stringify({ event: "ready", protocol: client.protocol }) + "\n");
