<?php

declare(strict_types=1);

namespace Durable\Tests;

use Durable\DurableFunction;
use Durable\Handler;
use Durable\Step;
use Durable\TraceContext;
use Durable\TracedInvocation;
use Durable\Tests\Support\Invoker;
use PHPUnit\Framework\TestCase;
use RuntimeException;

/**
 * Trace context for handlers ([TRACE-4]): `$step->trace()` is the engine's traceparent
 * parsed, and a `traceHook` wraps each invocation that carries one.
 */
final class TraceTest extends TestCase
{
    private const KEY = 'trace-key';
    private const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
    private const ENGINE_SPAN = '00f067aa0ba902b7';
    private const TRACE = '00-' . self::TRACE_ID . '-' . self::ENGINE_SPAN . '-01';

    public function testParseTakesOnlyValidTraceparents(): void
    {
        $trace = TraceContext::parse(self::TRACE);
        self::assertNotNull($trace);
        self::assertSame([self::TRACE_ID, self::ENGINE_SPAN, 1, true, self::TRACE],
            [$trace->traceId, $trace->parentId, $trace->flags, $trace->sampled(), $trace->traceparent()]);
        self::assertFalse((new TraceContext(self::TRACE_ID, self::ENGINE_SPAN, 0))->sampled());
        foreach ([null, 7, '', '00-bad', strtoupper(self::TRACE), '01-' . self::TRACE_ID . '-' . self::ENGINE_SPAN . '-01',
            '00-' . str_repeat('0', 32) . '-' . self::ENGINE_SPAN . '-01', '00-' . self::TRACE_ID . '-' . str_repeat('0', 16) . '-01'] as $bad) {
            self::assertNull(TraceContext::parse($bad));
        }
    }

    public function testStepTraceIsTheInvocationsTraceparent(): void
    {
        $memo = ['a' => ['type' => 'run', 'data' => 1]];
        self::assertSame(['op' => 'done', 'data' => [self::TRACE_ID, self::ENGINE_SPAN, true]],
            self::op(['traceparent' => self::TRACE, 'steps' => $memo]));
        self::assertNull(self::op(['steps' => $memo])['data']);
        self::assertNull(self::op(['traceparent' => '00-x', 'steps' => $memo])['data']);
        self::assertNull(self::op(['traceparent' => self::TRACE, 'steps' => $memo], capabilities: ['strict-replay'])['data']);
    }

    public function testTheHookWrapsEachTracedInvocation(): void
    {
        $calls = [];
        $hook = function (TracedInvocation $invocation, callable $run) use (&$calls): mixed {
            $calls[] = ['enter', $invocation];
            try {
                $value = $run();
                $calls[] = ['exit', $value];
                return $value;
            } catch (\Throwable $error) {
                $calls[] = ['error', $error->getMessage()];
                throw $error;
            }
        };
        $op = self::op(['traceparent' => self::TRACE, 'attempt' => 2], traceHook: $hook);
        self::assertSame(['step', 'a'], [$op['op'], $op['id']]); // a step answered: no error seen
        self::assertSame(['enter', 'exit'], array_column($calls, 0));
        self::assertEquals(new TracedInvocation(new TraceContext(self::TRACE_ID, self::ENGINE_SPAN, 1), 'work', 'r1', 2, false),
            $calls[0][1]);
        self::assertNull($calls[1][1]);
        $calls = [];
        $failed = self::op(['traceparent' => self::TRACE, 'event' => ['name' => 'go', 'data' => ['fail' => true]]], traceHook: $hook);
        self::assertSame(['error', 'boom'], [$failed['op'], $failed['message']]);
        self::assertSame([['enter'], ['error', 'boom']], [[$calls[0][0]], $calls[1]]);
        $calls = [];
        self::assertSame('step', self::op([], traceHook: $hook)['op']);
        self::assertSame([], $calls); // no traceparent: the hook is not called
    }

    public function testTheReadmeExampleLogsTheTrace(): void
    {
        $readme = (string) file_get_contents(dirname(__DIR__) . '/README.md');
        self::assertSame(1, preg_match('/```php\n(use Durable\\\\DurableFunction;\nuse Durable\\\\Handler;\nuse Durable\\\\Step;\nuse Durable\\\\TracedInvocation;.*?)```/s', $readme, $match));
        $code = preg_replace('/^use .*;$/m', '', $match[1]);
        $code = str_replace('Handler::fromEnv([$ship], ', 'Handler::fromEnv([$ship], $env, ', (string) $code);
        $log = [];
        $env = ['DURABLE_SIGNING_KEY' => self::KEY];
        $handler = (static function (string $code, array $env, array &$log): Handler {
            eval('use Durable\DurableFunction; use Durable\Handler; use Durable\Step; use Durable\TracedInvocation; ' . $code);
            /** @var Handler $handler */
            return $handler;
        })($code, $env, $log);
        $answer = (new Invoker($handler, self::KEY))->invoke([
            'functionId' => 'ship', 'runId' => 'r9', 'traceparent' => self::TRACE,
            'event' => ['name' => 'order.paid', 'data' => ['orderId' => 'o1']],
            'steps' => ['label' => ['type' => 'run', 'data' => ['order' => 'o1']]],
        ]);
        self::assertSame(['op' => 'done', 'data' => ['order' => 'o1', 'trace' => self::TRACE_ID]], json_decode($answer->body, true));
        self::assertSame(['trace ' . self::TRACE_ID . ' span ' . self::ENGINE_SPAN . ': ship', 'end ship'], $log);
    }

    /**
     * @param array<string, mixed> $request
     * @return array<string, mixed>
     */
    private static function op(array $request, mixed ...$options): array
    {
        $work = new DurableFunction(
            id: 'work',
            trigger: ['event' => 'go'],
            handler: function (array $event, Step $step) {
                $seen = $step->trace();
                if (($event['data']['fail'] ?? false) === true) {
                    throw new RuntimeException('boom');
                }
                $step->run('a', fn () => 1);
                return $seen === null ? null : [$seen->traceId, $seen->parentId, $seen->sampled()];
            },
        );
        $handler = new Handler([$work], self::KEY, ...$options);
        $body = ['runId' => 'r1', 'event' => ['name' => 'go', 'data' => new \stdClass()], 'steps' => new \stdClass()];
        $answer = (new Invoker($handler, self::KEY))->invoke([...$body, 'functionId' => 'work', ...$request]);
        return json_decode($answer->body, true);
    }
}
