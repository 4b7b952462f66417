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
        $sets = [];
        foreach ($fields as $index => $field) {
            [$min, $max, $names] = $ranges[$index];
            $set = self::values($field, $min, $max, $names);
            if ($set === null) {
                return 'invalid field ' . ($index + 1) . " \"{$field}\"";
            }
            $sets[] = $set;
        }
        [$daysOfMonth, $months] = array_slice($sets, -3, 2);
        $dayOfWeek = $fields[count($fields) - 1];
        if ($dayOfWeek === '*' && !self::someDayExists($daysOfMonth, $months)) {
            return 'the day-of-month and month never meet (e.g. February 30)';
        }
        return null;
    }

    private static function isZone(string $zone): bool
    {
        static $zones = null;
        $zones ??= array_flip(DateTimeZone::listIdentifiers());
        return $zone === 'UTC' || isset($zones[$zone]);
    }

    /**
     * The values a field selects, or null when it is malformed.
     *
     * @param list<string> $names
     * @return array<int, true>|null
     */
    private static function values(string $field, int $min, int $max, array $names): ?array
    {
        $selected = [];
        foreach (explode(',', $field) as $item) {
            if (preg_match('/^(\*|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:\/(\d{1,2}))?$/D', $item, $m) !== 1) {
                return null;
            }
            $step = isset($m[2]) ? (int) $m[2] : 1;
            if ($step === 0) {
                return null;
            }
            if ($m[1] === '*') {
                [$from, $to] = [$min, $max];
            } else {
                $bounds = [];
                foreach (explode('-', $m[1]) as $bound) {
                    $value = self::value($bound, $min, $names);
                    if ($value === null || $value < $min || $value > $max) {
                        return null;
                    }
                    $bounds[] = $value;
                }
                // "a/n" means from a to the end of the range, every n.
                [$from, $to] = [$bounds[0], $bounds[1] ?? (isset($m[2]) ? $max : $bounds[0])];
                if ($from > $to) {
                    return null;
                }
            }
            for ($value = $from; $value <= $to; $value += $step) {
                $selected[$value] = true;
            }
        }
        return $selected;
    }

    /**
     * @param array<int, true> $days
     * @param array<int, true> $months
     */
    private static function someDayExists(array $days, array $months): bool
    {
        $lengths = [1 => 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        foreach (array_keys($months) as $month) {
            foreach (array_keys($days) as $day) {
                if ($day <= $lengths[$month]) {
                    return true;
                }
            }
        }
        return false;
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
