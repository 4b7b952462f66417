/** Errors a workflow raises, and the ones the SDK hands to failure handlers. */

export interface NonRetriableErrorOptions {
  /** Machine-readable code, at most 100 characters on the wire. */
  code?: string;
  /** Any JSON value; over 64 KiB it is replaced by a truncation marker. */
  details?: unknown;
  /** Overrides the error name sent to the engine. */
  name?: string;
}

/** Thrown from a step or handler: the run fails at once instead of retrying. */
export class NonRetriableError extends Error {
  readonly code: string | undefined;
  readonly details: unknown;

  constructor(message: string, options: NonRetriableErrorOptions = {}) {
    super(message);
    this.name = options.name ?? "NonRetriableError";
    this.code = options.code;
    this.details = options.details;
  }
}

/**
 * step.invoke's function failed, was cancelled or did not end in time ([INVOKE-8]): `code`
 * is INVOKE_FAILED, INVOKE_CANCELLED or INVOKE_TIMEOUT, `details` the memo's `runId`,
 * `status` and `error`, `stepId` the invoke step. Never retried; uncaught, the run fails
 * at that step.
 */
export class InvokeError extends NonRetriableError {
  constructor(
    message: string,
    code: string,
    details: unknown,
    readonly stepId: string,
  ) {
    super(message, { code, details, name: "InvokeError" });
  }
}

/** The error an onFailure handler receives: what made the run fail, as the engine reports it. */
export class FailureError extends Error {
  readonly code: string | undefined;
  readonly stepId: string | undefined;
  readonly details: unknown;

  constructor(
    message: string,
    fields: { name?: string; code?: string; stepId?: string; details?: unknown } = {},
  ) {
    super(message);
    this.name = fields.name ?? "Error";
    this.code = fields.code;
    this.stepId = fields.stepId;
    this.details = fields.details;
  }
}

/** A function definition that breaks the spec; `field` names the offending option. */
export class DefinitionError extends TypeError {
  override name = "DefinitionError";

  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/**
 * Raised by the Client for any failed engine call: `status` and `code` (the API's error
 * code, registry.json) when the engine answered, `cause` the network or JSON error behind it.
 */
export class DurableError extends Error {
  override name = "DurableError";
  /** Ids of the events a failed send carried (resend them with the same ids). */
  eventIds: string[] | undefined;
  /** Idempotency key of a failed rerun (retry with the same key). */
  idempotencyKey: string | undefined;
  /** The engine's error code (registry.json), when it answered one. */
  code: string | undefined;
  /** JSON Pointer of the offending request member, when the engine named one. */
  path: string | undefined;

  constructor(
    message: string,
    readonly status?: number,
    readonly body?: string,
  ) {
    super(message);
  }
}
