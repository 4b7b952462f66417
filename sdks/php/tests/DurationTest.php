<?php

declare(strict_types=1);

namespace Durable\Tests;

use Durable\Duration;
use Durable\Tests\Support\Vectors;
use InvalidArgumentException;
use PHPUnit\Framework\TestCase;

final class DurationTest extends TestCase
{
    /** @return array<string, array{string|int, int}> */
    public static function valid(): array
    {
        return [
            'ms' => ['250ms', 250], 's' => ['30s', 30_000], 'm' => ['5m', 300_000], 'h' => ['2h', 7_200_000],
            'd' => ['7d', 604_800_000], 'zero' => ['0s', 0], 'integer ms' => [1500, 1500], 'integer zero' => [0, 0],
        ];
    }

    /** @dataProvider valid */
    public function testValid(string|int $input, int $ms): void
    {
        self::assertSame($ms, Duration::toMs($input));
    }

    /** @return array<string, array{string|int}> */
    public static function invalid(): array
    {
        return [
            'negative' => [-1], 'no unit' => ['10'], 'unknown unit' => ['3w'], 'fraction' => ['1.5s'],
            'empty' => [''], 'sign' => ['-5s'], 'upper case' => ['5S'], 'words' => ['two days'],
            'over 2^53' => ['9007199254740992ms'],
        ];
    }

    /** @dataProvider invalid */
    public function testInvalid(string|int $input): void
    {
        $this->expectException(InvalidArgumentException::class);
        $this->expectExceptionMessage('invalid duration');
        Duration::toMs($input);
    }

    /**
     * @dataProvider vectorCases
     * @param array<string, mixed>|null $case
     */
    public function testSpecVector(?array $case): void
    {
        if ($case === null) {
            self::markTestSkipped('spec/vectors/durations has no files yet');
        }
        self::assertSame($case['valid'], Duration::isValid($case['input']), $case['description'] ?? $case['id']);
        if ($case['valid']) {
            self::assertSame($case['ms'], Duration::toMs($case['input']));
        }
    }

    /** @return array<string, array{0: array<string, mixed>|null}> */
    public static function vectorCases(): array
    {
        return Vectors::cases('durations');
    }
}
