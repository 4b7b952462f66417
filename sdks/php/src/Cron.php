<?php

declare(strict_types=1);

namespace Durable;

use DateTimeZone;

/**
 * Syntax check of a cron trigger: `"[TZ=<IANA zone> ]<fields>"`, five fields
 * (minute hour day-of-month month day-of-week) or six with seconds first.
 * Schedules are computed by the engine; the SDK only refuses what the engine would.
 */
final class Cron
{
    private const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
    private const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

    private function __construct()
    {
    }

    /** @return string|null why the expression is invalid, or null when it is valid */
    public static function problem(string $expr): ?string
    {
        $rest = $expr;
        if (str_starts_with($rest, 'TZ=')) {
            $space = strpos($rest, ' ');
            if ($space === false) {
                return 'TZ= prefix without fields';
            }
            $zone = substr($rest, 3, $space - 3);
            if (!self::isZone($zone)) {
                return "unknown time zone \"{$zone}\"";
            }
            $rest = substr($rest, $space + 1);
        }
        $fields = preg_split('/ +/', trim($rest));
        if ($fields === false || trim($rest) === '' || !in_array(count($fields), [5, 6], true)) {
            return 'expected 5 fields, or 6 with seconds first';
        }
        $ranges = [[0, 59, []], [0, 23, []], [1, 31, []], [1, 12, self::MONTHS], [0, 7, self::DAYS]];
        if (count($fields) === 6) {
            array_unshift($ranges, [0, 59, []]);
        }
        foreach ($fields as $index => $field) {
            [$min, $max, $names] = $ranges[$index];
            if (!self::validField($field, $min, $max, $names)) {
                return 'invalid field ' . ($index + 1) . " \"{$field}\"";
            }
        }
        return null;
    }

    private static function isZone(string $zone): bool
    {
        static $zones = null;
        $zones ??= array_flip(DateTimeZone::listIdentifiers());
        return $zone === 'UTC' || isset($zones[$zone]);
    }

    /** @param list<string> $names */
    private static function validField(string $field, int $min, int $max, array $names): bool
    {
        foreach (explode(',', $field) as $item) {
            if (preg_match('/^(\*|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:\/(\d{1,2}))?$/D', $item, $m) !== 1) {
                return false;
            }
            if (isset($m[2]) && (int) $m[2] === 0) {
                return false;
            }
            if ($m[1] === '*') {
                continue;
            }
            $bounds = explode('-', $m[1]);
            $values = [];
            foreach ($bounds as $bound) {
                $value = self::value($bound, $min, $names);
                if ($value === null || $value < $min || $value > $max) {
                    return false;
                }
                $values[] = $value;
            }
            if (count($values) === 2 && $values[0] > $values[1]) {
                return false;
            }
        }
        return true;
    }

    /** @param list<string> $names */
    private static function value(string $token, int $min, array $names): ?int
    {
        if (ctype_digit($token)) {
            return (int) $token;
        }
        $index = array_search(strtoupper($token), $names, true);
        return $index === false ? null : $index + $min;
    }
}
