<?php

declare(strict_types=1);

namespace Durable\Tests;

use Durable\DurableFunction;
use Durable\FailureError;
use Durable\Handler;
use Durable\Json;
use Durable\NonRetriableError;
use Durable\Signature;
use Durable\Step;
use Durable\Tests\Support\Invoker;
use InvalidArgumentException;
use PHPUnit\Framework\TestCase;

final class HandlerTest extends TestCase
{
    private const KEY = 'handler-test-key';

    /** @param list<DurableFunction> $functions */
    private static function handler(array $functions, mixed ...$options): Handler
    {
        return new Handler($functions, self::KEY, ...$options);
    }

    /** @return array<string, mixed> */
    private static function op(Handler $handler, array $request, bool $v2 = true): array
    {
        $request += ['runId' => 'run-1', 'event' => ['name' => 'e', 'data' => []]];
        $response = (new Invoker($handler, self::KEY, $v2))->invoke($request);
        self::assertSame(200, $response->status, $response->body);
        return json_decode($response->body, true, 512, JSON_THROW_ON_ERROR);
    }

    private static function fn(string $id, callable $handler, mixed ...$options): DurableFunction
    {
        $required = ['id' => $id, 'trigger' => ['event' => "t.{$id}"], 'handler' => $handler];
        return new DurableFunction(...($required + $options));
    }

    public function testManifestRequiresAFreshSignedTimestamp(): void
    {
        $now = 1_767_225_600_000;
        $handler = self::handler([self::fn('a', fn () => 1)], clock: fn (): int => $now);
        $get = fn (string $ts, string $key = self::KEY) => $handler->handle(
            'GET',
            ['X-Durable-Timestamp' => $ts, 'X-Durable-Signature' => Signature::sign($ts, $key)],
            '',
        );
        $ok = $get((string) ($now - 1000));
        self::assertSame(200, $ok->status);
        self::assertSame(Signature::sign($ok->body, self::KEY), $ok->header('x-durable-signature'));
        $manifest = json_decode($ok->body, true);
        self::assertSame('php/' . \Durable\Protocol::VERSION, $manifest['sdkVersion']);
        self::assertMatchesRegularExpression('/^\d+\.\d+\.\d+$/', \Durable\Protocol::VERSION);
        self::assertSame(
            ['timestamped-signatures', 'key-rotation', 'step-occurrences', 'strict-replay', 'step-invoke', 'trace-context'],
            $manifest['capabilities'],
        );
        self::assertSame(1_048_576, $manifest['maxRequestBytes']);
        self::assertSame(401, $get((string) ($now - 300_001))->status);
        self::assertSame(401, $get((string) $now, 'other-key')->status);
        self::assertSame(401, $handler->handle('GET', [], '')->status);
    }

    public function testPlainV1ManifestHasNoCapabilities(): void
    {
        $handler = self::handler([self::fn('a', fn () => 1)], capabilities: []);
        self::assertSame(['functions', 'sdkVersion'], array_keys($handler->manifest()));
    }

    public function testManifestAnswerCarriesV2SignatureOnlyWhenTimestamped(): void
    {
        $now = 1_767_225_600_000;
        $ts = (string) ($now - 1000);
        $headers = ['X-Durable-Timestamp' => $ts, 'X-Durable-Signature' => Signature::sign($ts, self::KEY)];
        $fn = self::fn('a', fn () => 1);
        // A primary and a fallback key: the answer is signed with the primary ([KEY-3]).
        $v2 = self::handler([$fn], signingKeyFallback: 'old-key', clock: fn (): int => $now)
            ->handle('GET', $headers, '');
        self::assertSame(200, $v2->status);
        self::assertSame(Signature::signV2($ts, $v2->body, self::KEY), $v2->header('x-durable-signature-v2'));
        $v1 = self::handler([$fn], capabilities: [], clock: fn (): int => $now)->handle('GET', $headers, '');
        self::assertSame(200, $v1->status);
        self::assertNull($v1->header('x-durable-signature-v2'));
    }

