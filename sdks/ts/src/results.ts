/** Typed answers of the engine API operations on runs and functions (spec §14.9.1, §14.12, §14.13). */
import type { RunStatus } from "./client.js";

/** One HTTP invocation of a run ([API-19]). */
export interface Attempt {
  deliveryId: string;
  namespace: "main" | "failure";
  attempt: number;
  at: string;
  durationMs: number;
  httpStatus: number | null;
  /** The op the app answered, null when no valid one came. */
  op: string | null;
  /** What went wrong, with the start of the app's answer; null on success. */
  error: string | null;
  /** TIMEOUT, DELIVERY_FAILED, INVALID_RESPONSE, the app's error code, or null. */
  code: string | null;
}

/** A page of a run's invocations, oldest first. */
export interface RunHistory {
  runId: string;
  attempts: Attempt[];
  nextCursor: string | null;
}

/** A bulk filter ([API-16]): at least one member. Instants are ISO strings or Dates. */
export interface BulkFilter {
  /** Runtime id, or an id without `@` for every version of it. */
  functionId?: string;
  status?: RunStatus;
  /** Created at or after (inclusive). */
  createdFrom?: string | Date;
  /** Created before (exclusive). */
  createdTo?: string | Date;
}

export interface BulkCancelOptions extends BulkFilter {
  cursor?: string;
  /** 1..1000, default 100. */
  limit?: number;
}

export interface BulkRerunOptions extends BulkFilter {
  /** Use the same key for every page and on a retry: each source run is rerun once. Generated when absent. */
  idempotencyKey?: string;
  cursor?: string;
  /** 1..100, default 50. */
  limit?: number;
}

/** One page of a bulk cancel ([API-17]). */
export interface BulkCancelPage {
  cancelled: string[];
  nextCursor: string | null;
}

/** One page of a bulk rerun ([API-18]). */
export interface BulkRerunPage {
  reruns: { runId: string; rerunOf: string; duplicate: boolean }[];
  nextCursor: string | null;
}

/** A live runtime id of the workspace ([API-21]). */
export interface FunctionSummary {
  functionId: string;
  runtimeId: string;
  version: string | null;
  trigger: { event: string } | { cron: string; timezone?: string };
  active: boolean;
  runs: Partial<Record<RunStatus, number>>;
}

/** The request members of a bulk filter; a TypeError when none is given. */
export function bulkFilter(filter: BulkFilter): Record<string, string> {
  const members: Record<string, string> = {};
  if (filter.functionId !== undefined) members.functionId = filter.functionId;
  if (filter.status !== undefined) members.status = filter.status;
  for (const name of ["createdFrom", "createdTo"] as const) {
    const value = filter[name];
    if (value !== undefined) members[name] = value instanceof Date ? value.toISOString() : value;
  }
  if (Object.keys(members).length === 0) {
    throw new TypeError("a bulk call needs a filter: functionId, status, createdFrom or createdTo");
  }
  return members;
}
