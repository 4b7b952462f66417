/** Durations: "<int><ms|s|m|h|d>" or a non-negative integer of milliseconds. */

export type DurationUnit = "ms" | "s" | "m" | "h" | "d";
export type Duration = number | `${number}${DurationUnit}`;

const UNITS: Record<DurationUnit, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const PATTERN = /^([0-9]+)(ms|s|m|h|d)$/;

export class InvalidDurationError extends TypeError {
  override name = "InvalidDurationError";
}

/** Milliseconds of a duration; throws InvalidDurationError for anything else. */
export function parseDuration(value: unknown): number {
  if (typeof value === "number") {
    if (Number.isSafeInteger(value) && value >= 0) return value;
    throw new InvalidDurationError(`invalid duration: ${String(value)}`);
  }
  if (typeof value === "string") {
    const found = PATTERN.exec(value);
    if (found) {
      const ms = Number(found[1]) * UNITS[found[2] as DurationUnit];
      if (Number.isSafeInteger(ms)) return ms;
    }
  }
  throw new InvalidDurationError(`invalid duration: ${JSON.stringify(value) ?? String(value)}`);
}
