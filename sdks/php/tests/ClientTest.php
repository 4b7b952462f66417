<?php

declare(strict_types=1);

namespace Durable\Tests;

use Durable\Client;
use Durable\DurableException;
use Durable\DurableFunction;
use Durable\EventSendError;
use Durable\Step;
use Durable\Tests\Support\PhpServer;
use PHPUnit\Framework\TestCase;

/** The curl Client against a fake engine API served by `php -S` on loopback. */
final class ClientTest extends TestCase
{
    private static ?PhpServer $server = null;
    private static string $log = '';

    public static function setUpBeforeClass(): void
    {
        self::$log = (string) tempnam(sys_get_temp_dir(), 'durable-fake-engine-');
        $fixtures = __DIR__ . '/fixtures';
        self::$server = PhpServer::php($fixtures . '/engine.php', $fixtures, ['FAKE_ENGINE_LOG' => self::$log]);
    }

    public static function tearDownAfterClass(): void
    {
        self::$server?->stop();
        @unlink(self::$log);
    }

    protected function setUp(): void
    {
        file_put_contents(self::$log, '');
    }

    private static function client(bool $v2 = true, string $key = 'client-key'): Client
    {
        return new Client(self::$server->url(''), 'app-1', $key, timeout: 5, backoffMs: 10, timestampedSignatures: $v2);
    }

    /** @return list<array{path: string, headers: array<string, string>, body: string}> */
    private static function requests(): array
    {
        $lines = file(self::$log, FILE_IGNORE_NEW_LINES) ?: [];
        return array_map(static fn (string $line): array => json_decode($line, true), $lines);
    }

    public function testEveryEngineCall(): void
    {
        $client = self::client();
        $fn = new DurableFunction(id: 'fn', trigger: ['event' => 'e'], handler: fn (array $event, Step $step) => null);
        self::assertSame(['ok' => true, 'functions' => 1], $client->sync([$fn]));
        $receipt = $client->send('user.created', ['id' => 1], id: 'evt-1');
        self::assertSame(['evt-1', false], [$receipt['id'], $receipt['duplicate']]);
        self::assertCount(2, $client->sendMany([['name' => 'a'], ['name' => 'b', 'id' => 'evt-b']]));
        $page = $client->searchRuns(functionId: 'fn', limit: 10);
        self::assertSame(['functionId' => 'fn', 'limit' => 10], $page['filters']);
        self::assertSame('completed', $client->getRun('run-1')['status']);
        self::assertTrue($client->cancelRun('run-1'));
        self::assertSame('rerun-of-run-1', $client->rerun('run-1', idempotencyKey: 'k1')['runId']);
        $rerun = $client->rerunFromStep('run-1', 's', 'k2');
        self::assertSame(['runId' => 'run-1', 'stepId' => 's', 'idempotencyKey' => 'k2'], $rerun['request']);
        self::assertSame([['deliveryId' => 'd1']], $client->listFailures(5));
        self::assertTrue($client->retryFailure('d1'));
        self::assertSame('fn', $client->getVersionStatus('fn')['functionId']);

        $requests = self::requests();
        self::assertSame(
            ['/fn/sync', '/e', '/e/bulk', '/runs/search', '/runs/get', '/runs/cancel', '/runs/rerun', '/runs/rerun',
                '/failures/search', '/failures/retry', '/versions/status'],
            array_column($requests, 'path'),
        );
        self::assertSame(
            '{"sdkVersion":"php/' . \Durable\Protocol::VERSION . '","functions":[{"id":"fn","trigger":{"event":"e"},"priority":0,'
            . '"enabled":true,"hasOnFailure":false}]}',
            $requests[0]['body'],
        );
        self::assertSame('{"id":"evt-1","name":"user.created","data":{"id":1}}', $requests[1]['body']);
        $bulk = json_decode($requests[2]['body'], true)['events'];
        $uuid = '/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/';
        self::assertMatchesRegularExpression($uuid, $bulk[0]['id']);
        self::assertSame('evt-b', $bulk[1]['id']);
        self::assertStringContainsString('"data":{}', $requests[2]['body']);
        self::assertSame('{"limit":5}', $requests[8]['body']);
        foreach ($requests as $request) {
            self::assertSame('app-1', $request['headers']['x-durable-app']);
            $expected = hash_hmac('sha256', $request['body'], 'client-key');
            self::assertSame($expected, $request['headers']['x-durable-signature']);
            self::assertArrayHasKey('x-durable-signature-v2', $request['headers']);
        }
    }