    public function testDiscoveryOnlyInDevMode(): void
    {
        $fn = self::fn('a', fn () => 1);
        $dev = self::handler([$fn], dev: true, appId: 'app-1', appName: 'Shop');
        $answer = $dev->handle('GET', ['x-durable-discovery' => 'true'], '');
        self::assertSame(200, $answer->status);
        $body = json_decode($answer->body, true);
        self::assertSame([self::KEY, 'app-1', 'Shop'], [$body['signingKey'], $body['appId'], $body['appName']]);
        $prod = self::handler([$fn], appId: 'app-1');
        self::assertSame(401, $prod->handle('GET', ['x-durable-discovery' => 'true'], '')->status);
    }

    public function testHttpErrorsAreClear4xx(): void
    {
        $handler = self::handler([self::fn('a', fn () => 1)], maxRequestBytes: 65_536);
        $put = $handler->handle('PUT', [], '');
        self::assertSame([405, 'GET, POST'], [$put->status, $put->header('Allow')]);
        // 413 comes before the signature check.
        self::assertSame(413, $handler->handle('POST', [], str_repeat('x', 65_537))->status);
        $invoker = new Invoker($handler, self::KEY);
        $notJson = $invoker->invokeRaw('{nope');
        self::assertSame([400, 'invalid JSON'], [$notJson->status, $notJson->body]);
        $notObject = $invoker->invokeRaw('"text"');
        self::assertSame([400, 'invalid request'], [$notObject->status, $notObject->body]);
        $unsigned = $handler->handle('POST', [], '{}');
        self::assertSame([401, 'invalid signature'], [$unsigned->status, $unsigned->body]);
        self::assertNull($unsigned->header('X-Durable-Signature'), 'a 401 is not signed');
        $this->expectException(InvalidArgumentException::class);
        self::handler([], maxRequestBytes: 65_535);
    }

    /** @return array<string, array{string, string}> */
    public static function malformedRequests(): array
    {
        return [
            'no functionId' => [
                '{"runId":"r","event":{}}',
                '{"op":"error","id":null,"message":"unknown function ?","retryable":false}',
            ],
            'numeric functionId' => [
                '{"functionId":5}',
                '{"op":"error","id":null,"message":"unknown function 5","retryable":false}',
            ],
            'numeric runId' => ['{"functionId":"a","runId":7,"event":{}}', 'runId'],
            'events of scalars' => ['{"functionId":"a","runId":"r","event":{},"events":[1]}', 'events'],
            'event not an object' => ['{"functionId":"a","runId":"r","event":3}', 'event'],
            'memo not an object' => ['{"functionId":"a","runId":"r","event":{},"steps":{"x":1}}', 'steps.x'],
            'negative attempt' => ['{"functionId":"a","runId":"r","event":{},"attempt":-1}', 'attempt'],
        ];
    }

    /** @dataProvider malformedRequests */
    public function testMalformedMembersGetOneNonRetryableOp(string $body, string $expected): void
    {
        $answer = (new Invoker(self::handler([self::fn('a', fn () => 1)]), self::KEY))->invokeRaw($body);
        self::assertSame(200, $answer->status);
        if (str_starts_with($expected, '{')) {
            self::assertSame($expected, $answer->body);
            return;
        }
        $op = json_decode($answer->body, true);
        self::assertSame(
            ['error', null, 'InvalidRequestError', false],
            [$op['op'], $op['id'], $op['name'], $op['retryable']],
        );
        self::assertStringContainsString($expected, $op['message']);
    }

