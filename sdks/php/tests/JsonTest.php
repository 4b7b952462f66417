<?php

declare(strict_types=1);

namespace Durable\Tests;

use Durable\Json;
use Durable\JsonObject;
use JsonException;
use PHPUnit\Framework\TestCase;

final class JsonTest extends TestCase
{
    /** @return array<string, array{string}> */
    public static function roundTrips(): array
    {
        return [
            'empty object' => ['{}'],
            'nested empty object' => ['{"a":{},"b":[{}],"c":{"d":{}}}'],
            'zero-keyed object' => ['{"0":"a","1":"b"}'],
            'float keeps fraction' => ['[1.0,2.5,-0.0,3]'],
            'unicode and slashes unescaped' => ['{"s":"é/中文/😀"}'],
            'line terminators raw' => ["[\"\u{2028}\u{2029}\"]"],
            'empty list' => ['{"a":[]}'],
            'mixed' => ['{"a":null,"b":true,"c":"x","d":[1,{"e":{}}]}'],
        ];
    }

    /** @dataProvider roundTrips */
    public function testDecodeEncodeIsIdentity(string $json): void
    {
        self::assertSame($json, Json::encode(Json::decode($json)));
    }

    public function testEmptyObjectBehavesLikeAnArray(): void
    {
        $value = Json::decode('{"data":{}}');
        self::assertInstanceOf(JsonObject::class, $value['data']);
        self::assertCount(0, $value['data']);
        self::assertNull($value['data']['missing'] ?? null);
    }

    public function testControlCharactersAreEscapedLikePython(): void
    {
        self::assertSame('"a\u0001\n\"\\\\"', Json::encode("a\x01\n\"\\"));
    }

    public function testNonFiniteNumbersAreRefused(): void
    {
        $this->expectException(JsonException::class);
        Json::encode(['x' => NAN]);
    }

    public function testInvalidUtf8IsRefused(): void
    {
        $this->expectException(JsonException::class);
        Json::encode("\xff");
    }

    public function testInvalidJsonThrows(): void
    {
        $this->expectException(JsonException::class);
        Json::decode('{"a":');
    }
}
