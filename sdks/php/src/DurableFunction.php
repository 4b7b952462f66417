<?php

declare(strict_types=1);

namespace Durable;

use Closure;
use InvalidArgumentException;

/**
 * A durable function: its trigger, flow-control options and handler.
 *
 *     new DurableFunction(
 *         id: 'onboarding',
 *         trigger: ['event' => 'user.created'],
 *         handler: function (array $event, Step $step) { ... },
 *         concurrency: ['limit' => 2, 'key' => 'tenantId'],
 *     );
 *
 * Durations (`timeout`, `period`) take "500ms", "30s", "5m", "2h", "7d" or integer milliseconds.
 * Every option is validated here; a DefinitionError names the wrong field.
 */
final class DurableFunction
{
    /** User-facing option fields => wire fields (durations become milliseconds). */
    private const WINDOW_FIELDS = ['limit' => 'limit', 'period' => 'periodMs'];
    private const BATCH_FIELDS = ['maxSize' => 'maxSize', 'timeout' => 'timeoutMs'];

    public readonly Closure $handler;
    public readonly ?Closure $onFailure;
    /** @var array<string, mixed> the FunctionDefinition sent in the manifest and /fn/sync */
    private readonly array $definition;

    /**
     * @param array{event?: string, cron?: string} $trigger
     * @param array<string, mixed>|list<array<string, mixed>>|null $concurrency {limit, key?} or up to 10 of them
     * @param array<string, mixed>|null $throttle {limit, period, key?}: at most limit starts per period
     * @param array<string, mixed>|null $rateLimit {limit, period, key?}: runs beyond limit per period are skipped
     * @param array<string, mixed>|null $debounce {period, key?}: start period after the last event
     * @param array<string, mixed>|null $batch {maxSize, timeout, key?}: one run per batch of events
     * @param int|null $retries retries after the first attempt (0-20; engine default 3)
     * @param string|int|null $timeout the whole run's timeout
     * @param callable(array, Step, FailureError, string): mixed|null $onFailure runs once the run has failed;
     *        receives the event, a Step (its own memo namespace), the error and the run id
     * @param list<array<string, mixed>>|null $cancelOn [{event, match?: {path in event: path in run's event},
     *        timeout?}]: a matching event cancels the live run (protocol 1.1)
     * @param array<string, mixed>|null $idempotency {key, period?}: one run per key value and period (24 h)
     * @param array<string, mixed>|null $singleton {mode: "skip"|"cancel", key?}: one live run per key
     */
    public function __construct(
        public readonly string $id,
        public readonly array $trigger,
        callable $handler,
        public readonly array|null $concurrency = null,
        public readonly int $priority = 0,
        public readonly ?array $throttle = null,
        public readonly ?array $rateLimit = null,
        public readonly ?array $debounce = null,
        public readonly ?array $batch = null,
        public readonly ?int $retries = null,
        public readonly string|int|null $timeout = null,
        public readonly ?string $version = null,
        public readonly bool $enabled = true,
        ?callable $onFailure = null,
        public readonly ?array $cancelOn = null,
        public readonly ?array $idempotency = null,
        public readonly ?array $singleton = null,
    ) {
        $this->handler = Closure::fromCallable($handler);
        $this->onFailure = $onFailure === null ? null : Closure::fromCallable($onFailure);
        $this->definition = $this->buildDefinition();
        Definition::validate($this->definition);
    }

    /** `id@version` when versioned, else `id`: the functionId the engine invokes. */
    public function runtimeId(): string
    {
        return $this->version === null ? $this->id : "{$this->id}@{$this->version}";
    }

    /** @return array<string, mixed> */
    public function definition(): array
    {
        return $this->definition;
    }

