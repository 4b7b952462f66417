<?php

declare(strict_types=1);

// The conformance catalog (conformance/README.md), in catalog order.

use Durable\DurableFunction;
use Durable\FailureError;
use Durable\JsonObject;
use Durable\NonRetriableError;
use Durable\Step;

/** @return list<DurableFunction> */
function conformanceFunctions(): array
{
    $event = static fn (string $id): array => ['event' => "conf.{$id}"];
    // The event's data as an array ({} arrives as a JsonObject, anything else as []).
    $data = static fn (array $event): array => $event['data'] instanceof JsonObject
        ? $event['data']->toArray()
        : (is_array($event['data'] ?? null) ? $event['data'] : []);
    return [
        new DurableFunction(id: 'serial', trigger: $event('serial'), handler: function (array $event, Step $step) {
            $a = $step->run('a', fn () => ['n' => 1]);
            $b = $step->run('b', fn () => ['n' => $a['n'] + 1]);
            return ['a' => $a, 'b' => $b];
        }),
        new DurableFunction(
            id: 'echo',
            trigger: $event('echo'),
            handler: fn (array $event, Step $step) => ['event' => $event],
        ),
        new DurableFunction(id: 'sleeper', trigger: $event('sleeper'), handler: function (array $event, Step $step) use ($data) {
            $step->run('before', fn () => 'x');
            $step->sleep('nap', $data($event)['duration'] ?? '2s');
            return 'slept';
        }),
        new DurableFunction(id: 'waiter', trigger: $event('waiter'), handler: function (array $event, Step $step) {
            $got = $step->waitForEvent('approve', [
                'event' => 'conf.approved',
                'match' => is_array($event['data'] ?? null) && array_key_exists('userId', $event['data'])
                    ? ['userId' => $event['data']['userId']]
                    : null,
                'timeout' => '1h',
            ]);
            return ['approved' => $got !== null, 'got' => $got];
        }),
        new DurableFunction(id: 'sender', trigger: $event('sender'), handler: function (array $event, Step $step) use ($data) {
            $n = $event['data']['n'] ?? null;
            $receipts = $step->sendEvent('emit', array_key_exists('events', $data($event))
                ? $data($event)['events']
                : [
                    'id' => 'child-' . (is_scalar($n) ? (string) $n : 'null'),
                    'name' => 'conf.child',
                    'data' => ['n' => $n],
                ]);
            return ['receipts' => $receipts];
        }),
        new DurableFunction(
            id: 'flaky',
            trigger: $event('flaky'),
            retries: 2,
            handler: function (array $event, Step $step) {
                $result = $step->run('flaky', function () use ($event, $step) {
                    if ($step->attempt() < ($event['data']['failTimes'] ?? 0)) {
                        throw new Exception('boom');
                    }
                    return 'ok';
                });
                return ['result' => $result];
            },
        ),
        new DurableFunction(id: 'fatal', trigger: $event('fatal'), handler: function (array $event, Step $step) {
            $data = is_array($event['data'] ?? null) ? $event['data'] : [];
            $step->run('fatal', fn () => throw new NonRetriableError(
                'no way',
                code: array_key_exists('code', $data) ? $data['code'] : 'E_FATAL',
                details: array_key_exists('details', $data) ? $data['details'] : ['why' => 'test'],
            ));
        }),
        new DurableFunction(
            id: 'handler-error',
            trigger: $event('handler-error'),
            handler: fn (array $event, Step $step) => throw new Exception('handler broke'),
        ),
        new DurableFunction(
            id: 'with-failure',
            trigger: $event('with-failure'),
            retries: 0,
            handler: function (array $event, Step $step) {
                $step->run('explode', fn () => throw new Exception('exploded'));
            },
            onFailure: function (array $event, Step $step, FailureError $failure) {
                $cleanup = $step->run('cleanup', fn () => 'cleaned');
                return ['cleanup' => $cleanup, 'message' => $failure->getMessage()];
            },
        ),
        new DurableFunction(
            id: 'parallel',
            trigger: $event('parallel'),
            handler: function (array $event, Step $step) use ($data) {
                if (!array_key_exists('count', $data($event))) {
                    return $step->parallel('fan', ['a' => fn () => 1, 'b' => fn () => 2]);
                }
                $tasks = [];
                for ($i = 0; $i < $data($event)['count']; $i++) {
                    $tasks["t{$i}"] = fn () => $i;
                }
                return $step->parallel('fan', $tasks);
            },
        ),
        new DurableFunction(id: 'loop', trigger: $event('loop'), handler: function (array $event, Step $step) {
            $results = [];
            foreach ([0, 1, 2] as $i) {
                $results[] = $step->run('item', fn () => $i);
            }
            return $results;
        }),
        new DurableFunction(id: 'mismatch', trigger: $event('mismatch'), handler: function (array $event, Step $step) {
            $step->run('x', fn () => 1);
            return 'unreachable';
        }),
        new DurableFunction(id: 'big', trigger: $event('big'), handler: function (array $event, Step $step) {
            $size = $event['data']['size'] ?? 0;
            $step->run('big', fn () => str_repeat('x', is_int($size) && $size > 0 ? $size : 0));
            return 'done';
        }),
        new DurableFunction(
            id: 'batcher',
            trigger: $event('batcher'),
            batch: ['maxSize' => 3, 'timeout' => '1s'],
            handler: fn (array $event, Step $step) => ['count' => count($step->events())],
        ),
        new DurableFunction(
            id: 'versioned',
            trigger: $event('versioned'),
            version: '2',
            handler: fn (array $event, Step $step) => 'v2',
        ),
        new DurableFunction(
            id: 'nightly',
            trigger: ['cron' => '0 3 * * *'],
            handler: fn (array $event, Step $step) => 'tick',
        ),
        new DurableFunction(id: 'invoker', trigger: $event('invoker'), handler: function (array $event, Step $step) use ($data) {
            $input = $data($event);
            return ['result' => $step->invoke('call', 'echo', $input['input'] ?? null, timeout: $input['timeout'] ?? null)];
        }),
    ];
}
