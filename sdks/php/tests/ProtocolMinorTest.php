<?php

declare(strict_types=1);

namespace Durable\Tests;

use Durable\DefinitionError;
use Durable\DurableFunction;
use Durable\Handler;
use Durable\Tests\Support\Invoker;
use PHPUnit\Framework\TestCase;

/** Protocol 1.1 definition members: cancelOn, idempotency, singleton (wire-protocol §19.2-19.4). */
final class ProtocolMinorTest extends TestCase
{
    public function testTheReadmeExampleGivesTheWireMembers(): void
    {
        $readme = (string) file_get_contents(dirname(__DIR__) . '/README.md');
        self::assertSame(1, preg_match('/### Cancel on event.*?```php\n(.*?)```/s', $readme, $match));
        $code = preg_replace('/^use .*;$/m', '', $match[1]);
        $run = static function (string $code): array {
            eval('use Durable\DurableFunction; use Durable\Step; ' . $code);
            /** @var DurableFunction $fulfilOrder */
            /** @var DurableFunction $report */
            return [$fulfilOrder, $report];
        };
        [$fulfil, $report] = $run((string) $code);
        $definition = $fulfil->definition();
        self::assertSame([['event' => 'order.refunded', 'match' => ['orderId' => 'order.id'],
            'timeoutMs' => 7 * 86_400_000]], $definition['cancelOn']);
        self::assertSame(['key' => 'order.id', 'periodMs' => 86_400_000], $definition['idempotency']);
        self::assertArrayNotHasKey('singleton', $definition);
        self::assertSame(['key' => 'tenantId', 'mode' => 'skip'], $report->definition()['singleton']);
    }

    public function testMembersAreLeftOutUnlessSet(): void
    {
        $definition = (new DurableFunction(id: 'f', trigger: ['event' => 'e'], handler: fn () => 1))->definition();
        foreach (['cancelOn', 'idempotency', 'singleton'] as $member) {
            self::assertArrayNotHasKey($member, $definition); // [MINOR-2]
        }
    }

    /** @return array<string, array{array<string, mixed>, string}> */
    public static function badOptions(): array
    {
        return [
            'no rules' => [['cancelOn' => []], '/cancelOn'],
            'bad path' => [['cancelOn' => [['event' => 'x', 'match' => ['a' => 'b..c']]]], '/cancelOn/0/match/a'],
            'bad timeout' => [['cancelOn' => [['event' => 'x', 'timeout' => 'soon']]], '/cancelOn/0/timeout'],
            'no key' => [['idempotency' => ['period' => '1h']], '/idempotency'],
            'bad mode' => [['singleton' => ['mode' => 'queue']], '/singleton/mode'],
            'with debounce' => [['singleton' => ['mode' => 'skip'], 'debounce' => ['period' => '1s']], '/singleton'],
        ];
    }

    /**
     * @dataProvider badOptions
     * @param array<string, mixed> $options
     */
    public function testBadOptionsNameTheField(array $options, string $path): void
    {
        try {
            new DurableFunction(...['id' => 'f', 'trigger' => ['event' => 'e'], 'handler' => fn () => 1, ...$options]);
            self::fail('accepted');
        } catch (DefinitionError $error) {
            self::assertSame($path, $error->path);
        }
    }

    private const KEY = 'p11-key';
    private const TRACE = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

    /**
     * @param list<DurableFunction> $functions
     * @param array<string, mixed> $request
     * @return array<string, mixed>
     */
    private static function op(array $functions, array $request, mixed ...$options): array
    {
        $handler = new Handler($functions, self::KEY, ...$options);
        $body = ['runId' => 'r', 'event' => ['name' => 'go', 'data' => ['cartId' => 'k1']], 'steps' => new \stdClass()];
        $answer = (new Invoker($handler, self::KEY))->invoke([...$body, ...$request]);
        return json_decode($answer->body, true);
    }