    public function testSyncWithAHandlerSendsCapabilitiesAndLimit(): void
    {
        $fn = new DurableFunction(id: 'fn', trigger: ['event' => 'e'], handler: fn (array $event, Step $step) => null);
        self::client()->sync(new \Durable\Handler([$fn], 'k', maxRequestBytes: 200_000));
        $sent = json_decode(self::requests()[0]['body'], true);
        self::assertSame(['sdkVersion', 'functions', 'capabilities', 'maxRequestBytes'], array_keys($sent));
        self::assertSame(200_000, $sent['maxRequestBytes']);
        self::assertContains('strict-replay', $sent['capabilities']);
    }

    public function testV1OnlySigning(): void
    {
        self::assertSame('completed', self::client(v2: false)->getRun('r')['status']);
        self::assertArrayNotHasKey('x-durable-timestamp', self::requests()[0]['headers']);
    }

    public function testWrongKeyIsRefusedWithoutRetry(): void
    {
        try {
            self::client(key: 'wrong')->getRun('r');
            self::fail('accepted a wrong key');
        } catch (DurableException $error) {
            self::assertSame([401, 'INVALID_SIGNATURE'], [$error->status, $error->errorCode]);
        }
        self::assertCount(1, self::requests());
    }

    public function testRetriesServerErrorsWithBackoff(): void
    {
        $started = microtime(true);
        self::assertSame(['ok' => true, 'calls' => 3], self::client()->post('/flaky', ['x' => 1]));
        self::assertCount(3, self::requests());
        self::assertGreaterThan(0.01, microtime(true) - $started);
    }

    public function testGivesUpAfterRetriesOn429(): void
    {
        try {
            self::client()->post('/always-429', ['x' => 1]);
            self::fail('no error');
        } catch (DurableException $error) {
            self::assertSame(429, $error->status);
        }
        self::assertCount(3, self::requests());
    }

    public function testClientErrorsAreNotRetried(): void
    {
        $this->expectException(DurableException::class);
        $this->expectExceptionMessage('400');
        try {
            self::client()->post('/bad-request', ['x' => 1]);
        } finally {
            self::assertCount(1, self::requests());
        }
    }

    public function testRefusesOversizedInvalidAndRedirectedAnswers(): void
    {
        foreach (['/huge' => 'exceeds', '/not-json' => 'invalid JSON', '/redirect' => '302'] as $path => $message) {
            try {
                self::client()->post($path, ['x' => 1]);
                self::fail("accepted {$path}");
            } catch (DurableException $error) {
                self::assertStringContainsString($message, $error->getMessage(), $path);
            }
        }
    }

    public function testSendErrorCarriesTheEventIds(): void
    {
        try {
            self::client(key: 'wrong')->send('x', id: 'evt-9');
            self::fail('no error');
        } catch (EventSendError $error) {
            self::assertSame(['evt-9'], $error->eventIds);
        }
    }

    public function testNetworkErrorIsADurableException(): void
    {
        $client = new Client('http://127.0.0.1:1', 'app-1', 'k', timeout: 2, retries: 1, backoffMs: 1);
        $this->expectException(DurableException::class);
        $this->expectExceptionMessage('request failed');
        $client->getRun('r');
    }

    public function testProvisionAndRotationUseTheAdminToken(): void
    {
        $base = self::$server->url('');
        $app = Client::provisionApp($base, 'shop', 'http://127.0.0.1:3000/api/durable', 'prod', 'admin-token');
        self::assertSame(['app-1', 'client-key', 'prod'], [$app['id'], $app['key'], $app['environment']]);
        self::assertSame(2, Client::rotateKey($base, 'app-1', 'admin-token')['keys']);
        Client::retireKey($base, 'app-1', 'admin-token');
        self::assertSame(
            ['/api/apps', '/api/apps/app-1/rotate-key', '/api/apps/app-1/retire-key'],
            array_column(self::requests(), 'path'),
        );
        $this->expectException(DurableException::class);
        Client::provisionApp($base, 'shop', 'http://x', 'dev', 'wrong-token');
    }

