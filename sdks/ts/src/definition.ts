/**
 * The wire shape of a FunctionDefinition and its validation. createFunction builds the
 * definition first and validates it here, so the SDK refuses exactly what the engine would.
 */
import { LIMITS } from "./constants.js";
import { isPlainObject } from "./json.js";

export interface KeyedRule {
  key?: string;
}
export interface ConcurrencyDefinition extends KeyedRule {
  limit: number;
}
export interface WindowDefinition extends KeyedRule {
  limit: number;
  periodMs: number;
}
export interface DebounceDefinition extends KeyedRule {
  periodMs: number;
}
export interface BatchDefinition extends KeyedRule {
  maxSize: number;
  timeoutMs: number;
}

/** [CANCEL-1]: `match` maps a key path in the cancelling event to one in the run's event. */
export interface CancelOnDefinition {
  event: string;
  match?: Record<string, string>;
  timeoutMs?: number;
}
export interface IdempotencyDefinition {
  key: string;
  periodMs?: number;
}
export interface SingletonDefinition extends KeyedRule {
  mode: "skip" | "cancel";
}

export type Trigger = { event: string } | { cron: string };

export interface FunctionDefinition {
  id: string;
  trigger: Trigger;
  priority: number;
  enabled: boolean;
  hasOnFailure: boolean;
  version?: string;
  retries?: number;
  timeoutMs?: number;
  concurrency?: ConcurrencyDefinition | ConcurrencyDefinition[];
  throttle?: WindowDefinition;
  rateLimit?: WindowDefinition;
  debounce?: DebounceDefinition;
  batch?: BatchDefinition;
  cancelOn?: CancelOnDefinition[];
  idempotency?: IdempotencyDefinition;
  singleton?: SingletonDefinition;
}

/** Where a definition is wrong: a JSON Pointer into it, and why. */
export interface DefinitionProblem {
  path: string;
  message: string;
}

const TOP_LEVEL = new Set([
  "id",
  "trigger",
  "priority",
  "enabled",
  "hasOnFailure",
  "version",
  "retries",
  "timeoutMs",
  "concurrency",
  "throttle",
  "rateLimit",
  "debounce",
  "batch",
  "cancelOn",
  "idempotency",
  "singleton",
]);

class Problem extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

function isInt(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value);
}