    public function testTimestampedInvokeNeedsBothSignaturesAndAFreshTimestamp(): void
    {
        $handler = self::handler([self::fn('a', fn () => 'ok')]);
        $body = '{"functionId":"a","runId":"r","event":{"name":"e"}}';
        $fresh = Invoker::headers($body, self::KEY, true);
        $answer = $handler->handle('POST', $fresh, $body);
        self::assertSame(200, $answer->status);
        self::assertSame(
            Signature::signV2($fresh['X-Durable-Timestamp'], $answer->body, self::KEY),
            $answer->header('X-Durable-Signature-V2'),
        );
        self::assertSame(401, $handler->handle('POST', Invoker::headers($body, self::KEY, false), $body)->status);
        $stale = Invoker::headers($body, self::KEY, true, Signature::nowMs() - 400_000);
        self::assertSame(401, $handler->handle('POST', $stale, $body)->status);
        // A v1 app ignores the V2 headers and answers without a V2 signature.
        $v1 = self::handler([self::fn('a', fn () => 'ok')], capabilities: []);
        $plain = $v1->handle('POST', Invoker::headers($body, self::KEY, false), $body);
        self::assertSame(200, $plain->status);
        self::assertNull($plain->header('X-Durable-Signature-V2'));
    }

    public function testKeyRotationAcceptsTheFallbackAndSignsWithThePrimary(): void
    {
        $handler = new Handler([self::fn('a', fn () => 'ok')], 'new-key', signingKeyFallback: 'old-key');
        $body = '{"functionId":"a","runId":"r","event":{"name":"e"}}';
        foreach (['old-key', 'new-key'] as $key) {
            $answer = $handler->handle('POST', Invoker::headers($body, $key, true), $body);
            self::assertSame(200, $answer->status, $key);
            self::assertSame(Signature::sign($answer->body, 'new-key'), $answer->header('X-Durable-Signature'));
        }
        self::assertSame(401, $handler->handle('POST', Invoker::headers($body, 'third-key', true), $body)->status);
    }

    public function testStepContextAttemptRunIdAndBatchEvents(): void
    {
        $seen = null;
        $fn = self::fn('ctx', function (array $event, Step $step) use (&$seen) {
            $seen = [$step->attempt(), $step->runId(), $step->functionId(), count($step->events())];
            return 'ok';
        });
        $events = [['name' => 'e'], ['name' => 'e']];
        $request = ['functionId' => 'ctx', 'runId' => 'run-9', 'attempt' => 2, 'events' => $events];
        self::op(self::handler([$fn]), $request);
        self::assertSame([2, 'run-9', 'ctx', 2], $seen);
        self::op(self::handler([$fn]), ['functionId' => 'ctx']);
        self::assertSame([0, 'run-1', 'ctx', 1], $seen);
    }

    public function testEmptyObjectsSurviveTheRoundTrip(): void
    {
        $fn = self::fn('obj', function (array $event, Step $step) {
            $memo = $step->run('s', fn () => new \stdClass());
            return ['memo' => $memo, 'data' => $event['data']];
        });
        $handler = self::handler([$fn]);
        $invoker = new Invoker($handler, self::KEY);
        $first = '{"functionId":"obj","runId":"r","event":{"name":"e","data":{}}}';
        self::assertSame('{"op":"step","id":"s","data":{}}', $invoker->invokeRaw($first)->body);
        $replay = '{"functionId":"obj","runId":"r","event":{"name":"e","data":{}},'
            . '"steps":{"s":{"type":"run","data":{}}}}';
        self::assertSame('{"op":"done","data":{"memo":{},"data":{}}}', $invoker->invokeRaw($replay)->body);
    }

    public function testFloatsKeepTheirFraction(): void
    {
        $fn = self::fn('f', fn (array $event, Step $step) => $step->run('x', fn () => ['a' => 1.0, 'b' => 0.1 + 0.2]));
        $invoker = new Invoker(self::handler([$fn]), self::KEY);
        $body = $invoker->invokeRaw('{"functionId":"f","runId":"r","event":{"name":"e"}}')->body;
        self::assertSame('{"op":"step","id":"x","data":{"a":1.0,"b":0.30000000000000004}}', $body);
    }

