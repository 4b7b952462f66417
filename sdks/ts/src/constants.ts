/** Protocol constants. Tests check every one of them against spec/registry.json. */
import { VERSION } from "./version.js";

export const SDK_NAME = "ts";
/** The package version (package.json, the one place it is set). */
export const SDK_VERSION_NUMBER = VERSION;
export const SDK_VERSION = `${SDK_NAME}/${SDK_VERSION_NUMBER}`;

export const HEADERS = {
  signature: "x-durable-signature",
  signatureV2: "x-durable-signature-v2",
  timestamp: "x-durable-timestamp",
  app: "x-durable-app",
  discovery: "x-durable-discovery",
} as const;

export const CAPABILITIES = {
  timestampedSignatures: "timestamped-signatures",
  keyRotation: "key-rotation",
  stepOccurrences: "step-occurrences",
  strictReplay: "strict-replay",
  stepInvoke: "step-invoke",
  traceContext: "trace-context",
} as const;

export type Capability = (typeof CAPABILITIES)[keyof typeof CAPABILITIES];

/** Every capability this SDK implements, advertised by default (secure by default). */
export const ALL_CAPABILITIES: readonly Capability[] = [
  CAPABILITIES.timestampedSignatures,
  CAPABILITIES.keyRotation,
  CAPABILITIES.stepOccurrences,
  CAPABILITIES.strictReplay,
  CAPABILITIES.stepInvoke,
  CAPABILITIES.traceContext,
];

export const OPS = ["step", "error", "sendEvent", "sleep", "wait", "done", "invoke"] as const;
export type OpName = (typeof OPS)[number];

export const STEP_TYPES = ["run", "sleep", "wait", "sendEvent", "invoke"] as const;
export type StepType = (typeof STEP_TYPES)[number];

export const ERROR_CODES = {
  nonDeterministic: "NON_DETERMINISTIC",
  missingFailureHandler: "MISSING_FAILURE_HANDLER",
  invalidParallel: "INVALID_PARALLEL",
  invalidEvents: "INVALID_EVENTS",
  capabilityOff: "CAPABILITY_OFF",
  invalidDuration: "INVALID_DURATION",
} as const;

/** [INVOKE-8]: the InvokeError code of each non-completed invoke result status. */
export const INVOKE_CODES: Record<string, string> = {
  failed: "INVOKE_FAILED",
  cancelled: "INVOKE_CANCELLED",
  timedOut: "INVOKE_TIMEOUT",
};

/** W3C Trace Context version 00 ([TRACE-1]); trace id and parent id not all zeros. */
export const TRACEPARENT = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

export const LIMITS = {
  signatureWindowMs: 300_000,
  maxRequestBytes: 1_048_576,
  /** Smallest maxRequestBytes a manifest may state ([MAN-1]). */
  minRequestBytes: 65_536,
  maxResponseBytes: 1_048_576,
  maxErrorCodeChars: 100,
  maxErrorDetailsBytes: 65_536,
  maxEventsPerSend: 100,
  maxParallelTasks: 20,
  maxFunctionIdChars: 200,
  maxVersionChars: 100,
  maxRetries: 20,
  maxConcurrencyRules: 10,
  cancelOnRules: 10,
  minPriority: -600,
  maxPriority: 600,
  batchMaxSize: 100,
  keyPathChars: 200,
  eventNameChars: 200,
  maxDurationMs: Number.MAX_SAFE_INTEGER,
} as const;
