<?php

declare(strict_types=1);

namespace Durable\Tests;

use Durable\Handler;
use Durable\Tests\Support\Invoker;
use Durable\Tests\Support\PhpServer;
use InvalidArgumentException;
use PHPUnit\Framework\TestCase;

/** The README's quick start, copied out of the README and served by `php -S`. */
final class ReadmeTest extends TestCase
{
    public function testQuickStartWorks(): void
    {
        $readme = (string) file_get_contents(dirname(__DIR__) . '/README.md');
        self::assertSame(1, preg_match('/## Quick start.*?```php\n(.*?)```/s', $readme, $match));
        $dir = sys_get_temp_dir() . '/durable-readme-' . bin2hex(random_bytes(4));
        mkdir("{$dir}/public", 0o777, true);
        // The quick start sits next to a checkout: point its require at this one.
        $autoload = var_export(dirname(__DIR__) . '/src/autoload.php', true);
        $code = str_replace("__DIR__ . '/../vendor/autoload.php'", $autoload, $match[1]);
        self::assertNotSame($match[1], $code, 'the quick start requires Composer\'s autoloader');
        file_put_contents("{$dir}/public/index.php", $code);
        $server = PhpServer::php("{$dir}/public/index.php", "{$dir}/public", ['DURABLE_SIGNING_KEY' => 'readme-key']);
        try {
            $run = (new Invoker(null, 'readme-key', true, $server))->drive(
                'welcome',
                ['name' => 'user.created', 'data' => ['id' => 42, 'name' => 'ada']],
                fn (array $op) => $op['match'] === ['userId' => 42]
                    ? ['name' => 'user.replied', 'data' => ['userId' => 42]]
                    : null,
            );
            self::assertSame(['greeting' => 'Hello Ada', 'replied' => true], $run['result']);
            self::assertSame(['step', 'sleep', 'wait', 'done'], array_column($run['ops'], 'op'));
        } finally {
            $server->stop();
            @unlink("{$dir}/public/index.php");
            @rmdir("{$dir}/public");
            @rmdir($dir);
        }
    }

    public function testFromEnvNeedsTheSigningKey(): void
    {
        $this->expectException(InvalidArgumentException::class);
        $this->expectExceptionMessage('DURABLE_SIGNING_KEY');
        Handler::fromEnv([], []);
    }

    public function testFromEnvReadsCapabilitiesAndDevMode(): void
    {
        $handler = Handler::fromEnv([], [
            'DURABLE_SIGNING_KEY' => 'k',
            'DURABLE_CAPABILITIES' => 'none',
            'DURABLE_DEV' => '1',
            'DURABLE_APP_ID' => 'a',
        ]);
        self::assertSame([], $handler->capabilities());
        $discovery = json_decode($handler->handle('GET', ['x-durable-discovery' => 'true'], '')->body, true);
        self::assertSame(['k', 'a'], [$discovery['signingKey'], $discovery['appId']]);
        $some = Handler::fromEnv([], ['DURABLE_SIGNING_KEY' => 'k', 'DURABLE_CAPABILITIES' => 'step-occurrences']);
        self::assertSame(['step-occurrences'], $some->capabilities());
    }

    public function testReplayBenchmarkRuns(): void
    {
        $output = [];
        $script = escapeshellarg(dirname(__DIR__) . '/bench/replay.php');
        exec(escapeshellarg(PHP_BINARY) . " {$script} 50 3 2>&1", $output, $status);
        self::assertSame(0, $status, implode("\n", $output));
        self::assertStringContainsString('"steps":50', implode("\n", $output));
    }
}
