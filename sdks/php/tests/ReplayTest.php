<?php

declare(strict_types=1);

namespace Durable\Tests;

use Durable\Handler;
use Durable\Json;
use Durable\Protocol;
use Durable\Signature;
use Durable\Tests\Support\Catalog;
use Durable\Tests\Support\Invoker;
use Durable\Tests\Support\JsonAssert;
use Durable\Tests\Support\Vectors;
use PHPUnit\Framework\TestCase;
use stdClass;

/** Every replay transcript of spec/vectors/replay through the handler and the conformance catalog. */
final class ReplayTest extends TestCase
{
    private const KEY = 'replay-test-key';

    /** @dataProvider vectorCases */
    public function testSpecVector(?stdClass $case): void
    {
        if ($case === null) {
            self::markTestSkipped('spec/vectors/replay has no files yet');
        }
        $required = $case->capabilities ?? [];
        $unknown = array_diff($required, Protocol::CAPABILITIES);
        self::assertEmpty($unknown, 'the SDK implements every capability a case uses');
        // Protocol v1 cases must pass with and without capabilities; the others with them.
        $modes = $required === [] ? ['all' => null, 'v1' => []] : ['all' => null];
        if (($case->withoutCapabilities ?? []) !== []) {
            $modes = ['v1' => []];
        }
        foreach ($modes as $mode => $capabilities) {
            $this->runCase($case, $capabilities, "{$case->id} [{$mode}]");
        }
    }

    /** @return array<string, array{0: stdClass|null}> */
    public static function vectorCases(): array
    {
        return Vectors::objectCases('replay');
    }

    /** @param list<string>|null $capabilities */
    private function runCase(stdClass $case, ?array $capabilities, string $label): void
    {
        $handler = new Handler(Catalog::functions(), self::KEY, capabilities: $capabilities);
        $v2 = in_array(Protocol::CAP_TIMESTAMPED_SIGNATURES, $handler->capabilities(), true);
        $body = $case->rawBody ?? Json::encode($case->request);
        $headers = isset($case->headers) ? (array) $case->headers : Invoker::headers($body, self::KEY, $v2);
        $invokedAt = Signature::nowMs();
        $response = $handler->handle($case->method ?? 'POST', $headers, $body);
        if (isset($case->expectStatus)) {
            self::assertSame($case->expectStatus, $response->status, "{$label}: {$response->body}");
            return;
        }
        self::assertSame(200, $response->status, "{$label}: {$response->body}");
        self::assertSame(Signature::sign($response->body, self::KEY), $response->header('X-Durable-Signature'), $label);
        if ($v2) {
            self::assertSame(
                Signature::signV2($headers['X-Durable-Timestamp'], $response->body, self::KEY),
                $response->header('X-Durable-Signature-V2'),
                $label,
            );
        }
        $actual = json_decode($response->body, false, 512, JSON_THROW_ON_ERROR);
        self::assertSame('op', array_key_first(get_object_vars($actual)), "{$label}: op comes first");
        $expected = JsonAssert::resolveMarkers($case->expect, $actual, $invokedAt);
        self::assertNull(JsonAssert::difference($expected, $actual), "{$label}: {$response->body}");
    }
}
