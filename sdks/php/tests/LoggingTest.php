<?php

declare(strict_types=1);

namespace Durable\Tests;

use Durable\DurableFunction;
use Durable\Handler;
use Durable\NonRetriableError;
use Durable\Step;
use Durable\Tests\Support\Invoker;
use PHPUnit\Framework\TestCase;
use Psr\Log\AbstractLogger;
use RangeException;

/** An exception of the user's code is logged with its stack (PSR-3 or error_log), never the payload. */
final class LoggingTest extends TestCase
{
    private const KEY = 'logging-test-key';

    private static function billing(): DurableFunction
    {
        return new DurableFunction(
            id: 'billing',
            trigger: ['event' => 'e'],
            handler: function (array $event, Step $step) {
                return $step->run('charge', fn () => self::explode($event['data']['token']));
            },
            version: '2',
            onFailure: function (): never {
                throw new NonRetriableError('cleanup failed', code: 'CLEANUP');
            },
        );
    }

    private static function explode(string $token): never
    {
        throw new RangeException('card declined');
    }

    /** @return array<string, mixed> */
    private static function invoke(Handler $handler, array $request): array
    {
        $request += ['runId' => 'run-7', 'event' => ['name' => 'e', 'data' => ['token' => 'secret-card-token']]];
        $response = (new Invoker($handler, self::KEY, true))->invoke($request);
        self::assertSame(200, $response->status, $response->body);
        return json_decode($response->body, true, 512, JSON_THROW_ON_ERROR);
    }

    private static function recorder(): AbstractLogger
    {
        return new class () extends AbstractLogger {
            /** @var list<array{mixed, string, array<string, mixed>}> */
            public array $records = [];

            public function log($level, $message, array $context = []): void
            {
                $this->records[] = [$level, (string) $message, $context];
            }
        };
    }

    public function testAStepExceptionGoesToThePsr3LoggerWithTheThrowable(): void
    {
        $logger = self::recorder();
        $handler = new Handler([self::billing()], self::KEY, logger: $logger);
        $op = self::invoke($handler, ['functionId' => 'billing@2', 'attempt' => 2]);
        self::assertSame(['error', 'charge', 'RangeException', true], [$op['op'], $op['id'], $op['name'], $op['retryable']]);
        self::assertCount(1, $logger->records);
        [$level, $message, $context] = $logger->records[0];
        self::assertSame('error', $level);
        self::assertSame(
            'durable: function billing@2 raised RangeException: card declined (run run-7, attempt 2, step charge; the engine retries it)',
            $message,
        );
        self::assertInstanceOf(RangeException::class, $context['exception']);
        self::assertStringContainsString('explode', $context['exception']->getTraceAsString());
        self::assertSame(['functionId' => 'billing@2', 'runId' => 'run-7', 'attempt' => 2], array_diff_key($context, ['exception' => 1]));
        self::assertStringNotContainsString('secret-card-token', serialize([$level, $message, array_diff_key($context, ['exception' => 1])]));
    }

    public function testFailureHandlerExceptionIsLoggedAndASteppingRunLogsNothing(): void
    {
        $logger = self::recorder();
        $steps = new DurableFunction(id: 'steps', trigger: ['event' => 'e'], handler: fn (array $e, Step $step) => $step->run('a', fn () => 1));
        $handler = new Handler([self::billing(), $steps], self::KEY, logger: $logger);
        self::invoke($handler, ['functionId' => 'billing@2', 'failure' => ['message' => 'x', 'name' => 'Error']]);
        self::invoke($handler, ['functionId' => 'steps']);
        self::assertCount(1, $logger->records);
        self::assertMatchesRegularExpression(
            '/^durable: onFailure handler of billing@2 raised NonRetriableError: cleanup failed .*not retried\)$/',
            $logger->records[0][1],
        );
    }

    public function testWithoutALoggerErrorLogGetsTheMessageAndTheStack(): void
    {
        $file = tempnam(sys_get_temp_dir(), 'durable-log-');
        $previous = ini_set('error_log', $file);
        // Traces with arguments would show the token passed to explode(): the log must not.
        $ignoreArgs = ini_set('zend.exception_ignore_args', '0');
        try {
            self::invoke(new Handler([self::billing()], self::KEY), ['functionId' => 'billing@2']);
        } finally {
            ini_set('error_log', (string) $previous);
            ini_set('zend.exception_ignore_args', (string) $ignoreArgs);
        }
        $logged = (string) file_get_contents($file);
        unlink($file);
        self::assertStringContainsString('durable: function billing@2 raised RangeException: card declined', $logged);
        self::assertStringContainsString('Durable\\Tests\\LoggingTest::explode()', $logged);
        self::assertStringNotContainsString('secret-card-token', $logged);
    }

    public function testFromEnvTakesTheLoggerToo(): void
    {
        $logger = self::recorder();
        $handler = Handler::fromEnv([self::billing()], ['DURABLE_SIGNING_KEY' => self::KEY], $logger);
        self::invoke($handler, ['functionId' => 'billing@2']);
        self::assertCount(1, $logger->records);
    }
}
