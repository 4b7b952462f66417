<?php

declare(strict_types=1);

namespace Durable;

use Closure;
use Durable\Internal\Interrupt;
use Durable\Internal\Ops;
use InvalidArgumentException;
use JsonException;
use Psr\Log\LoggerInterface;
use Throwable;

/**
 * The app endpoint, free of any I/O: (method, headers, raw body) → Response.
 * Serves the signed manifest on GET and runs invocations on POST.
 * `serve()` wires it to plain PHP (`php -S`, php-fpm); Psr7Handler to PSR-7 frameworks.
 */
final class Handler
{
    /** The smallest maxRequestBytes a manifest may state. */
    public const MIN_MAX_REQUEST_BYTES = 65_536;

    /** @var array<string, DurableFunction> by runtime id */
    private readonly array $functions;
    /** @var list<string> */
    private readonly array $capabilities;
    /** @var list<string> keys accepted on verification: primary, then fallback */
    private readonly array $keys;
    private readonly Closure $clock;

    /**
     * @param iterable<DurableFunction> $functions
     * @param list<string>|null $capabilities advertised capabilities; null = all the SDK implements,
     *        [] = plain protocol v1 (no timestamped signatures, no step-id occurrences)
     * @param (Closure(): int)|null $clock unix milliseconds, for tests
     */
    public function __construct(
        iterable $functions,
        private readonly string $signingKey,
        private readonly ?string $signingKeyFallback = null,
        private readonly ?string $appId = null,
        private readonly ?string $appName = null,
        private readonly bool $dev = false,
        ?array $capabilities = null,
        private readonly int $maxRequestBytes = Protocol::DEFAULT_MAX_REQUEST_BYTES,
        private readonly int $maxResponseBytes = Protocol::DEFAULT_MAX_RESPONSE_BYTES,
        ?Closure $clock = null,
        /** PSR-3 logger for exceptions of your code; null: PHP's error_log(). */
        private readonly ?LoggerInterface $logger = null,
        /** Wraps each invocation that carries a traceparent ([TRACE-4]); see TracedInvocation. */
        private readonly ?Closure $traceHook = null,
    ) {
        if ($signingKey === '') {
            throw new InvalidArgumentException('signingKey must not be empty');
        }
        $byId = [];
        foreach ($functions as $function) {
            if (!$function instanceof DurableFunction) {
                throw new InvalidArgumentException('functions must be DurableFunction instances');
            }
            $runtimeId = $function->runtimeId();
            if (isset($byId[$runtimeId])) {
                throw new InvalidArgumentException(
                    "function \"{$runtimeId}\" is defined twice (id and version must be unique)",
                );
            }
            $byId[$runtimeId] = $function;
        }
        $capabilities ??= Protocol::CAPABILITIES;
        foreach ($capabilities as $capability) {
            if (!in_array($capability, Protocol::CAPABILITIES, true)) {
                throw new InvalidArgumentException("unknown capability \"{$capability}\"");
            }
        }
        if ($maxRequestBytes < self::MIN_MAX_REQUEST_BYTES || $maxResponseBytes <= 0) {
            $min = self::MIN_MAX_REQUEST_BYTES;
            throw new InvalidArgumentException("maxRequestBytes must be at least {$min}, maxResponseBytes positive");
        }
        $this->functions = $byId;
        $this->capabilities = array_values($capabilities);
        $this->keys = ($signingKeyFallback === null || $signingKeyFallback === '')
            ? [$signingKey] : [$signingKey, $signingKeyFallback];
        $this->clock = $clock ?? static fn (): int => Signature::nowMs();
    }

    /** @return list<DurableFunction> in registration order */
    public function functions(): array
    {
        return array_values($this->functions);
    }

    /** @return list<string> */
    public function capabilities(): array
    {
        return $this->capabilities;
    }

    public function maxRequestBytes(): int
    {
        return $this->maxRequestBytes;
    }