    public function testSwallowedInterruptCannotChangeTheAnswer(): void
    {
        $fn = self::fn('greedy', function (array $event, Step $step) {
            try {
                $step->run('first', fn () => 1);
            } catch (\Throwable) {
                // A user catching everything must not skip the step.
            }
            $step->run('second', fn () => 2);
            return 'wrong';
        });
        $op = self::op(self::handler([$fn]), ['functionId' => 'greedy']);
        self::assertSame(['op' => 'step', 'id' => 'first', 'data' => 1], $op);
    }

    public function testNestedStepsAreRefused(): void
    {
        $fn = self::fn(
            'nested',
            fn (array $event, Step $step) => $step->run('outer', fn () => $step->run('inner', fn () => 1)),
        );
        $op = self::op(self::handler([$fn]), ['functionId' => 'nested']);
        self::assertSame(
            ['error', 'outer', false, 'NESTED_STEP'],
            [$op['op'], $op['id'], $op['retryable'], $op['code']],
        );
    }

    public function testErrorDetailsAreTruncatedOver64KiB(): void
    {
        $fn = self::fn('details', fn (array $event, Step $step) => $step->run(
            's',
            fn () => throw new NonRetriableError('big', details: str_repeat('x', 70_000)),
        ));
        $op = self::op(self::handler([$fn]), ['functionId' => 'details']);
        self::assertSame(['truncated' => true, 'reason' => 'error details exceed 64 KiB'], $op['details']);
        self::assertFalse($op['retryable']);
    }

    public function testOccurrencesOffInPlainV1ReuseTheFirstMemo(): void
    {
        $fn = self::fn('loop', function (array $event, Step $step) {
            return [$step->run('item', fn () => 'a'), $step->run('item', fn () => 'b')];
        });
        $request = ['functionId' => 'loop', 'steps' => ['item' => ['type' => 'run', 'data' => 'a']]];
        $v1 = self::op(self::handler([$fn], capabilities: []), $request, false);
        self::assertSame(['op' => 'done', 'data' => ['a', 'a']], $v1);
        self::assertSame(['op' => 'step', 'id' => 'item#2', 'data' => 'b'], self::op(self::handler([$fn]), $request));
    }

    public function testStrictReplayMessageAndV1Fallback(): void
    {
        $fn = self::fn('m', fn (array $event, Step $step) => $step->run('x', fn () => 1));
        $request = ['functionId' => 'm', 'steps' => ['x' => ['type' => 'sleep', 'data' => null]]];
        $strict = self::op(self::handler([$fn]), $request);
        self::assertSame('step "x" was memoized as sleep, not run', $strict['message']);
        $v1 = self::op(self::handler([$fn], capabilities: []), $request, false);
        self::assertSame([null, true], [$v1['id'], $v1['retryable']]);
        self::assertArrayNotHasKey('code', $v1);
    }

    public function testWaitSendAndSleepOps(): void
    {
        $fn = self::fn('ops', function (array $event, Step $step) {
            $step->sendEvent('many', [['name' => 'x', 'data' => []], ['name' => 'y', 'data' => ['k' => 1]]]);
            $got = $step->waitForEvent('w', ['event' => 'approved', 'timeout' => 1000, 'match' => []]);
            $step->sleep('s', 500);
            return $got;
        });
        $handler = self::handler([$fn]);
        self::assertSame(
            '{"op":"sendEvent","id":"many","events":[{"name":"x","data":{}},{"name":"y","data":{"k":1}}]}',
            (new Invoker($handler, self::KEY))->invoke(['functionId' => 'ops', 'runId' => 'r', 'event' => []])->body,
        );
        $before = Signature::nowMs();
        $sent = ['many' => ['type' => 'sendEvent', 'data' => []]];
        $wait = self::op($handler, ['functionId' => 'ops', 'steps' => $sent]);
        self::assertSame(['op', 'id', 'event', 'match', 'until'], array_keys($wait));
        self::assertSame([], $wait['match']);
        $until = (int) (new \DateTimeImmutable($wait['until']))->format('Uv');
        self::assertEqualsWithDelta($before + 1000, $until, 2000);
        $memos = $sent + ['w' => ['type' => 'wait', 'data' => null], 's' => ['type' => 'sleep', 'data' => null]];
        $done = self::op($handler, ['functionId' => 'ops', 'steps' => $memos]);
        self::assertSame(['op' => 'done', 'data' => null], $done);
    }