    private static function checkout(): DurableFunction
    {
        $readme = (string) file_get_contents(dirname(__DIR__) . '/README.md');
        self::assertSame(1, preg_match('/### Child functions.*?```php\n(.*?)```/s', $readme, $match));
        $code = preg_replace('/^use .*;$/m', '', $match[1]);
        $run = static function (string $code): DurableFunction {
            eval('use Durable\DurableFunction; use Durable\InvokeError; use Durable\Step; ' . $code);
            /** @var DurableFunction $checkout */
            return $checkout;
        };
        return $run((string) $code);
    }

    public function testTheInvokeExampleInvokesThenReturnsOrHandlesTheTimeout(): void
    {
        $op = self::op([self::checkout()], ['functionId' => 'checkout']);
        self::assertSame(['invoke', 'charge', 'charge-card', null, ['cartId' => 'k1']],
            [$op['op'], $op['id'], $op['function'], $op['app'], $op['data']]);
        self::assertMatchesRegularExpression('/Z$/', $op['until']);
        $done = ['type' => 'invoke', 'data' => ['runId' => 'c', 'status' => 'completed', 'output' => ['amount' => 12]]];
        self::assertSame(['op' => 'done', 'data' => ['charged' => 12]],
            self::op([self::checkout()], ['functionId' => 'checkout', 'steps' => ['charge' => $done]]));
        $late = ['type' => 'invoke', 'data' => ['runId' => 'c', 'status' => 'timedOut',
            'error' => ['name' => 'DurableError', 'code' => 'INVOKE_TIMEOUT', 'message' => 'too slow']]];
        self::assertSame(['op' => 'done', 'data' => ['charged' => 0, 'retryLater' => true]],
            self::op([self::checkout()], ['functionId' => 'checkout', 'steps' => ['charge' => $late]]));
    }

    public function testAnUncaughtInvokeErrorFailsAtTheInvokeStep(): void
    {
        $error = ['name' => 'Error', 'message' => 'no stock'];
        $failed = ['type' => 'invoke', 'data' => ['runId' => 'c', 'status' => 'failed', 'error' => $error]];
        $op = self::op([self::checkout()], ['functionId' => 'checkout', 'steps' => ['charge' => $failed]]);
        self::assertSame(['op' => 'error', 'id' => 'charge', 'message' => 'no stock', 'name' => 'InvokeError',
            'code' => 'INVOKE_FAILED', 'details' => ['runId' => 'c', 'status' => 'failed', 'error' => $error],
            'retryable' => false], $op);
    }

    public function testInvokeIsRefusedWithTheCapabilityOff(): void
    {
        $op = self::op([self::checkout()], ['functionId' => 'checkout'], capabilities: ['strict-replay']);
        self::assertSame(['error', 'CAPABILITY_OFF', false], [$op['op'], $op['code'], $op['retryable']]);
    }

    public function testSentEventsContinueTheTrace(): void
    {
        $own = '00-' . str_repeat('1', 32) . '-' . str_repeat('2', 16) . '-01';
        $sender = new DurableFunction(
            id: 'sender',
            trigger: ['event' => 'go'],
            handler: function (array $event, \Durable\Step $step) use ($own) {
                $step->sendEvent('out', [['name' => 'a'], ['name' => 'b', 'traceparent' => $own]]);
                return $step->traceparent();
            },
        );
        $op = self::op([$sender], ['functionId' => 'sender', 'traceparent' => self::TRACE]);
        self::assertSame([['name' => 'a', 'traceparent' => self::TRACE], ['name' => 'b', 'traceparent' => $own]],
            $op['events']);
        $plain = self::op([$sender], ['functionId' => 'sender']);
        self::assertSame([['name' => 'a'], ['name' => 'b', 'traceparent' => $own]], $plain['events']);
        $memo = ['out' => ['type' => 'sendEvent', 'data' => []]];
        self::assertSame(['op' => 'done', 'data' => self::TRACE],
            self::op([$sender], ['functionId' => 'sender', 'traceparent' => self::TRACE, 'steps' => $memo]));
    }
}
