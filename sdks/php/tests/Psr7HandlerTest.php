<?php

declare(strict_types=1);

namespace Durable\Tests;

use Durable\DurableFunction;
use Durable\Handler;
use Durable\Psr7Handler;
use Durable\Signature;
use Durable\Step;
use Durable\Tests\Support\Invoker;
use Nyholm\Psr7\Factory\Psr17Factory;
use Nyholm\Psr7\ServerRequest;
use PHPUnit\Framework\TestCase;

/** The PSR-7 adapter, backed by Debian's php-nyholm-psr7. */
final class Psr7HandlerTest extends TestCase
{
    private const KEY = 'psr7-key';

    protected function setUp(): void
    {
        if (!class_exists(Psr17Factory::class)) {
            self::markTestSkipped('php-nyholm-psr7 is not installed');
        }
    }

    private static function adapter(int $maxRequestBytes = 1_048_576): Psr7Handler
    {
        $fn = new DurableFunction(
            id: 'hello',
            trigger: ['event' => 'hello'],
            handler: fn (array $event, Step $step) => $step->run('greet', fn () => 'hi ' . $event['data']['name']),
        );
        $factory = new Psr17Factory();
        return new Psr7Handler(new Handler([$fn], self::KEY, maxRequestBytes: $maxRequestBytes), $factory, $factory);
    }

    public function testInvokeThroughPsr7Messages(): void
    {
        $body = '{"functionId":"hello","runId":"r","event":{"name":"hello","data":{"name":"Ada"}}}';
        $request = new ServerRequest('POST', '/api/durable', Invoker::headers($body, self::KEY, true), $body);
        $response = self::adapter()->handle($request);
        self::assertSame(200, $response->getStatusCode());
        self::assertSame('{"op":"step","id":"greet","data":"hi Ada"}', (string) $response->getBody());
        $signature = $response->getHeaderLine('X-Durable-Signature');
        self::assertSame(Signature::sign((string) $response->getBody(), self::KEY), $signature);
        self::assertSame('application/json', $response->getHeaderLine('Content-Type'));
    }

    public function testManifestAndErrors(): void
    {
        $timestamp = (string) Signature::nowMs();
        $signature = Signature::sign($timestamp, self::KEY);
        $headers = ['X-Durable-Timestamp' => $timestamp, 'X-Durable-Signature' => $signature];
        $get = new ServerRequest('GET', '/api/durable', $headers);
        $manifest = self::adapter()->handle($get);
        self::assertSame(200, $manifest->getStatusCode());
        self::assertSame('hello', json_decode((string) $manifest->getBody(), true)['functions'][0]['id']);
        self::assertSame(401, self::adapter()->handle(new ServerRequest('GET', '/api/durable'))->getStatusCode());
        $delete = self::adapter()->handle(new ServerRequest('DELETE', '/api/durable'));
        self::assertSame([405, 'GET, POST'], [$delete->getStatusCode(), $delete->getHeaderLine('Allow')]);
        $big = new ServerRequest('POST', '/api/durable', [], str_repeat('x', 65_537));
        self::assertSame(413, self::adapter(65_536)->handle($big)->getStatusCode());
    }
}