function requireInt(value: unknown, path: string, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!isInt(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`;
    throw new Problem(path, `must be an integer ${range}`);
  }
}

function requireString(value: unknown, path: string, maxChars: number): void {
  if (typeof value !== "string" || value.length === 0 || value.length > maxChars) {
    throw new Problem(path, `must be a string of 1-${maxChars} characters`);
  }
}

function checkObject(
  value: unknown,
  path: string,
  required: readonly string[],
  optional: readonly string[],
): Record<string, unknown> {
  if (!isPlainObject(value)) throw new Problem(path, "must be an object");
  for (const name of Object.keys(value)) {
    if (!required.includes(name) && !optional.includes(name)) {
      throw new Problem(`${path}/${escapePointer(name)}`, "is not allowed");
    }
  }
  for (const name of required) {
    // A missing member is a fault of the object that lacks it (JSON Schema reports it there).
    if (!(name in value)) throw new Problem(path, `needs "${name}"`);
  }
  return value;
}

/** A key path: 1-200 characters of non-empty segments separated by "." (decision 0004). */
export function keyPathProblem(value: unknown): string | null {
  if (typeof value !== "string" || value.length === 0 || value.length > LIMITS.keyPathChars) {
    return `must be a key path of 1-${LIMITS.keyPathChars} characters`;
  }
  if (value.split(".").some((segment) => segment.length === 0)) return "must not have empty path segments";
  return null;
}

function checkKey(rule: Record<string, unknown>, path: string): void {
  if (!("key" in rule)) return;
  const problem = keyPathProblem(rule.key);
  if (problem) throw new Problem(`${path}/key`, problem);
}

function checkConcurrencyRule(value: unknown, path: string): void {
  const rule = checkObject(value, path, ["limit"], ["key"]);
  requireInt(rule.limit, `${path}/limit`, 1);
  checkKey(rule, path);
}

export function escapePointer(segment: string): string {
  return segment.replace(/~/g, "~0").replace(/\//g, "~1");
}

function checkCancelOn(rules: unknown): void {
  if (!Array.isArray(rules) || rules.length < 1 || rules.length > LIMITS.cancelOnRules) {
    throw new Problem("/cancelOn", `must hold 1-${LIMITS.cancelOnRules} rules`);
  }
  rules.forEach((value, index) => {
    const path = `/cancelOn/${index}`;
    const rule = checkObject(value, path, ["event"], ["match", "timeoutMs"]);
    requireString(rule.event, `${path}/event`, 200);
    if ("match" in rule) {
      if (!isPlainObject(rule.match)) throw new Problem(`${path}/match`, "must be an object");
      for (const [name, source] of Object.entries(rule.match)) {
        const problem = keyPathProblem(name) ?? keyPathProblem(source);
        if (problem) throw new Problem(`${path}/match/${escapePointer(name)}`, problem);
      }
    }
    if ("timeoutMs" in rule) requireInt(rule.timeoutMs, `${path}/timeoutMs`, 1);
  });
}

function check(definition: unknown): void {
  if (!isPlainObject(definition)) throw new Problem("", "must be an object");
  for (const name of Object.keys(definition)) {
    if (!TOP_LEVEL.has(name)) throw new Problem(`/${escapePointer(name)}`, "is not allowed");
  }
  if (!("id" in definition)) throw new Problem("", 'needs "id"');
  requireString(definition.id, "/id", LIMITS.maxFunctionIdChars);
  if (!("trigger" in definition)) throw new Problem("", 'needs "trigger"');
  const trigger = definition.trigger;
  if (!isPlainObject(trigger)) throw new Problem("/trigger", "must be an object");
  const kinds = Object.keys(trigger);
  if (kinds.length !== 1 || (kinds[0] !== "event" && kinds[0] !== "cron")) {
    throw new Problem("/trigger", 'must hold exactly one of "event" or "cron"');
  }
  if ("event" in trigger) {
    requireString(trigger.event, "/trigger/event", 200);
  } else {
    const reason = cronProblem(trigger.cron);
    if (reason) throw new Problem("/trigger/cron", reason);
  }
  if ("priority" in definition) {
    requireInt(definition.priority, "/priority", LIMITS.minPriority, LIMITS.maxPriority);
  }
  for (const flag of ["enabled", "hasOnFailure"] as const) {
    if (flag in definition && typeof definition[flag] !== "boolean") {
      throw new Problem(`/${flag}`, "must be a boolean");
    }
  }
  if ("version" in definition) requireString(definition.version, "/version", LIMITS.maxVersionChars);
  if ("retries" in definition) requireInt(definition.retries, "/retries", 0, LIMITS.maxRetries);
  if ("timeoutMs" in definition) requireInt(definition.timeoutMs, "/timeoutMs", 1);
  if ("concurrency" in definition) {
    const concurrency = definition.concurrency;
    if (Array.isArray(concurrency)) {
      if (concurrency.length < 1 || concurrency.length > LIMITS.maxConcurrencyRules) {
        throw new Problem("/concurrency", `must hold 1-${LIMITS.maxConcurrencyRules} rules`);
      }
      concurrency.forEach((rule, index) => checkConcurrencyRule(rule, `/concurrency/${index}`));
    } else {
      checkConcurrencyRule(concurrency, "/concurrency");
    }
  }
  for (const name of ["throttle", "rateLimit"] as const) {
    if (name in definition) {
      const rule = checkObject(definition[name], `/${name}`, ["limit", "periodMs"], ["key"]);
      requireInt(rule.limit, `/${name}/limit`, 1);
      requireInt(rule.periodMs, `/${name}/periodMs`, 1);
      checkKey(rule, `/${name}`);
    }
  }
  if ("debounce" in definition) {
    const rule = checkObject(definition.debounce, "/debounce", ["periodMs"], ["key"]);
    requireInt(rule.periodMs, "/debounce/periodMs", 1);
    checkKey(rule, "/debounce");
  }
  if ("batch" in definition) {
    const rule = checkObject(definition.batch, "/batch", ["maxSize", "timeoutMs"], ["key"]);
    requireInt(rule.maxSize, "/batch/maxSize", 1, LIMITS.batchMaxSize);
    requireInt(rule.timeoutMs, "/batch/timeoutMs", 1);
    checkKey(rule, "/batch");
    for (const other of ["debounce", "throttle", "rateLimit"]) {
      if (other in definition) throw new Problem("/batch", `cannot be combined with ${other}`);
    }
  }
  if ("cancelOn" in definition) checkCancelOn(definition.cancelOn);
  if ("idempotency" in definition) {
    const rule = checkObject(definition.idempotency, "/idempotency", ["key"], ["periodMs"]);
    checkKey(rule, "/idempotency");
    if ("periodMs" in rule) requireInt(rule.periodMs, "/idempotency/periodMs", 1);
  }
  if ("singleton" in definition) {
    const rule = checkObject(definition.singleton, "/singleton", ["mode"], ["key"]);
    if (rule.mode !== "skip" && rule.mode !== "cancel") {
      throw new Problem("/singleton/mode", 'must be "skip" or "cancel"');
    }
    checkKey(rule, "/singleton");
  }
  for (const name of ["idempotency", "singleton"]) {
    for (const other of ["batch", "debounce"]) {
      if (name in definition && other in definition) {
        throw new Problem(`/${name}`, `cannot be combined with ${other}`);
      }
    }
  }
  if ("debounce" in definition) {
    for (const other of ["throttle", "rateLimit"]) {
      if (other in definition) throw new Problem("/debounce", `cannot be combined with ${other}`);
    }
  }
}

/** The first problem of a wire definition, or null when the engine would accept it. */
export function validateDefinition(definition: unknown): DefinitionProblem | null {
  try {
    check(definition);
    return null;
  } catch (error) {
    if (error instanceof Problem) return { path: error.path, message: error.message };
    throw error;
  }
}

// --- cron ---------------------------------------------------------------------------

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
  namesFrom?: number;
}

const SECOND: FieldSpec = { name: "second", min: 0, max: 59 };
const FIVE_FIELDS: FieldSpec[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day-of-month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTHS, namesFrom: 1 },
  { name: "day-of-week", min: 0, max: 7, names: DAYS, namesFrom: 0 },
];

function atom(text: string, spec: FieldSpec): number | null {
  if (/^[0-9]+$/.test(text)) {
    const value = Number(text);
    return value >= spec.min && value <= spec.max ? value : null;
  }
  const index = spec.names?.indexOf(text.toUpperCase()) ?? -1;
  return index >= 0 ? index + (spec.namesFrom ?? 0) : null;
}

function fieldProblem(field: string, spec: FieldSpec): string | null {
  for (const part of field.split(",")) {
    const [range, step, ...rest] = part.split("/");
    if (rest.length > 0 || range === undefined || range === "") return `invalid ${spec.name} field`;
    if (step !== undefined && (!/^[0-9]+$/.test(step) || Number(step) < 1)) {
      return `invalid step in ${spec.name} field`;
    }
    if (range === "*") continue;
    const bounds = range.split("-");
    if (bounds.length > 2) return `invalid ${spec.name} field`;
    const values = bounds.map((bound) => atom(bound, spec));
    if (values.some((value) => value === null)) return `${spec.name} out of range`;
    if (values.length === 2 && (values[0] as number) > (values[1] as number)) {
      return `invalid range in ${spec.name} field`;
    }
  }
  return null;
}

/** Why a cron trigger is invalid, or null ("[TZ=<zone> ]<5 or 6 fields>", seconds first). */
export function cronProblem(expr: unknown): string | null {
  if (typeof expr !== "string" || expr === "") return "must be a non-empty cron expression";
  let text = expr;
  if (text.startsWith("TZ=")) {
    const space = text.indexOf(" ");
    const zone = text.slice(3, space < 0 ? undefined : space);
    try {
      if (!zone) throw new RangeError("empty zone");
      const resolved = new Intl.DateTimeFormat("en-US", { timeZone: zone }).resolvedOptions().timeZone;
      // IANA names are case-sensitive (the engine's tz database is); Intl is not.
      if (resolved.toLowerCase() === zone.toLowerCase() && resolved !== zone) throw new RangeError("zone case");
    } catch {
      return `unknown time zone ${zone}`;
    }
    text = space < 0 ? "" : text.slice(space + 1);
  }
  if (text !== text.trim() || text.includes("  ")) return "fields are separated by single spaces";
  const fields = text.split(" ");
  let specs: FieldSpec[];
  if (fields.length === 5) specs = FIVE_FIELDS;
  else if (fields.length === 6) specs = [SECOND, ...FIVE_FIELDS];
  else return "must have 5 or 6 fields";
  for (let index = 0; index < fields.length; index++) {
    const problem = fieldProblem(fields[index] as string, specs[index] as FieldSpec);
    if (problem) return problem;
  }
  const [dom, month, dow] = fields.slice(-3) as [string, string, string];
  // With day-of-week unrestricted, day-of-month alone must fit some chosen month.
  if (dom !== "*" && dow === "*" && !someDayFits(dom, month)) return "never fires (no chosen month has that day)";
  return null;
}

const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function expand(field: string, spec: FieldSpec): Set<number> {
  const values = new Set<number>();
  for (const part of field.split(",")) {
    const [range = "*", stepText] = part.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    let low = spec.min;
    let high = spec.max;
    if (range !== "*") {
      const bounds = range.split("-").map((bound) => atom(bound, spec) as number);
      low = bounds[0] as number;
      high = bounds.length === 2 ? (bounds[1] as number) : stepText === undefined ? low : spec.max;
    }
    for (let value = low; value <= high; value += step) values.add(value);
  }
  return values;
}

function someDayFits(dom: string, month: string): boolean {
  const days = expand(dom, FIVE_FIELDS[2] as FieldSpec);
  const smallest = Math.min(...days);
  return [...expand(month, FIVE_FIELDS[3] as FieldSpec)].some((m) => (MONTH_DAYS[m - 1] as number) >= smallest);
}
