<?php

declare(strict_types=1);

namespace Durable;

/**
 * Validates a FunctionDefinition in its wire form (as sent in the manifest and /fn/sync).
 * The first problem found is reported with the JSON Pointer of the failing field.
 */
final class Definition
{
    private const FIELDS = [
        'id', 'trigger', 'priority', 'enabled', 'hasOnFailure', 'version', 'retries', 'timeoutMs',
        'concurrency', 'throttle', 'rateLimit', 'debounce', 'batch',
        'cancelOn', 'idempotency', 'singleton',
    ];
    private const REQUIRED = ['id', 'trigger'];
    private const MAX_BATCH_SIZE = 100;
    private const MAX_CONCURRENCY_RULES = 10;
    private const MAX_CANCEL_ON_RULES = 10;
    /** Flow-control options => their required positive integers. */
    private const RULE_NUMBERS = [
        'throttle' => ['limit', 'periodMs'],
        'rateLimit' => ['limit', 'periodMs'],
        'debounce' => ['periodMs'],
        'batch' => ['maxSize', 'timeoutMs'],
    ];
    /** Options that cannot be combined; the error points at the key. */
    private const EXCLUSIONS = [
        'batch' => ['debounce', 'throttle', 'rateLimit'],
        'debounce' => ['throttle', 'rateLimit'],
        'idempotency' => ['batch', 'debounce'],
        'singleton' => ['batch', 'debounce'],
    ];

    private function __construct()
    {
    }

    /**
     * @param array<array-key, mixed>|JsonObject $definition
     * @throws DefinitionError
     */
    public static function validate(array|JsonObject $definition): void
    {
        if ($definition instanceof JsonObject) {
            $definition = $definition->toArray();
        } elseif ($definition !== [] && array_is_list($definition)) {
            throw new DefinitionError('', 'must be an object');
        }
        $id = is_string($definition['id'] ?? null) ? $definition['id'] : null;
        foreach (array_keys($definition) as $field) {
            if (!in_array($field, self::FIELDS, true)) {
                throw new DefinitionError('/' . self::escape((string) $field), 'unknown field', $id);
            }
        }
        foreach (self::REQUIRED as $field) {
            if (!array_key_exists($field, $definition)) {
                throw new DefinitionError('', "missing required field \"{$field}\"", $id);
            }
        }
        self::text($definition['id'], '/id', 200, $id);
        self::trigger($definition['trigger'], $id);
        $priority = $definition['priority'] ?? 0;
        if (!is_int($priority) || $priority < -600 || $priority > 600) {
            throw new DefinitionError('/priority', 'must be an integer from -600 to 600', $id);
        }
        foreach (['enabled', 'hasOnFailure'] as $flag) {
            if (array_key_exists($flag, $definition) && !is_bool($definition[$flag])) {
                throw new DefinitionError("/{$flag}", 'must be a boolean', $id);
            }
        }
        if (array_key_exists('version', $definition)) {
            self::text($definition['version'], '/version', 100, $id);
        }
        if (array_key_exists('retries', $definition)) {
            $retries = $definition['retries'];
            if (!is_int($retries) || $retries < 0 || $retries > 20) {
                throw new DefinitionError('/retries', 'must be an integer from 0 to 20', $id);
            }
        }
        if (array_key_exists('timeoutMs', $definition)) {
            self::positive($definition['timeoutMs'], '/timeoutMs', $id);
        }
        if (array_key_exists('concurrency', $definition)) {
            $concurrency = $definition['concurrency'];
            if (self::isObject($concurrency)) {
                self::rule($concurrency, '/concurrency', ['limit'], $id);
            } elseif (is_array($concurrency) && array_is_list($concurrency)) {
                if ($concurrency === [] || count($concurrency) > self::MAX_CONCURRENCY_RULES) {
                    throw new DefinitionError('/concurrency', 'must hold 1 to 10 rules', $id);
                }
                foreach ($concurrency as $index => $rule) {
                    self::rule($rule, "/concurrency/{$index}", ['limit'], $id);
                }
            } else {
                throw new DefinitionError('/concurrency', 'must be a rule object or a list of rules', $id);
            }
        }
        foreach (self::RULE_NUMBERS as $field => $numbers) {
            if (array_key_exists($field, $definition)) {
                self::rule($definition[$field], "/{$field}", $numbers, $id);
            }
        }
        if (array_key_exists('cancelOn', $definition)) {
            self::cancelOn($definition['cancelOn'], $id);
        }
        if (array_key_exists('idempotency', $definition)) {
            self::idempotency($definition['idempotency'], $id);
        }
        if (array_key_exists('singleton', $definition)) {
            self::singleton($definition['singleton'], $id);
        }
        $has = static fn (string $field): bool => array_key_exists($field, $definition);
        foreach (self::EXCLUSIONS as $field => $excluded) {
            foreach ($excluded as $other) {
                if ($has($field) && $has($other)) {
                    throw new DefinitionError("/{$field}", "cannot be combined with {$other}", $id);
                }
            }
        }
    }

