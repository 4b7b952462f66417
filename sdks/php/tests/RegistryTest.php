<?php

declare(strict_types=1);

namespace Durable\Tests;

use Durable\Protocol;
use Durable\Signature;
use Durable\Tests\Support\Vectors;
use PHPUnit\Framework\TestCase;

/** The SDK's constants agree with spec/registry.json. */
final class RegistryTest extends TestCase
{
    /** @var array<string, mixed> */
    private array $registry;

    protected function setUp(): void
    {
        $file = Vectors::root() . '/registry.json';
        if (!is_file($file)) {
            self::markTestSkipped('spec/registry.json has not landed');
        }
        $this->registry = json_decode((string) file_get_contents($file), true, 512, JSON_THROW_ON_ERROR);
    }

    public function testHeaders(): void
    {
        $headers = $this->registry['headers'];
        self::assertSame($headers['signature'], Protocol::HEADER_SIGNATURE);
        self::assertSame($headers['signatureV2'], Protocol::HEADER_SIGNATURE_V2);
        self::assertSame($headers['timestamp'], Protocol::HEADER_TIMESTAMP);
        self::assertSame($headers['app'], Protocol::HEADER_APP);
        self::assertSame($headers['discovery'], Protocol::HEADER_DISCOVERY);
    }

    public function testOpsFieldOrderAndMemoTypes(): void
    {
        $ops = $this->registry['ops'];
        self::assertSame(array_keys($ops), array_keys(Protocol::OP_FIELDS));
        foreach ($ops as $name => $op) {
            self::assertSame($op['fields'], Protocol::OP_FIELDS[$name], $name);
        }
        self::assertSame('run', $ops[Protocol::OP_STEP]['memoType']);
        self::assertSame(
            $this->registry['memoTypes'],
            [Protocol::MEMO_RUN, Protocol::MEMO_SLEEP, Protocol::MEMO_WAIT, Protocol::MEMO_SEND_EVENT, Protocol::MEMO_INVOKE],
        );
    }

    public function testEveryRegisteredCapabilityIsImplemented(): void
    {
        self::assertEqualsCanonicalizing(array_keys($this->registry['capabilities']), Protocol::CAPABILITIES);
    }

    public function testErrorCodesUsedInOpsAreRegistered(): void
    {
        $codes = $this->registry['errorCodes'];
        foreach (
            [Protocol::CODE_NON_DETERMINISTIC, Protocol::CODE_MISSING_FAILURE_HANDLER,
            Protocol::CODE_INVALID_PARALLEL, Protocol::CODE_INVALID_EVENTS] as $code
        ) {
            self::assertArrayHasKey($code, $codes);
            self::assertSame('op', $codes[$code]['where'], $code);
            self::assertFalse($codes[$code]['retryable'], $code);
        }
    }

    public function testLimitsAndUnits(): void
    {
        $limits = $this->registry['limits'];
        self::assertSame($limits['timestampWindowMs'], Signature::WINDOW_MS);
        self::assertSame($limits['timestampWindowMs'], Protocol::TIMESTAMP_WINDOW_MS);
        self::assertSame($limits['appRequestBytesDefault'], Protocol::DEFAULT_MAX_REQUEST_BYTES);
        self::assertSame($limits['appResponseBytes'], Protocol::DEFAULT_MAX_RESPONSE_BYTES);
        self::assertSame($limits['errorDetailsBytes'], Protocol::MAX_ERROR_DETAILS_BYTES);
        self::assertSame($limits['eventsPerCall'], Protocol::MAX_EVENTS_PER_SEND);
        self::assertSame($limits['parallelTasks'], Protocol::MAX_PARALLEL_TASKS);
        self::assertSame($limits['maxDurationMs'], Protocol::MAX_DURATION_MS);
        self::assertSame($this->registry['durationUnits'], Protocol::DURATION_UNITS);
        self::assertSame($this->registry['stepIdOccurrenceSeparator'], Protocol::OCCURRENCE_SEPARATOR);
        self::assertSame($this->registry['protocolVersion'], Protocol::PROTOCOL_VERSION);
        self::assertSame($this->registry['defaults']['maxRequestBytes'], Protocol::DEFAULT_MAX_REQUEST_BYTES);
    }
}
