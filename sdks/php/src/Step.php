<?php

declare(strict_types=1);

namespace Durable;

use Durable\Internal\Interrupt;
use Durable\Internal\Ops;
use InvalidArgumentException;
use Throwable;

/**
 * The durable primitives a handler receives. The handler is replayed from the top on
 * every invocation: a step whose id is memoized returns its stored result at once; the
 * first step that is not memoized decides the invocation's operation and ends it.
 */
final class Step
{
    /** @var array<string, int> uses of each step id in this invocation */
    private array $uses = [];
    /** @var array<string, mixed>|null the operation decided by a step, once decided */
    private ?array $operation = null;
    private bool $insideRun = false;
    /** What a step's callback threw when that decided the operation (an error op). */
    private ?Throwable $thrown = null;

    /**
     * @param array<array-key, mixed>|JsonObject $memos step id => {type, data}
     * @param list<mixed> $events the batch (or just the triggering event)
     */
    public function __construct(
        private readonly array|JsonObject $memos,
        private readonly string $runId = '',
        private readonly int $attempt = 0,
        private readonly array $events = [],
        private readonly bool $occurrences = true,
        private readonly string $functionId = '',
        private readonly bool $strictReplay = true,
        private readonly bool $invokes = true,
        /** The run's W3C traceparent, when the engine sent one and trace-context is on. */
        private readonly ?string $traceparent = null,
    ) {
    }

    /**
     * Runs $function (a function id or runtime id, of this app or of $app) as a child run
     * and returns its output; throws InvokeError when it failed, was cancelled or outlived
     * $timeout ([INVOKE-8]).
     */
    public function invoke(
        string $id,
        string $function,
        mixed $data = null,
        string|int|null $timeout = null,
        ?string $app = null,
    ): mixed {
        $ms = $timeout === null ? null : self::declaredMs($timeout); // [INVOKE-9]
        $id = $this->claim($id);
        if ($this->memo($id, Protocol::MEMO_INVOKE, $result)) {
            return self::invokeResult($id, $result);
        }
        if (!$this->invokes) {
            throw new NonRetriableError(
                'step.invoke needs the step-invoke capability, which this app turned off',
                Protocol::CODE_CAPABILITY_OFF,
            );
        }
        if ($function === '' || $app === '') {
            throw new InvalidArgumentException("invoke(\"{$id}\"): function and app must be non-empty");
        }
        $this->decide([
            'op' => Protocol::OP_INVOKE,
            'id' => $id,
            'function' => $function,
            'app' => $app,
            'data' => $data === null || $data === [] ? new JsonObject() : $data,
            'until' => $ms === null ? null : Ops::until($ms),
        ]);
    }

    /** The run's W3C traceparent when the engine sent one ([TRACE-4]), else null. */
    public function traceparent(): ?string
    {
        return $this->traceparent;
    }

    /** The traceparent's fields (trace id, the engine's span id, flags), else null. */
    public function trace(): ?TraceContext
    {
        return TraceContext::parse($this->traceparent);
    }

    private static function invokeResult(string $id, mixed $result): mixed
    {
        $result = $result instanceof JsonObject ? $result->toArray() : (is_array($result) ? $result : []);
        $status = is_string($result['status'] ?? null) ? $result['status'] : '';
        if ($status === 'completed') {
            $output = $result['output'] ?? null;
            return $output instanceof JsonObject ? $output->toArray() : $output;
        }
        $error = $result['error'] ?? null;
        $error = $error instanceof JsonObject ? $error->toArray() : $error;
        $message = is_array($error) && is_string($error['message'] ?? null)
            ? $error['message'] : "the invoked run ended {$status}";
        throw new InvokeError(
            $message,
            Protocol::INVOKE_CODES[$status] ?? 'INVOKE_FAILED',
            ['runId' => $result['runId'] ?? null, 'status' => $status, 'error' => $error],
            $id,
        );
    }