    /** @return array<string, mixed> the manifest answered on GET */
    public function manifest(): array
    {
        $manifest = [
            'functions' => array_values(array_map(
                static fn (DurableFunction $function): array => $function->definition(),
                $this->functions,
            )),
            'sdkVersion' => Protocol::SDK_VERSION,
        ];
        if ($this->capabilities !== []) {
            $manifest['capabilities'] = $this->capabilities;
            $manifest['maxRequestBytes'] = $this->maxRequestBytes;
        }
        return $manifest;
    }

    /**
     * @param array<string, string|list<string>> $headers any case; the first value of a list is used
     */
    public function handle(string $method, array $headers, string $body): Response
    {
        $headers = self::normalize($headers);
        $method = strtoupper($method);
        if ($method === 'GET') {
            return $this->manifestResponse($headers);
        }
        if ($method !== 'POST') {
            return self::text(405, 'method not allowed', ['Allow' => 'GET, POST']);
        }
        if (strlen($body) > $this->maxRequestBytes) {
            return self::text(413, "request body exceeds {$this->maxRequestBytes} bytes");
        }
        $timestamp = null;
        if ($this->has(Protocol::CAP_TIMESTAMPED_SIGNATURES)) {
            // Both MACs: the v2 one binds the body to a fresh timestamp, the v1 one is still sent.
            $timestamp = $headers['x-durable-timestamp'] ?? null;
            if (
                !Signature::isFresh($timestamp, ($this->clock)())
                || !Signature::verify($timestamp . '.' . $body, $headers['x-durable-signature-v2'] ?? null, $this->keys)
            ) {
                return self::text(401, 'invalid signature');
            }
        }
        if (!Signature::verify($body, $headers['x-durable-signature'] ?? null, $this->keys)) {
            return self::text(401, 'invalid signature');
        }
        try {
            $request = Json::decode($body);
        } catch (JsonException) {
            return self::text(400, 'invalid JSON');
        }
        if (!Definition::isObject($request)) {
            return self::text(400, 'invalid request');
        }
        return $this->signedJson($this->invoke($request), $timestamp);
    }

    /**
     * A handler configured from the environment: DURABLE_SIGNING_KEY (required),
     * DURABLE_SIGNING_KEY_FALLBACK, DURABLE_APP_ID, DURABLE_APP_NAME, DURABLE_DEV=1,
     * DURABLE_CAPABILITIES ("none" for plain protocol v1, or a comma-separated list).
     *
     * @param iterable<DurableFunction> $functions
     * @param array<string, string>|null $env defaults to getenv()
     */
    public static function fromEnv(
        iterable $functions,
        ?array $env = null,
        ?LoggerInterface $logger = null,
        ?Closure $traceHook = null,
    ): self
    {
        $env ??= getenv();
        $get = static fn (string $name): ?string
            => (isset($env[$name]) && $env[$name] !== '') ? (string) $env[$name] : null;
        $key = $get('DURABLE_SIGNING_KEY') ?? throw new InvalidArgumentException(
            'DURABLE_SIGNING_KEY is not set: the app needs its workspace signing key',
        );
        $capabilities = $get('DURABLE_CAPABILITIES');
        return new self(
            $functions,
            $key,
            signingKeyFallback: $get('DURABLE_SIGNING_KEY_FALLBACK'),
            appId: $get('DURABLE_APP_ID'),
            appName: $get('DURABLE_APP_NAME'),
            dev: in_array(strtolower($get('DURABLE_DEV') ?? ''), ['1', 'true', 'yes'], true),
            capabilities: match ($capabilities) {
                null => null,
                'none' => [],
                default => array_values(array_filter(array_map('trim', explode(',', $capabilities)))),
            },
            logger: $logger,
            traceHook: $traceHook,
        );
    }