    public static function isObject(mixed $value): bool
    {
        return $value instanceof JsonObject || (is_array($value) && ($value === [] || !array_is_list($value)));
    }

    private static function text(mixed $value, string $path, int $max, ?string $id): void
    {
        if (!is_string($value) || $value === '' || mb_strlen($value) > $max) {
            throw new DefinitionError($path, "must be a string of 1 to {$max} characters", $id);
        }
    }

    private static function trigger(mixed $trigger, ?string $id): void
    {
        if (!self::isObject($trigger) || count($trigger) !== 1) {
            throw new DefinitionError('/trigger', 'must be {"event": name} or {"cron": expression}', $id);
        }
        $kind = array_key_first((array) ($trigger instanceof JsonObject ? $trigger->toArray() : $trigger));
        $value = $trigger[$kind];
        if ($kind === 'event') {
            self::text($value, '/trigger/event', 200, $id);
            return;
        }
        if ($kind !== 'cron') {
            throw new DefinitionError('/trigger/' . self::escape((string) $kind), 'unknown trigger kind', $id);
        }
        if (!is_string($value) || ($problem = Cron::problem($value)) !== null) {
            $reason = isset($problem) ? "invalid cron expression ({$problem})" : 'must be a cron string';
            throw new DefinitionError('/trigger/cron', $reason, $id);
        }
    }

    /** @param list<string> $numbers fields that must be positive integers (all required) */
    private static function rule(mixed $rule, string $path, array $numbers, ?string $id): void
    {
        if (!self::isObject($rule)) {
            throw new DefinitionError($path, 'must be an object', $id);
        }
        foreach (array_keys($rule instanceof JsonObject ? $rule->toArray() : $rule) as $field) {
            if ($field !== 'key' && !in_array($field, $numbers, true)) {
                throw new DefinitionError("{$path}/" . self::escape((string) $field), 'unknown field', $id);
            }
        }
        foreach ($numbers as $field) {
            if (!isset($rule[$field])) {
                throw new DefinitionError($path, "missing required field \"{$field}\"", $id);
            }
            self::positive($rule[$field], "{$path}/{$field}", $id);
        }
        if ($path === '/batch' && $rule['maxSize'] > self::MAX_BATCH_SIZE) {
            throw new DefinitionError('/batch/maxSize', 'must be at most ' . self::MAX_BATCH_SIZE, $id);
        }
        if (isset($rule['key']) || (is_array($rule) && array_key_exists('key', $rule))) {
            if (!self::isKeyPath($rule['key'])) {
                $reason = 'must be a key path ("tenantId", "user.id"): 1 to 200 characters, no empty segment';
                throw new DefinitionError("{$path}/key", $reason, $id);
            }
        }
    }

