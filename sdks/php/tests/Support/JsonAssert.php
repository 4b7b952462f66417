<?php

declare(strict_types=1);

namespace Durable\Tests\Support;

use stdClass;

/**
 * JSON equality over values decoded with objects (stdClass): numbers by value
 * (1 == 1.0), no coercion between types, objects by keys, arrays by order.
 */
final class JsonAssert
{
    /** @return string|null the path of the first difference */
    public static function difference(mixed $expected, mixed $actual, string $path = ''): ?string
    {
        $kind = static fn (mixed $v): string => match (true) {
            $v === null => 'null',
            is_bool($v) => 'bool',
            is_int($v) || is_float($v) => 'number',
            is_string($v) => 'string',
            is_array($v) => 'array',
            $v instanceof stdClass => 'object',
            default => get_debug_type($v),
        };
        if ($kind($expected) !== $kind($actual)) {
            return ($path ?: '/') . ': expected ' . $kind($expected) . ', got ' . $kind($actual);
        }
        if (is_array($expected)) {
            if (count($expected) !== count($actual)) {
                return ($path ?: '/') . ': array lengths differ';
            }
            foreach ($expected as $i => $item) {
                $found = self::difference($item, $actual[$i], "{$path}/{$i}");
                if ($found !== null) {
                    return $found;
                }
            }
            return null;
        }
        if ($expected instanceof stdClass) {
            $e = get_object_vars($expected);
            $a = get_object_vars($actual);
            $missing = array_diff_key($e, $a);
            $extra = array_diff_key($a, $e);
            if ($missing !== [] || $extra !== []) {
                $missing = implode(',', array_keys($missing));
                $extra = implode(',', array_keys($extra));
                return ($path ?: '/') . ": missing [{$missing}] extra [{$extra}]";
            }
            foreach ($e as $key => $item) {
                $found = self::difference($item, $a[$key], "{$path}/{$key}");
                if ($found !== null) {
                    return $found;
                }
            }
            return null;
        }
        if (is_int($expected) || is_float($expected)) {
            return $expected == $actual ? null : "{$path}: {$expected} != {$actual}";
        }
        if ($expected === $actual) {
            return null;
        }
        return ($path ?: '/') . ': ' . json_encode($expected) . ' != ' . json_encode($actual);
    }

    /**
     * Replaces the replay-vector markers in $expected by the actual values they accept
     * ({"$afterMs": N}, {"$type": "string"}), failing on values they do not accept.
     *
     * @return mixed the expectation with markers resolved
     */
    public static function resolveMarkers(mixed $expected, mixed $actual, int $invokedAtMs, string $path = ''): mixed
    {
        if ($expected instanceof stdClass) {
            $vars = get_object_vars($expected);
            if (count($vars) === 1 && array_key_exists('$afterMs', $vars)) {
                $iso = '/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/D';
                if (!is_string($actual) || preg_match($iso, $actual) !== 1) {
                    $shown = json_encode($actual);
                    throw new \UnexpectedValueException("{$path}: not an ISO-8601 UTC timestamp with ms: {$shown}");
                }
                $at = (int) (new \DateTimeImmutable($actual))->format('Uv');
                if (abs($at - ($invokedAtMs + $vars['$afterMs'])) > 5000) {
                    $after = $vars['$afterMs'];
                    throw new \UnexpectedValueException("{$path}: {$actual} is not invoke time + {$after} ms");
                }
                return $actual;
            }
            if (count($vars) === 1 && array_key_exists('$type', $vars)) {
                if ($vars['$type'] !== 'string' || !is_string($actual)) {
                    $type = get_debug_type($actual);
                    throw new \UnexpectedValueException("{$path}: expected a {$vars['$type']}, got {$type}");
                }
                return $actual;
            }
            $resolved = new stdClass();
            foreach ($vars as $key => $value) {
                $sub = ($actual instanceof stdClass && property_exists($actual, $key)) ? $actual->{$key} : null;
                $resolved->{$key} = self::resolveMarkers($value, $sub, $invokedAtMs, "{$path}/{$key}");
            }
            return $resolved;
        }
        if (is_array($expected)) {
            return array_map(
                fn (mixed $item, int|string $i): mixed => self::resolveMarkers(
                    $item,
                    is_array($actual) ? ($actual[$i] ?? null) : null,
                    $invokedAtMs,
                    "{$path}/{$i}",
                ),
                $expected,
                array_keys($expected),
            );
        }
        return $expected;
    }
}
