<?php

declare(strict_types=1);

namespace Durable;

use InvalidArgumentException;

/** Durations: `"<int><ms|s|m|h|d>"` or a non-negative integer of milliseconds. */
final class Duration
{
    private const UNITS = ['ms' => 1, 's' => 1_000, 'm' => 60_000, 'h' => 3_600_000, 'd' => 86_400_000];

    private function __construct()
    {
    }

    /** @throws InvalidArgumentException naming the bad value */
    public static function toMs(string|int $value): int
    {
        if (is_int($value)) {
            if ($value < 0 || $value > Protocol::MAX_DURATION_MS) {
                $max = Protocol::MAX_DURATION_MS;
                throw new InvalidArgumentException("invalid duration: {$value} (must be 0 to {$max} ms)");
            }
            return $value;
        }
        if (preg_match('/^(\d{1,16})(ms|s|m|h|d)$/D', $value, $match) !== 1) {
            throw new InvalidArgumentException(
                'invalid duration: ' . json_encode($value) . ' (expected e.g. "500ms", "30s", "5m", "2h", "7d")'
            );
        }
        $ms = (int) $match[1] * self::UNITS[$match[2]];
        if (!is_int($ms) || $ms > Protocol::MAX_DURATION_MS) {
            throw new InvalidArgumentException('invalid duration: ' . json_encode($value) . ' (too large)');
        }
        return $ms;
    }

    public static function isValid(mixed $value): bool
    {
        if (!is_int($value) && !is_string($value)) {
            return false;
        }
        try {
            self::toMs($value);
            return true;
        } catch (InvalidArgumentException) {
            return false;
        }
    }
}