    public function testHistoryBulkCallsAndFunctions(): void
    {
        $client = self::client();
        $history = $client->runHistory('r1', cursor: 'c1', limit: 10);
        self::assertSame([500, null], [$history['attempts'][0]['httpStatus'], $history['nextCursor']]);
        $page = $client->bulkCancel(
            functionId: 'fn',
            status: 'queued',
            createdFrom: new \DateTimeImmutable('2026-01-01T00:00:00Z'),
            limit: 2,
        );
        self::assertSame(['cancelled' => ['r1', 'r2'], 'nextCursor' => 'c2'], $page);
        $client->bulkCancel(createdTo: '2026-02-01T00:00:00Z', cursor: 'c2');
        $reruns = $client->bulkRerun(status: 'failed', idempotencyKey: 'bulk-1', limit: 5);
        self::assertSame([['runId' => 'r9', 'rerunOf' => 'r1', 'duplicate' => false]], $reruns['reruns']);
        $client->bulkRerun(functionId: 'fn');
        $functions = $client->listFunctions();
        self::assertSame(['fn@2', ['completed' => 3]], [$functions[0]['runtimeId'], $functions[0]['runs']]);

        $sent = array_map(static fn (array $r): array => [$r['path'], $r['body']], self::requests());
        self::assertSame([
            ['/runs/history', '{"runId":"r1","cursor":"c1","limit":10}'],
            ['/runs/bulk-cancel', '{"functionId":"fn","status":"queued","createdFrom":"2026-01-01T00:00:00.000+00:00","limit":2}'],
            ['/runs/bulk-cancel', '{"createdTo":"2026-02-01T00:00:00Z","cursor":"c2"}'],
            ['/runs/bulk-rerun', '{"status":"failed","limit":5,"idempotencyKey":"bulk-1"}'],
        ], array_slice($sent, 0, 4));
        $generated = json_decode($sent[4][1], true);
        self::assertSame('fn', $generated['functionId']);
        self::assertMatchesRegularExpression('/^[0-9a-f-]{36}$/', $generated['idempotencyKey']);
        self::assertSame(['/functions/list', '{}'], $sent[5]);
    }

    public function testBulkCallsNeedAFilter(): void
    {
        try {
            self::client()->bulkCancel(limit: 5);
            self::fail('a bulk cancel without a filter was sent');
        } catch (\InvalidArgumentException $error) {
            self::assertStringContainsString('needs a filter', $error->getMessage());
        }
        $this->expectException(\InvalidArgumentException::class);
        try {
            self::client()->bulkRerun(idempotencyKey: 'k');
        } finally {
            self::assertSame([], self::requests());
        }
    }

    public function testErrorsCarryTheApiCodeTheKeyAndTheCause(): void
    {
        $client = self::client();
        try {
            $client->runHistory('missing');
            self::fail('no error');
        } catch (DurableException $error) {
            self::assertSame([404, 'NOT_FOUND'], [$error->status, $error->errorCode]);
            self::assertStringContainsString('no such run', $error->getMessage());
        }
        try {
            $client->bulkRerun(status: 'failed', idempotencyKey: 'conflict');
            self::fail('no error');
        } catch (\Durable\RunActionError $error) {
            self::assertSame(['conflict', 'CONFLICT', '/status', 409], [$error->idempotencyKey, $error->errorCode, $error->errorPath, $error->status]);
            self::assertInstanceOf(DurableException::class, $error->getPrevious());
        }
        try {
            $client->rerun('r1', 'k-1');
            self::client(key: 'wrong')->rerun('r1', 'k-2');
            self::fail('no error');
        } catch (\Durable\RunActionError $error) {
            self::assertSame(['k-2', 'INVALID_SIGNATURE'], [$error->idempotencyKey, $error->errorCode]);
        }
        try {
            self::client(key: 'wrong')->send('e', [], id: 'keep');
            self::fail('no error');
        } catch (EventSendError $error) {
            self::assertSame([['keep'], 401, 'INVALID_SIGNATURE'], [$error->eventIds, $error->status, $error->errorCode]);
        }
        try {
            $client->post('/not-json', []);
            self::fail('no error');
        } catch (DurableException $error) {
            self::assertInstanceOf(\JsonException::class, $error->getPrevious());
        }
        try {
            $client->bulkCancel(status: 'shapeless');
            self::fail('no error');
        } catch (DurableException $error) {
            self::assertSame(200, $error->status);
            self::assertStringContainsString('without a cancelled list', $error->getMessage());
        }
        try {
            (new Client('http://127.0.0.1:9', 'app-1', 'client-key', timeout: 2, retries: 0))->listFunctions();
            self::fail('no error');
        } catch (DurableException $error) {
            self::assertNull($error->status);
            self::assertInstanceOf(\RuntimeException::class, $error->getPrevious());
        }
    }
}