    /** @return array<string, mixed> */
    private function buildDefinition(): array
    {
        $definition = [
            'id' => $this->id,
            'trigger' => $this->trigger,
            'priority' => $this->priority,
            'enabled' => $this->enabled,
            'hasOnFailure' => $this->onFailure !== null,
        ];
        if ($this->version !== null) {
            $definition['version'] = $this->version;
        }
        if ($this->retries !== null) {
            $definition['retries'] = $this->retries;
        }
        if ($this->timeout !== null) {
            $definition['timeoutMs'] = $this->duration($this->timeout, '/timeout');
        }
        if ($this->concurrency !== null) {
            $definition['concurrency'] = $this->concurrency;
        }
        if ($this->throttle !== null) {
            $definition['throttle'] = $this->option('throttle', $this->throttle, self::WINDOW_FIELDS);
        }
        if ($this->rateLimit !== null) {
            $definition['rateLimit'] = $this->option('rateLimit', $this->rateLimit, self::WINDOW_FIELDS);
        }
        if ($this->debounce !== null) {
            $definition['debounce'] = $this->option('debounce', $this->debounce, ['period' => 'periodMs']);
        }
        if ($this->batch !== null) {
            $definition['batch'] = $this->option('batch', $this->batch, self::BATCH_FIELDS);
        }
        // Protocol 1.1 members ([MINOR-2]): sent only when set.
        if ($this->cancelOn !== null) {
            $rules = [];
            foreach ($this->cancelOn as $index => $rule) {
                $rules[$index] = is_array($rule)
                    ? $this->renamed("cancelOn/{$index}", $rule, 'timeout', 'timeoutMs') : $rule;
            }
            $definition['cancelOn'] = $rules;
        }
        if ($this->idempotency !== null) {
            $definition['idempotency'] = $this->renamed('idempotency', $this->idempotency, 'period', 'periodMs');
        }
        if ($this->singleton !== null) {
            $definition['singleton'] = $this->singleton;
        }
        return $definition;
    }

    /**
     * Maps an option's user-facing fields to wire fields, converting durations.
     *
     * @param array<array-key, mixed> $value
     * @param array<string, string> $fields user field => wire field (the wire name is accepted too)
     * @return array<string, mixed>
     */
    private function option(string $name, array $value, array $fields): array
    {
        $wire = [];
        foreach ($fields as $field => $wireField) {
            $given = match (true) {
                array_key_exists($field, $value) => $field,
                array_key_exists($wireField, $value) => $wireField,
                default => null,
            };
            if ($given === null) {
                throw new DefinitionError("/{$name}", "missing required field \"{$field}\"", $this->id);
            }
            $item = $value[$given];
            if ($wireField !== $field && str_ends_with($wireField, 'Ms')) {
                $item = (is_string($item) || is_int($item)) ? $this->duration($item, "/{$name}/{$given}")
                    : throw new DefinitionError("/{$name}/{$given}", 'must be a duration', $this->id);
            }
            $wire[$wireField] = $item;
        }
        foreach ($value as $field => $item) {
            if ($field === 'key') {
                $wire['key'] = $item;
            } elseif (!isset($fields[$field]) && !in_array($field, $fields, true)) {
                throw new DefinitionError("/{$name}/{$field}", 'unknown field', $this->id);
            }
        }
        return $wire;
    }

    /**
     * The option with its duration field (if given) as milliseconds under its wire name.
     *
     * @param array<array-key, mixed> $value
     * @return array<array-key, mixed>
     */
    private function renamed(string $name, array $value, string $field, string $wireField): array
    {
        if (!array_key_exists($field, $value)) {
            return $value;
        }
        $item = $value[$field];
        unset($value[$field]);
        $value[$wireField] = (is_string($item) || is_int($item)) ? $this->duration($item, "/{$name}/{$field}")
            : throw new DefinitionError("/{$name}/{$field}", 'must be a duration', $this->id);
        return $value;
    }

    private function duration(string|int $value, string $path): int
    {
        try {
            $ms = Duration::toMs($value);
        } catch (InvalidArgumentException $error) {
            throw new DefinitionError($path, $error->getMessage(), $this->id);
        }
        if ($ms <= 0) {
            throw new DefinitionError($path, 'must be a positive duration', $this->id);
        }
        return $ms;
    }
}