    /**
     * Serves the current request of a plain PHP SAPI (`php -S`, php-fpm, mod_php) and emits
     * the answer. With $path, other request paths get 404 (handy as a `php -S` router script).
     */
    public function serve(?string $path = null): void
    {
        if ($path !== null && parse_url((string) ($_SERVER['REQUEST_URI'] ?? '/'), PHP_URL_PATH) !== $path) {
            self::text(404, 'not found')->emit();
            return;
        }
        $method = strtoupper((string) ($_SERVER['REQUEST_METHOD'] ?? 'GET'));
        $headers = self::headersFromServer($_SERVER);
        $length = $_SERVER['CONTENT_LENGTH'] ?? '';
        if ($method === 'POST' && is_numeric($length) && (int) $length > $this->maxRequestBytes) {
            self::text(413, "request body exceeds {$this->maxRequestBytes} bytes")->emit();
            return;
        }
        $body = '';
        if ($method === 'POST') {
            // Read one byte past the limit so an over-long body without Content-Length is caught too.
            $body = (string) file_get_contents('php://input', false, null, 0, $this->maxRequestBytes + 1);
        }
        // Stray output (an echo or a displayed warning in user code) would corrupt the signed body.
        ob_start();
        try {
            $response = $this->handle($method, $headers, $body);
        } finally {
            $stray = (string) ob_get_clean();
        }
        if ($stray !== '') {
            error_log('durable: discarded ' . strlen($stray) . ' bytes of output written during the request');
        }
        $response->emit();
    }

    /**
     * Request headers from a `$_SERVER`-like array (HTTP_X_DURABLE_SIGNATURE → x-durable-signature).
     *
     * @param array<array-key, mixed> $server
     * @return array<string, string>
     */
    public static function headersFromServer(array $server): array
    {
        $headers = [];
        foreach ($server as $name => $value) {
            if (!is_string($value)) {
                continue;
            }
            if (str_starts_with((string) $name, 'HTTP_')) {
                $headers[strtolower(str_replace('_', '-', substr((string) $name, 5)))] = $value;
            } elseif ($name === 'CONTENT_TYPE' || $name === 'CONTENT_LENGTH') {
                $headers[strtolower(str_replace('_', '-', $name))] = $value;
            }
        }
        return $headers;
    }

    /** @param array<string, mixed>|JsonObject $request an invoke request (a JSON object) */
    private function invoke(array|JsonObject $request): array
    {
        $functionId = $request['functionId'] ?? null;
        $function = is_string($functionId) ? ($this->functions[$functionId] ?? null) : null;
        if ($function === null) {
            // Shape fixed by protocol v1: no name, no code.
            $shown = $functionId === null ? '?' : (is_string($functionId) ? $functionId : Json::encode($functionId));
            return [
                'op' => Protocol::OP_ERROR,
                'id' => null,
                'message' => "unknown function {$shown}",
                'retryable' => false,
            ];
        }
        $problem = self::requestProblem($request);
        if ($problem !== null) {
            // A signed object with malformed members still gets one op (INV-6); replaying it cannot help.
            return Ops::error(null, "invalid request: {$problem}", 'InvalidRequestError', null, false);
        }
        $event = $request['event'];
        $event = $event instanceof JsonObject ? $event->toArray() : $event;
        $events = $request['events'] ?? [$request['event']];
        $step = new Step(
            $request['steps'] ?? [],
            $request['runId'] ?? '',
            $request['attempt'] ?? 0,
            $events,
            $this->has(Protocol::CAP_STEP_OCCURRENCES),
            $functionId,
            $this->has(Protocol::CAP_STRICT_REPLAY),
            $this->has(Protocol::CAP_STEP_INVOKE),
            $this->has(Protocol::CAP_TRACE_CONTEXT) && is_string($request['traceparent'] ?? null)
                && preg_match(Protocol::TRACEPARENT_PATTERN, $request['traceparent']) === 1
                ? $request['traceparent'] : null,
        );
        $failure = $request['failure'] ?? null;
        $thrown = null;
        if ($failure !== null && $function->onFailure === null) {
            return Ops::error(
                null,
                'onFailure handler not found',
                'MissingFailureHandlerError',
                Protocol::CODE_MISSING_FAILURE_HANDLER,
                false,
            );
        }
        $interrupt = null;
        $call = static function () use ($function, $failure, $event, $step, $request, &$interrupt): mixed {
            try {
                if ($failure !== null) {
                    $error = FailureError::fromWire($failure);
                    return ($function->onFailure)($event, $step, $error, $request['runId'] ?? '');
                }
                return ($function->handler)($event, $step);
            } catch (Interrupt $stop) { // a step ended the invocation: not the hook's business
                $interrupt = $stop;
                return null;
            }
        };
        $trace = TraceContext::parse($step->traceparent());
        try {
            if ($this->traceHook === null || $trace === null) {
                $result = $call();
            } else {
                $result = ($this->traceHook)(new TracedInvocation(
                    $trace,
                    $functionId,
                    is_string($request['runId'] ?? null) ? $request['runId'] : '',
                    is_int($request['attempt'] ?? null) ? $request['attempt'] : 0,
                    $failure !== null,
                ), $call);
            }
            if ($interrupt !== null) {
                throw $interrupt;
            }
            $op = $step->decided() ?? ['op' => Protocol::OP_DONE, 'data' => $result];
        } catch (Interrupt $interrupt) {
            $op = $step->decided() ?? $interrupt->operation;
        } catch (Throwable $error) {
            $thrown = $step->decided() === null ? $error : null;
            $op = $step->decided() ?? Ops::fromThrowable($error instanceof InvokeError ? $error->stepId : null, $error);
        }
        if (($op['op'] ?? null) === Protocol::OP_ERROR) {
            $this->logError($functionId, $request, $failure !== null, $op, $step->thrown() ?? $thrown);
        }
        return $op;
    }