    /**
     * Runs $callback once and memoizes its JSON-serializable result.
     *
     * @template T
     * @param callable(): T $callback
     * @return T|mixed the callback's result (as JSON decoded it, on replay)
     */
    public function run(string $id, callable $callback): mixed
    {
        $id = $this->claim($id);
        if ($this->memo($id, Protocol::MEMO_RUN, $data)) {
            return $data;
        }
        $this->insideRun = true;
        try {
            $data = $callback();
        } catch (Interrupt $interrupt) {
            throw $interrupt;
        } catch (Throwable $error) {
            if ($this->operation === null) {
                $this->thrown = $error;
            }
            $this->decide(Ops::fromThrowable($id, $error));
        } finally {
            $this->insideRun = false;
        }
        $this->decide(['op' => Protocol::OP_STEP, 'id' => $id, 'data' => $data]);
    }

    /** Parks the run for $duration ("30s", "2d", or milliseconds); no process waits. */
    public function sleep(string $id, string|int $duration): void
    {
        $id = $this->claim($id);
        if ($this->memo($id, Protocol::MEMO_SLEEP, $data)) {
            return;
        }
        $this->decide(['op' => Protocol::OP_SLEEP, 'id' => $id, 'until' => Ops::until(self::declaredMs($duration))]);
    }

    /**
     * Waits for the first event named $options['event'] whose data matches $options['match']
     * (key paths into the event's data => expected values), or returns null after $options['timeout'].
     *
     * @param array{event: string, timeout: string|int, match?: array<string, mixed>|null} $options
     * @return array<array-key, mixed>|null the matching event, or null on timeout
     */
    public function waitForEvent(string $id, array $options): ?array
    {
        $id = $this->claim($id);
        if ($this->memo($id, Protocol::MEMO_WAIT, $data)) {
            return $data instanceof JsonObject ? $data->toArray() : (is_array($data) ? $data : null);
        }
        $event = $options['event'] ?? null;
        if (!is_string($event) || $event === '') {
            throw new InvalidArgumentException(
                "waitForEvent(\"{$id}\"): option \"event\" must be a non-empty event name",
            );
        }
        if (!array_key_exists('timeout', $options)) {
            throw new InvalidArgumentException("waitForEvent(\"{$id}\"): option \"timeout\" is required");
        }
        $match = $options['match'] ?? null;
        if ($match !== null && !Definition::isObject($match)) {
            throw new InvalidArgumentException(
                "waitForEvent(\"{$id}\"): option \"match\" must be an object of key path => value",
            );
        }
        foreach (array_keys($match instanceof JsonObject ? $match->toArray() : ($match ?? [])) as $path) {
            if (!Definition::isKeyPath((string) $path)) {
                throw new InvalidArgumentException(
                    "waitForEvent(\"{$id}\"): match key \"{$path}\" is not a key path (\"userId\", \"user.id\")",
                );
            }
        }
        $unknown = array_diff(array_keys($options), ['event', 'timeout', 'match']);
        if ($unknown !== []) {
            throw new InvalidArgumentException("waitForEvent(\"{$id}\"): unknown option \"" . reset($unknown) . '"');
        }
        $this->decide([
            'op' => Protocol::OP_WAIT,
            'id' => $id,
            'event' => $event,
            'match' => $match === [] ? new JsonObject() : $match,
            'until' => Ops::until(self::declaredMs($options['timeout'])),
        ]);
    }

    /**
     * Sends one event (`['name' => ..., 'data' => ..., 'id' => ...]`) or a list of 1-100;
     * the engine stores them with the step, exactly once.
     *
     * @param array<array-key, mixed> $events
     * @return list<mixed> the receipts
     */
    public function sendEvent(string $id, array $events): array
    {
        $id = $this->claim($id);
        if ($this->memo($id, Protocol::MEMO_SEND_EVENT, $data)) {
            return is_array($data) ? $data : [];
        }
        $list = array_is_list($events) ? $events : [$events];
        if ($list === [] || count($list) > Protocol::MAX_EVENTS_PER_SEND) {
            throw new NonRetriableError('step.sendEvent requires 1-100 events', Protocol::CODE_INVALID_EVENTS);
        }
        foreach ($list as $index => $event) {
            if (!is_array($event) || !is_string($event['name'] ?? null) || $event['name'] === '') {
                throw new NonRetriableError(
                    "step.sendEvent(\"{$id}\"): event {$index} needs a non-empty \"name\"",
                    Protocol::CODE_INVALID_EVENTS,
                );
            }
            if (($event['data'] ?? null) === []) {
                // An event's data is an object: [] means {} here.
                $list[$index]['data'] = new JsonObject();
            }
        }
        if ($this->traceparent !== null) { // [TRACE-4]: the sent events continue the trace
            foreach ($list as $index => $event) {
                $list[$index]['traceparent'] ??= $this->traceparent;
            }
        }
        $this->decide(['op' => Protocol::OP_SEND_EVENT, 'id' => $id, 'events' => $list]);
    }

