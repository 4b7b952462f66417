<?php

declare(strict_types=1);

namespace Durable\Tests;

use Durable\DurableFunction;
use Durable\Handler;
use Durable\Tests\Support\Invoker;
use Durable\Tests\Support\PhpServer;
use PHPUnit\Framework\TestCase;

/** The product page's PHP example runs unchanged: in memory and served by `php -S`. */
final class ProductExampleTest extends TestCase
{
    private const KEY = 'example-key';

    /** @return list<DurableFunction> */
    private static function functions(): array
    {
        return require dirname(__DIR__) . '/examples/onboarding/functions.php';
    }

    public function testApprovedRun(): void
    {
        $invoker = new Invoker(new Handler(self::functions(), self::KEY), self::KEY);
        $waits = [];
        $event = ['id' => 'e1', 'name' => 'user.created', 'data' => ['id' => 7]];
        $run = $invoker->drive('onboarding', $event, function (array $op) use (&$waits) {
            $waits[] = $op;
            return ['id' => 'e2', 'name' => 'approval.received', 'data' => ['userId' => 7]];
        });
        self::assertSame(['approved' => true], $run['result']);
        self::assertSame(['step', 'sleep', 'wait', 'step', 'done'], array_column($run['ops'], 'op'));
        self::assertSame(['id' => 7, 'email' => 'user7@example.com', 'name' => 'User 7'], $run['ops'][0]['data']);
        self::assertSame(['approval.received', ['userId' => 7]], [$waits[0]['event'], $waits[0]['match']]);
        self::assertSame(['to' => 'user7@example.com', 'sent' => true], $run['ops'][3]['data']);
    }

    public function testTimedOutWaitGivesNull(): void
    {
        $invoker = new Invoker(new Handler(self::functions(), self::KEY), self::KEY);
        $event = ['id' => 'e1', 'name' => 'user.created', 'data' => ['id' => 8]];
        $run = $invoker->drive('onboarding', $event, fn () => null);
        self::assertSame(['approved' => false], $run['result']);
    }

    public function testServedOverHttpByPhpBuiltInServer(): void
    {
        $root = dirname(__DIR__) . '/examples/onboarding';
        $server = PhpServer::php($root . '/index.php', $root, ['DURABLE_SIGNING_KEY' => self::KEY]);
        try {
            self::assertSame(401, $server->request('GET', '/api/durable')['status']);
            self::assertSame(404, $server->request('GET', '/elsewhere')['status']);
            $invoker = new Invoker(null, self::KEY, true, $server);
            $event = ['id' => 'e1', 'name' => 'user.created', 'data' => ['id' => 9]];
            $approval = ['name' => 'approval.received', 'data' => ['userId' => 9]];
            $run = $invoker->drive('onboarding', $event, fn (array $op) => $approval);
            self::assertSame(['approved' => true], $run['result']);
            self::assertCount(5, $run['ops']);
        } finally {
            $server->stop();
        }
    }

    public function testExampleIsTheProductPageTextVerbatim(): void
    {
        $page = '/work/shared/design/product.md';
        if (!is_file($page)) {
            self::markTestSkipped('the design notes are not on this machine');
        }
        self::assertSame(1, preg_match('/```php\n(.*?)```/s', (string) file_get_contents($page), $match));
        $example = dirname(__DIR__) . '/examples/onboarding/functions.php';
        self::assertStringContainsString(trim($match[1]), (string) file_get_contents($example));
    }
}
