<?php

declare(strict_types=1);

namespace Durable\Tests\Support;

/** Loads spec/vectors/<area>/*.json; new files are picked up by the glob. */
final class Vectors
{
    public const NONE = '(no vectors yet)';

    public static function root(): string
    {
        return dirname(__DIR__, 4) . '/spec';
    }

    /**
     * Data-provider rows: case id => [case]. When the area has no vectors yet a single
     * NONE row is returned, which tests mark skipped (an empty provider is an error).
     *
     * @return array<string, array{0: array<string, mixed>|null}>
     */
    public static function cases(string $area): array
    {
        $rows = [];
        foreach (glob(self::root() . "/vectors/{$area}/*.json") ?: [] as $file) {
            $content = json_decode((string) file_get_contents($file), true, 512, JSON_THROW_ON_ERROR);
            foreach ($content['cases'] ?? [] as $case) {
                $rows[basename($file) . ': ' . $case['id']] = [$case];
            }
        }
        return $rows === [] ? [self::NONE => [null]] : $rows;
    }

    /**
     * The raw JSON text of each case, so tests can decode with objects where `{}` matters.
     *
     * @return array<string, array{0: \stdClass|null}>
     */
    public static function objectCases(string $area): array
    {
        $rows = [];
        foreach (glob(self::root() . "/vectors/{$area}/*.json") ?: [] as $file) {
            $content = json_decode((string) file_get_contents($file), false, 512, JSON_THROW_ON_ERROR);
            foreach ($content->cases ?? [] as $case) {
                $rows[basename($file) . ': ' . $case->id] = [$case];
            }
        }
        return $rows === [] ? [self::NONE => [null]] : $rows;
    }
}