    /**
     * An exception of the user's code, logged with its stack: through the PSR-3 logger at
     * `error` (the Throwable in the context's `exception`), else PHP's error_log(). Ids,
     * attempt and step only: never the event's data or a step's result.
     *
     * @param array<string, mixed>|JsonObject $request
     * @param array<string, mixed> $op
     */
    private function logError(
        string $functionId,
        array|JsonObject $request,
        bool $inFailureHandler,
        array $op,
        ?Throwable $thrown,
    ): void {
        $step = is_string($op['id'] ?? null) ? ", step {$op['id']}" : '';
        $runId = is_string($request['runId'] ?? null) ? $request['runId'] : '';
        $attempt = is_int($request['attempt'] ?? null) ? $request['attempt'] : 0;
        $message = sprintf(
            'durable: %s %s raised %s: %s (run %s, attempt %d%s; %s)',
            $inFailureHandler ? 'onFailure handler of' : 'function',
            $functionId,
            is_string($op['name'] ?? null) ? $op['name'] : 'Error',
            is_string($op['message'] ?? null) ? $op['message'] : '',
            $runId,
            $attempt,
            $step,
            ($op['retryable'] ?? false) === true ? 'the engine retries it' : 'not retried',
        );
        try {
            if ($this->logger !== null) {
                $context = ['functionId' => $functionId, 'runId' => $runId, 'attempt' => $attempt];
                if ($thrown !== null) {
                    $context['exception'] = $thrown;
                }
                $this->logger->error($message, $context);
            } else {
                error_log($thrown === null ? $message : $message . "\n" . self::stack($thrown));
            }
        } catch (Throwable) {
            // a broken logger never changes the answer to the engine
        }
    }

    /** The exception's class, message, place and stack, without call arguments (they may hold data). */
    private static function stack(Throwable $error): string
    {
        $lines = [];
        for ($current = $error; $current !== null; $current = $current->getPrevious()) {
            $lines[] = ($current === $error ? '' : 'Caused by: ') . $current::class . ': ' . $current->getMessage()
                . ' in ' . $current->getFile() . ':' . $current->getLine();
            foreach ($current->getTrace() as $index => $frame) {
                $place = isset($frame['file']) ? "{$frame['file']}({$frame['line']})" : '[internal function]';
                $lines[] = "#{$index} {$place}: " . ($frame['class'] ?? '') . ($frame['type'] ?? '') . $frame['function'] . '()';
            }
        }
        return implode("\n", $lines);
    }