    /**
     * Runs 1-20 named callables and memoizes all their results as one step
     * (sequentially: PHP has no threads; the results are what matters for replay).
     *
     * @param array<string, callable(): mixed> $tasks
     * @return array<array-key, mixed>|JsonObject name => result
     */
    public function parallel(string $id, array $tasks): array|JsonObject
    {
        if ($tasks === [] || count($tasks) > Protocol::MAX_PARALLEL_TASKS) {
            throw new NonRetriableError('step.parallel requires 1-20 tasks', Protocol::CODE_INVALID_PARALLEL);
        }
        return $this->run($id, static function () use ($tasks): array|JsonObject {
            $results = [];
            foreach ($tasks as $name => $task) {
                $results[$name] = $task();
            }
            // Always a JSON object, even for tasks named 0, 1, ...
            return array_is_list($results) ? new JsonObject($results) : $results;
        });
    }

    /** 0-based attempt of the current position (grows on retries, resets once a step commits). */
    public function attempt(): int
    {
        return $this->attempt;
    }

    public function runId(): string
    {
        return $this->runId;
    }

    /** The runtime function id (`id` or `id@version`). */
    public function functionId(): string
    {
        return $this->functionId;
    }

    /**
     * The events of this run: every event of a batch in arrival order, else just the trigger.
     *
     * @return list<mixed>
     */
    public function events(): array
    {
        return $this->events;
    }

    /** @internal the operation a step decided, if any */
    public function decided(): ?array
    {
        return $this->operation;
    }

    /** @internal the exception of a step's callback that decided an error op, if any */
    public function thrown(): ?Throwable
    {
        return $this->thrown;
    }

    /** Counts uses of an id; the n-th use (n >= 2) is memoized under "id#n". */
    private function claim(string $id): string
    {
        if ($this->operation !== null) {
            // The handler swallowed an interrupt and went on: keep the first decision.
            throw new Interrupt($this->operation);
        }
        if ($id === '') {
            throw new InvalidArgumentException('step id must be a non-empty string');
        }
        if ($this->insideRun) {
            throw new NonRetriableError(
                "step \"{$id}\" called inside another step's callback; steps cannot be nested",
                'NESTED_STEP',
            );
        }
        if (!$this->occurrences) {
            return $id;
        }
        $count = $this->uses[$id] = ($this->uses[$id] ?? 0) + 1;
        return $count === 1 ? $id : "{$id}#{$count}";
    }

    private function memo(string $id, string $type, mixed &$data): bool
    {
        if (!isset($this->memos[$id])) {
            return false;
        }
        $memo = $this->memos[$id];
        if ($memo['type'] !== $type) {
            if (!$this->strictReplay) {
                // Plain v1: an ordinary (retryable) handler error.
                throw new \LogicException("step \"{$id}\" already used as a {$memo['type']}");
            }
            $this->decide(Ops::error(
                $id,
                "step \"{$id}\" was memoized as {$memo['type']}, not {$type}",
                'NonDeterministicError',
                Protocol::CODE_NON_DETERMINISTIC,
                false,
            ));
        }
        $data = $memo['data'] ?? null;
        return true;
    }

    /** @param array<string, mixed> $operation */
    private function decide(array $operation): never
    {
        $this->operation = $operation;
        throw new Interrupt($operation);
    }

    /** A step's duration; an invalid one is a non-retriable error of the handler ([ERR-8]). */
    private static function declaredMs(mixed $value): int
    {
        if (!is_string($value) && !is_int($value)) {
            throw new NonRetriableError('invalid duration: ' . get_debug_type($value), Protocol::CODE_INVALID_DURATION);
        }
        try {
            return Duration::toMs($value);
        } catch (InvalidArgumentException $error) {
            throw new NonRetriableError($error->getMessage(), Protocol::CODE_INVALID_DURATION);
        }
    }
}
