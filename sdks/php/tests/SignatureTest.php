<?php

declare(strict_types=1);

namespace Durable\Tests;

use Durable\Handler;
use Durable\Signature;
use Durable\Tests\Support\Vectors;
use PHPUnit\Framework\TestCase;

final class SignatureTest extends TestCase
{
    public function testKnownHmac(): void
    {
        // RFC 4231 test case 2.
        self::assertSame(
            '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
            Signature::sign('what do ya want for nothing?', 'Jefe'),
        );
        self::assertSame(Signature::sign('123.{}', 'k'), Signature::signV2('123', '{}', 'k'));
    }

    public function testWellFormed(): void
    {
        $good = Signature::sign('x', 'k');
        self::assertTrue(Signature::isWellFormed($good));
        self::assertFalse(Signature::isWellFormed(strtoupper($good)));
        self::assertFalse(Signature::isWellFormed(substr($good, 1)));
        self::assertFalse(Signature::isWellFormed(substr($good, 1) . 'g'));
        self::assertFalse(Signature::verify('x', strtoupper($good), ['k']));
    }

    public function testVerifyAcceptsEitherKeyDuringRotation(): void
    {
        $old = Signature::sign('body', 'old');
        $new = Signature::sign('body', 'new');
        self::assertTrue(Signature::verify('body', $old, ['new', 'old']));
        self::assertTrue(Signature::verify('body', $new, ['new', 'old']));
        self::assertFalse(Signature::verify('body', $old, ['new']));
        self::assertFalse(Signature::verify('body', null, ['new']));
    }

    public function testFreshness(): void
    {
        self::assertTrue(Signature::isFresh('1000000', 1_300_000));
        self::assertTrue(Signature::isFresh('1600000', 1_300_000));
        self::assertFalse(Signature::isFresh('999999', 1_300_000));
        self::assertFalse(Signature::isFresh('1600001', 1_300_000));
        foreach (['', 'abc', '-5', '+1300000', '1300000.0', ' 1300000', '1e6', null] as $bad) {
            self::assertFalse(Signature::isFresh($bad, 1_300_000), var_export($bad, true));
        }
    }

    /**
     * @dataProvider vectorCases
     * @param array<string, mixed>|null $case
     */
    public function testSpecVector(?array $case): void
    {
        if ($case === null) {
            self::markTestSkipped('spec/vectors/signatures has no files yet');
        }
        $label = $case['id'] . ': ' . ($case['description'] ?? '');
        self::assertSame($case['valid'], $this->verifies($case), $label);
        foreach ($case['expectedSignatures'] ?? [] as $header => $expected) {
            self::assertSame($expected, $this->produce($case, strtolower($header)), "{$label} ({$header})");
        }
    }

    /** @return array<string, array{0: array<string, mixed>|null}> */
    public static function vectorCases(): array
    {
        return Vectors::cases('signatures');
    }

    /** @param array<string, mixed> $case */
    private function verifies(array $case): bool
    {
        $headers = array_change_key_case($case['headers'] ?? [], CASE_LOWER);
        $keys = $case['keys'];
        $body = $case['body'] ?? '';
        $now = $case['now'] ?? Signature::nowMs();
        $timestamp = $headers['x-durable-timestamp'] ?? null;
        $handler = fn (bool $v2): Handler => new Handler(
            [],
            signingKey: $keys[0],
            signingKeyFallback: $keys[1] ?? null,
            capabilities: $v2 ? null : [],
            clock: static fn (): int => $now,
        );
        return match ($case['hop']) {
            // The app side is verified through the real handler: anything but 401 means accepted.
            'invoke' => $handler(false)->handle('POST', $headers, $body)->status !== 401,
            'invoke-v2' => $handler(true)->handle('POST', $headers, $body)->status !== 401,
            'manifest' => $handler(true)->handle('GET', $headers, '')->status !== 401,
            'response' => Signature::verify($body, $headers['x-durable-signature'] ?? null, $keys),
            'response-v2' => Signature::verify(
                ($case['requestTimestamp'] ?? '') . '.' . $body,
                $headers['x-durable-signature-v2'] ?? null,
                $keys,
            ),
            'api' => isset($headers['x-durable-app'])
                && Signature::verify($body, $headers['x-durable-signature'] ?? null, $keys),
            'api-v2' => isset($headers['x-durable-app'])
                && ($timestamp !== null && isset($headers['x-durable-signature-v2']))
                ? Signature::isFresh($timestamp, $now)
                    && Signature::verify($timestamp . '.' . $body, $headers['x-durable-signature-v2'], $keys)
                : Signature::verify($body, $headers['x-durable-signature'] ?? null, $keys),
            default => self::fail("unknown hop {$case['hop']}"),
        };
    }

    /** @param array<string, mixed> $case */
    private function produce(array $case, string $header): string
    {
        $key = $case['signingKey'];
        $body = $case['body'] ?? '';
        if ($header === 'x-durable-signature') {
            return Signature::sign($case['hop'] === 'manifest' ? (string) $case['timestamp'] : $body, $key);
        }
        if ($header === 'x-durable-signature-v2') {
            $timestamp = $case['hop'] === 'response-v2' ? $case['requestTimestamp'] : $case['timestamp'];
            return Signature::signV2((string) $timestamp, $body, $key);
        }
        self::fail("unexpected header {$header}");
    }
}