    /** @param array<string, string> $headers */
    private function manifestResponse(array $headers): Response
    {
        if ($this->dev && ($headers['x-durable-discovery'] ?? '') === 'true') {
            $discovery = $this->manifest() + ['signingKey' => $this->signingKey];
            if ($this->appId !== null) {
                $discovery['appId'] = $this->appId;
            }
            if ($this->appName !== null) {
                $discovery['appName'] = $this->appName;
            }
            return $this->signedJson($discovery, null);
        }
        $timestamp = $headers['x-durable-timestamp'] ?? null;
        if (
            !Signature::isFresh($timestamp, ($this->clock)())
            || !Signature::verify((string) $timestamp, $headers['x-durable-signature'] ?? null, $this->keys)
        ) {
            return self::text(401, 'invalid signature');
        }
        // [SIG-10]: a timestamped app signs the manifest answer with V2 over the request's timestamp too.
        $v2 = $this->has(Protocol::CAP_TIMESTAMPED_SIGNATURES) ? (string) $timestamp : null;
        return $this->signedJson($this->manifest(), $v2);
    }

    /** @param array<string, mixed> $value */
    private function signedJson(array $value, ?string $requestTimestamp): Response
    {
        try {
            $body = Json::encode($value);
            if (strlen($body) > $this->maxResponseBytes) {
                $body = null;
            }
        } catch (JsonException) {
            $body = null;
        }
        if ($body === null) {
            $body = Json::encode([
                'op' => Protocol::OP_ERROR,
                'id' => null,
                'message' => 'workflow response is not serializable or exceeds the response limit',
                'retryable' => false,
            ]);
        }
        $headers = [
            'Content-Type' => 'application/json',
            Protocol::HEADER_SIGNATURE => Signature::sign($body, $this->signingKey),
        ];
        if ($requestTimestamp !== null) {
            $headers[Protocol::HEADER_SIGNATURE_V2] = Signature::signV2($requestTimestamp, $body, $this->signingKey);
        }
        return new Response(200, $headers, $body);
    }

    private function has(string $capability): bool
    {
        return in_array($capability, $this->capabilities, true);
    }

    /**
     * Why an invoke request's members are malformed, or null.
     *
     * @param array<string, mixed>|JsonObject $request
     */
    private static function requestProblem(array|JsonObject $request): ?string
    {
        if (isset($request['runId']) && !is_string($request['runId'])) {
            return 'runId must be a string';
        }
        if (!isset($request['event']) || !Definition::isObject($request['event'])) {
            return 'event must be an object';
        }
        if (isset($request['steps'])) {
            if (!Definition::isObject($request['steps'])) {
                return 'steps must be an object';
            }
            foreach ($request['steps'] as $id => $memo) {
                if (!Definition::isObject($memo) || !is_string($memo['type'] ?? null)) {
                    return "steps.{$id} must be an object with a string type";
                }
            }
        }
        if (isset($request['attempt']) && (!is_int($request['attempt']) || $request['attempt'] < 0)) {
            return 'attempt must be a non-negative integer';
        }
        if (isset($request['events'])) {
            $events = $request['events'];
            $objects = is_array($events) && array_is_list($events)
                && !in_array(false, array_map(Definition::isObject(...), $events), true);
            if (!$objects) {
                return 'events must be an array of objects';
            }
        }
        if (isset($request['failure']) && !Definition::isObject($request['failure'])) {
            return 'failure must be an object';
        }
        return null;
    }

    /**
     * @param array<string, string|list<string>> $headers
     * @return array<string, string>
     */
    private static function normalize(array $headers): array
    {
        $normalized = [];
        foreach ($headers as $name => $value) {
            if (is_array($value)) {
                $value = $value[0] ?? '';
            }
            $normalized[strtolower((string) $name)] = (string) $value;
        }
        return $normalized;
    }

    /** @param array<string, string> $extra */
    private static function text(int $status, string $message, array $extra = []): Response
    {
        return new Response($status, ['Content-Type' => 'text/plain; charset=utf-8'] + $extra, $message);
    }
}
