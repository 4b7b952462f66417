export { createFunction } from "./function.js";
export type {
  BatchOption,
  ConcurrencyOption,
  DebounceOption,
  DurableEvent,
  DurableFunction,
  FailureContext,
  FunctionConfig,
  HandlerContext,
  KeyOption,
  WindowOption,
  CancelOnOption,
  IdempotencyOption,
  SingletonOption,
} from "./function.js";
export { Step } from "./step.js";
export { parseTraceparent, opentelemetryHook } from "./trace.js";
export type { OpenTelemetryApi, TraceContext, TraceHook, TracedInvocation } from "./trace.js";
export type { EventReceipt, InvokeOptions, Op, OutgoingEvent, StepMemo, WaitForEventOptions } from "./step.js";
export { NonRetriableError, FailureError, DefinitionError, DurableError, InvokeError } from "./errors.js";
export type { NonRetriableErrorOptions } from "./errors.js";
export { parseDuration, InvalidDurationError } from "./duration.js";
export type { Duration, DurationUnit } from "./duration.js";
export { validateDefinition, cronProblem } from "./definition.js";
export type { FunctionDefinition, DefinitionProblem, Trigger } from "./definition.js";
export { serve, nodeHandler, expressHandler } from "./serve.js";
export type { ServeHandler, ServeOptions } from "./serve.js";
export { DurableCore, createCore, normalizeHeaders } from "./core.js";
export type { CoreOptions, CoreResponse, HeaderInput, InvokeRequest, Logger, Manifest } from "./core.js";
export { sign, signV2, matchesAnyKey, freshTimestamp, verifyAnswer, verifyApiRequest } from "./signing.js";
export { Client, provisionApp, rotateAppKey, retireAppKey } from "./client.js";
export type {
  Attempt,
  BulkCancelOptions,
  BulkCancelPage,
  BulkFilter,
  BulkRerunOptions,
  BulkRerunPage,
  FunctionSummary,
  RunHistory,
} from "./results.js";
export type {
  AdminOptions,
  CancelAnswer,
  ClientOptions,
  DeliveryFailure,
  EventInput,
  ProvisionOptions,
  ProvisionedApp,
  RerunAnswer,
  Run,
  RunError,
  RunPage,
  RunStatus,
  RunSummary,
  SearchRunsOptions,
  SyncAnswer,
  SyncSource,
  VersionStatus,
} from "./client.js";
export {
  SDK_VERSION,
  HEADERS,
  CAPABILITIES,
  ALL_CAPABILITIES,
  ERROR_CODES,
  LIMITS,
} from "./constants.js";
export type { Capability } from "./constants.js";