    /** [CANCEL-1]: 1 to 10 rules {event, match?: {key path: key path}, timeoutMs?}. */
    private static function cancelOn(mixed $rules, ?string $id): void
    {
        if (!is_array($rules) || !array_is_list($rules) || $rules === []
            || count($rules) > self::MAX_CANCEL_ON_RULES) {
            throw new DefinitionError('/cancelOn', 'must hold 1 to ' . self::MAX_CANCEL_ON_RULES . ' rules', $id);
        }
        foreach ($rules as $index => $rule) {
            $path = "/cancelOn/{$index}";
            $rule = self::fields($rule, $path, ['event', 'match', 'timeoutMs'], $id);
            if (!array_key_exists('event', $rule)) {
                throw new DefinitionError($path, 'missing required field "event"', $id);
            }
            self::text($rule['event'], "{$path}/event", 200, $id);
            if (array_key_exists('match', $rule)) {
                $match = self::fields($rule['match'], "{$path}/match", null, $id);
                foreach ($match as $name => $source) {
                    if (!self::isKeyPath((string) $name) || !self::isKeyPath($source)) {
                        throw new DefinitionError("{$path}/match/" . self::escape((string) $name),
                            'must map a key path to a key path', $id);
                    }
                }
            }
            if (array_key_exists('timeoutMs', $rule)) {
                self::positive($rule['timeoutMs'], "{$path}/timeoutMs", $id);
            }
        }
    }

    /** [IDEM-1]: {key, periodMs?}. */
    private static function idempotency(mixed $rule, ?string $id): void
    {
        $rule = self::fields($rule, '/idempotency', ['key', 'periodMs'], $id);
        if (!array_key_exists('key', $rule)) {
            throw new DefinitionError('/idempotency', 'missing required field "key"', $id);
        }
        if (!self::isKeyPath($rule['key'])) {
            throw new DefinitionError('/idempotency/key', 'must be a key path', $id);
        }
        if (array_key_exists('periodMs', $rule)) {
            self::positive($rule['periodMs'], '/idempotency/periodMs', $id);
        }
    }

    /** [SINGLE-1]: {mode: "skip" | "cancel", key?}. */
    private static function singleton(mixed $rule, ?string $id): void
    {
        $rule = self::fields($rule, '/singleton', ['mode', 'key'], $id);
        if (!array_key_exists('mode', $rule)) {
            throw new DefinitionError('/singleton', 'missing required field "mode"', $id);
        }
        if (!in_array($rule['mode'], ['skip', 'cancel'], true)) {
            throw new DefinitionError('/singleton/mode', 'must be "skip" or "cancel"', $id);
        }
        if (array_key_exists('key', $rule) && !self::isKeyPath($rule['key'])) {
            throw new DefinitionError('/singleton/key', 'must be a key path', $id);
        }
    }

    /**
     * An object's members, each one of `$allowed` (any when null).
     *
     * @param list<string>|null $allowed
     * @return array<array-key, mixed>
     */
    private static function fields(mixed $value, string $path, ?array $allowed, ?string $id): array
    {
        if (!self::isObject($value)) {
            throw new DefinitionError($path, 'must be an object', $id);
        }
        $members = $value instanceof JsonObject ? $value->toArray() : (array) $value;
        foreach (array_keys($members) as $field) {
            if ($allowed !== null && !in_array($field, $allowed, true)) {
                throw new DefinitionError("{$path}/" . self::escape((string) $field), 'unknown field', $id);
            }
        }
        return $members;
    }

    /** A dotted path into an event's data: non-empty segments separated by ".". */
    public static function isKeyPath(mixed $path): bool
    {
        return is_string($path) && $path !== '' && mb_strlen($path) <= 200 && !in_array('', explode('.', $path), true);
    }

    private static function positive(mixed $value, string $path, ?string $id): void
    {
        if (!is_int($value) || $value <= 0) {
            throw new DefinitionError($path, 'must be a positive integer', $id);
        }
    }

    private static function escape(string $segment): string
    {
        return str_replace(['~', '/'], ['~0', '~1'], $segment);
    }
}