    public function testInvalidStepUseIsAnErrorOpNotACrash(): void
    {
        $fn = self::fn('bad', fn (array $event, Step $step) => $step->sleep('s', 'forever'));
        $op = self::op(self::handler([$fn]), ['functionId' => 'bad']);
        // [ERR-8]: the SDK's own error for a wrongly declared step: non-retriable, with a code.
        self::assertSame(
            ['error', null, false, 'NonRetriableError', 'INVALID_DURATION'],
            [$op['op'], $op['id'], $op['retryable'], $op['name'], $op['code']],
        );
        self::assertStringContainsString('invalid duration', $op['message']);
        $badMatch = self::fn('match', fn (array $event, Step $step) => $step->waitForEvent('w', [
            'event' => 'e',
            'timeout' => '1h',
            'match' => ['user..id' => 1],
        ]));
        $op = self::op(self::handler([$badMatch]), ['functionId' => 'match']);
        self::assertStringContainsString('match key "user..id"', $op['message']);
        $tooMany = self::fn('many', fn (array $event, Step $step) => $step->parallel('p', []));
        $op = self::op(self::handler([$tooMany]), ['functionId' => 'many']);
        self::assertSame(['INVALID_PARALLEL', false], [$op['code'], $op['retryable']]);
    }

    public function testOnFailureReceivesTheFailure(): void
    {
        $onFailure = function (array $event, Step $step, FailureError $failure, string $runId) {
            return [
                $failure->getMessage(),
                $failure->name,
                $failure->errorCode,
                $failure->stepId,
                $failure->details,
                $runId,
            ];
        };
        $fn = self::fn('f', fn () => null, onFailure: $onFailure);
        $failure = ['message' => 'm', 'name' => 'N', 'code' => 'C', 'stepId' => 's', 'details' => ['d' => 1]];
        $op = self::op(self::handler([$fn]), ['functionId' => 'f', 'failure' => $failure]);
        self::assertSame(['op' => 'done', 'data' => ['m', 'N', 'C', 's', ['d' => 1], 'run-1']], $op);
    }

    public function testUnserializableResultIsANonRetryableError(): void
    {
        $fn = self::fn('nan', fn () => NAN);
        $op = self::op(self::handler([$fn]), ['functionId' => 'nan']);
        $message = 'workflow response is not serializable or exceeds the response limit';
        self::assertSame(['op' => 'error', 'id' => null, 'message' => $message, 'retryable' => false], $op);
    }

    public function testDuplicateRuntimeIdsAreRefused(): void
    {
        $this->expectException(InvalidArgumentException::class);
        self::handler([self::fn('a', fn () => 1), self::fn('a', fn () => 2)]);
    }

    public function testHeadersFromServer(): void
    {
        self::assertSame(
            ['x-durable-signature' => 'abc', 'content-type' => 'application/json'],
            Handler::headersFromServer([
                'HTTP_X_DURABLE_SIGNATURE' => 'abc',
                'CONTENT_TYPE' => 'application/json',
                'argv' => [],
            ]),
        );
    }

    public function testEmptyStepsObjectIsAccepted(): void
    {
        $invoker = new Invoker(self::handler([self::fn('a', fn () => 1)]), self::KEY);
        $body = '{"functionId":"a","runId":"r","event":{"name":"e"},"steps":{}}';
        self::assertSame('{"op":"done","data":1}', $invoker->invokeRaw($body)->body);
    }
}
