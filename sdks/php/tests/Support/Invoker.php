<?php

declare(strict_types=1);

namespace Durable\Tests\Support;

use Durable\Handler;
use Durable\Json;
use Durable\Response;
use Durable\Signature;
use stdClass;

/** Signs invoke requests the way the engine does and drives a run to its end in memory. */
final class Invoker
{
    /** Invokes $handler in memory, or over real HTTP when $server is given. */
    public function __construct(
        private readonly ?Handler $handler,
        private readonly string $key,
        private readonly bool $v2 = true,
        private readonly ?PhpServer $server = null,
        private readonly string $path = '/api/durable',
    ) {
    }

    /** @param array<string, mixed>|stdClass $request */
    public function invoke(array|stdClass $request): Response
    {
        return $this->invokeRaw(Json::encode($request));
    }

    public function invokeRaw(string $body): Response
    {
        $headers = self::headers($body, $this->key, $this->v2);
        if ($this->server !== null) {
            $answer = $this->server->request('POST', $this->path, $headers, $body);
            return new Response($answer['status'], $answer['headers'], $answer['body']);
        }
        return $this->handler->handle('POST', $headers, $body);
    }

    /** @return array<string, string> */
    public static function headers(string $body, string $key, bool $v2, ?int $nowMs = null): array
    {
        $timestamp = (string) ($nowMs ?? Signature::nowMs());
        $headers = ['Content-Type' => 'application/json', 'X-Durable-Signature' => Signature::sign($body, $key)];
        if ($v2) {
            $headers['X-Durable-Timestamp'] = $timestamp;
            $headers['X-Durable-Signature-V2'] = Signature::signV2($timestamp, $body, $key);
        }
        return $headers;
    }

    /**
     * Runs a function to its `done` (or final error) like an engine: memoizes each op's result
     * and invokes again. $onWait answers a wait op with an event or null (timeout).
     *
     * @param array<string, mixed> $event
     * @param (callable(array<string, mixed>): mixed)|null $onWait
     * @return array{ops: list<array<string, mixed>>, result: mixed, steps: stdClass}
     */
    public function drive(
        string $functionId,
        array $event,
        ?callable $onWait = null,
        int $retries = 3,
        int $maxInvokes = 50,
    ): array {
        $steps = new stdClass();
        $ops = [];
        $attempt = 0;
        for ($i = 0; $i < $maxInvokes; $i++) {
            $response = $this->invoke([
                'functionId' => $functionId,
                'runId' => 'run-1',
                'attempt' => $attempt,
                'event' => $event,
                'steps' => $steps,
            ]);
            if ($response->status !== 200) {
                throw new \RuntimeException("invoke answered {$response->status}: {$response->body}");
            }
            $op = json_decode($response->body, true, 512, JSON_THROW_ON_ERROR);
            $ops[] = $op;
            switch ($op['op']) {
                case 'done':
                    return ['ops' => $ops, 'result' => $op['data'], 'steps' => $steps];
                case 'error':
                    if (!$op['retryable'] || $attempt >= $retries) {
                        return ['ops' => $ops, 'result' => null, 'steps' => $steps];
                    }
                    $attempt++;
                    continue 2;
                case 'step':
                    $steps->{$op['id']} = ['type' => 'run', 'data' => json_decode(Json::encode($op['data']))];
                    break;
                case 'sleep':
                    $steps->{$op['id']} = ['type' => 'sleep', 'data' => null];
                    break;
                case 'wait':
                    $steps->{$op['id']} = ['type' => 'wait', 'data' => $onWait === null ? null : $onWait($op)];
                    break;
                case 'sendEvent':
                    $receipts = array_map(
                        static fn (array $e): array => ['id' => $e['id'] ?? 'generated', 'duplicate' => false],
                        $op['events'],
                    );
                    $steps->{$op['id']} = ['type' => 'sendEvent', 'data' => $receipts];
                    break;
                default:
                    throw new \RuntimeException("unknown op {$op['op']}");
            }
            $attempt = 0;
        }
        throw new \RuntimeException("run did not finish within {$maxInvokes} invokes");
    }
}
