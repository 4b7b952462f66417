<?php

declare(strict_types=1);

namespace Durable\Tests;

use Durable\Json;
use Durable\Signature;
use Durable\Tests\Support\Invoker;
use Durable\Tests\Support\PhpServer;
use PHPUnit\Framework\TestCase;

/** The conformance app, started by its own start script, over real HTTP on loopback. */
final class HttpServerTest extends TestCase
{
    private const KEY = 'http-test-key';
    private const OLD_KEY = 'http-test-old-key';

    private static function start(array $env = []): PhpServer
    {
        return new PhpServer([dirname(__DIR__) . '/conformance/start'], $env + ['DURABLE_SIGNING_KEY' => self::KEY]);
    }

    /** @return array<string, string> */
    private static function getHeaders(string $key = self::KEY): array
    {
        $timestamp = (string) Signature::nowMs();
        return ['X-Durable-Timestamp' => $timestamp, 'X-Durable-Signature' => Signature::sign($timestamp, $key)];
    }

    public function testConformanceAppServesTheCatalog(): void
    {
        $server = self::start(['DURABLE_SIGNING_KEY_FALLBACK' => self::OLD_KEY]);
        try {
            self::assertSame(401, $server->request('GET', '/api/durable')['status']);
            self::assertSame(404, $server->request('GET', '/nope')['status']);
            $manifest = $server->request('GET', '/api/durable', self::getHeaders());
            self::assertSame(200, $manifest['status']);
            $signature = $manifest['headers']['x-durable-signature'];
            self::assertSame(Signature::sign($manifest['body'], self::KEY), $signature);
            $body = json_decode($manifest['body'], true);
            self::assertSame(
                ['serial', 'echo', 'sleeper', 'waiter', 'sender', 'flaky', 'fatal', 'handler-error', 'with-failure',
                    'parallel', 'loop', 'mismatch', 'big', 'batcher', 'versioned', 'nightly', 'invoker'],
                array_column($body['functions'], 'id'),
            );
            self::assertContains('timestamped-signatures', $body['capabilities']);
            self::assertSame(200, $server->request('GET', '/api/durable', self::getHeaders(self::OLD_KEY))['status']);

            $put = $server->request('PUT', '/api/durable');
            self::assertSame([405, 'GET, POST'], [$put['status'], $put['headers']['allow']]);
            $invoke = '{"functionId":"serial","runId":"r1","event":{"name":"conf.serial","data":{}},"steps":{}}';
            $post = fn (string $body, bool $v2 = true): array
                => $server->request('POST', '/api/durable', Invoker::headers($body, self::KEY, $v2), $body);
            self::assertSame(401, $post($invoke, false)['status']);
            $ok = $post($invoke);
            self::assertSame(200, $ok['status'], $ok['body']);
            self::assertSame('{"op":"step","id":"a","data":{"n":1}}', $ok['body']);
            $big = str_repeat('x', 1_048_577);
            self::assertSame(413, $post($big)['status']);
            $notJson = '{oops';
            self::assertSame(400, $post($notJson)['status']);

            $invoker = new Invoker(null, self::KEY, true, $server);
            $run = $invoker->drive('loop', ['name' => 'conf.loop', 'data' => Json::object()]);
            self::assertSame([0, 1, 2], $run['result']);
            self::assertSame(['item', 'item#2', 'item#3'], array_keys(get_object_vars($run['steps'])));
        } finally {
            $server->stop();
        }
    }

    public function testCapabilitiesNoneSpeaksPlainV1(): void
    {
        $server = self::start(['DURABLE_CAPABILITIES' => 'none', 'DURABLE_APP_ID' => 'app-7']);
        try {
            $manifest = json_decode($server->request('GET', '/api/durable', self::getHeaders())['body'], true);
            self::assertSame(['functions', 'sdkVersion'], array_keys($manifest));
            $invoke = '{"functionId":"echo","runId":"r1","event":{"name":"conf.echo","data":{"n":1}}}';
            $answer = $server->request('POST', '/api/durable', Invoker::headers($invoke, self::KEY, false), $invoke);
            self::assertSame(200, $answer['status']);
            self::assertArrayNotHasKey('x-durable-signature-v2', $answer['headers']);
            self::assertSame('{"op":"done","data":{"event":{"name":"conf.echo","data":{"n":1}}}}', $answer['body']);
        } finally {
            $server->stop();
        }
    }

    public function testStrayOutputDoesNotCorruptTheSignedAnswer(): void
    {
        $dir = sys_get_temp_dir() . '/durable-noisy-' . bin2hex(random_bytes(4));
        mkdir($dir);
        $autoload = var_export(dirname(__DIR__) . '/src/autoload.php', true);
        file_put_contents("{$dir}/index.php", <<<PHP
            <?php
            declare(strict_types=1);
            require {$autoload};
            use Durable\\{DurableFunction, Handler, Step};
            \$noisy = new DurableFunction(
                id: 'noisy',
                trigger: ['event' => 'n'],
                handler: function (array \$event, Step \$step) {
                    echo 'debug output';
                    return \$step->run('s', fn () => 'ok');
                },
            );
            (new Handler([\$noisy], 'noisy-key'))->serve('/api/durable');
            PHP);
        $server = PhpServer::php("{$dir}/index.php", $dir);
        try {
            $body = '{"functionId":"noisy","runId":"r","event":{"name":"n"}}';
            $answer = $server->request('POST', '/api/durable', Invoker::headers($body, 'noisy-key', true), $body);
            self::assertSame([200, '{"op":"step","id":"s","data":"ok"}'], [$answer['status'], $answer['body']]);
            self::assertSame(Signature::sign($answer['body'], 'noisy-key'), $answer['headers']['x-durable-signature']);
        } finally {
            $server->stop();
            @unlink("{$dir}/index.php");
            @rmdir($dir);
        }
    }
}
