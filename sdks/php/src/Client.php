<?php

declare(strict_types=1);

namespace Durable;

use CurlHandle;
use InvalidArgumentException;
use JsonException;

/**
 * The engine API, signed with the workspace key. Every call retries 408, 429, 5xx and
 * network errors with exponential backoff; redirects are never followed; answers over
 * maxResponseBytes are refused.
 */
final class Client
{
    private readonly string $baseUrl;

    public function __construct(
        string $baseUrl,
        private readonly string $appId,
        private readonly string $signingKey,
        private readonly float $timeout = 30.0,
        private readonly int $retries = 2,
        private readonly int $backoffMs = 100,
        private readonly int $maxRequestBytes = 1_048_576,
        private readonly int $maxResponseBytes = 1_048_576,
        /** Also sign with X-Durable-Timestamp + X-Durable-Signature-V2 (replay-proof). */
        private readonly bool $timestampedSignatures = true,
    ) {
        if ($appId === '' || $signingKey === '') {
            throw new InvalidArgumentException('appId and signingKey must not be empty');
        }
        if ($retries < 0) {
            throw new InvalidArgumentException('retries must not be negative');
        }
        $this->baseUrl = rtrim($baseUrl, '/');
    }

    /**
     * Registers the functions with the engine (replacing the workspace's live set). Given the
     * app's Handler, also sends its capabilities and maxRequestBytes, as the manifest would.
     *
     * @param Handler|iterable<DurableFunction> $functions
     * @return array<string, mixed> {ok, functions, deactivated}
     */
    public function sync(Handler|iterable $functions): array
    {
        $handler = $functions instanceof Handler ? $functions : null;
        $definitions = [];
        foreach ($handler?->functions() ?? $functions as $function) {
            $definitions[] = $function->definition();
        }
        $request = ['sdkVersion' => Protocol::SDK_VERSION, 'functions' => $definitions];
        if ($handler !== null && $handler->capabilities() !== []) {
            $request['capabilities'] = $handler->capabilities();
            $request['maxRequestBytes'] = $handler->maxRequestBytes();
        }
        return $this->post('/fn/sync', $request);
    }

    /**
     * Sends one event. The id makes a resend idempotent (a generated UUID when omitted).
     *
     * @return array<string, mixed> the receipt
     * @throws EventSendError carrying the event id, so the caller can resend safely
     */
    public function send(string $name, mixed $data = null, ?string $id = null, ?int $ts = null): array
    {
        $event = self::event(['name' => $name, 'data' => $data, 'id' => $id, 'ts' => $ts]);
        try {
            return $this->post('/e', $event);
        } catch (DurableException $error) {
            throw new EventSendError([$event['id']], $error->getMessage(), $error->status, $error);
        }
    }

    /**
     * Sends 1-100 events in one call.
     *
     * @param list<array{name: string, data?: mixed, id?: string, ts?: int}> $events
     * @return list<array<string, mixed>> the receipts, in order
     */
    public function sendMany(array $events): array
    {
        if ($events === [] || count($events) > Protocol::MAX_EVENTS_PER_SEND || !array_is_list($events)) {
            throw new InvalidArgumentException('sendMany requires a list of 1-100 events');
        }
        $normalized = array_map(static fn (array $event): array => self::event($event), $events);
        try {
            $answer = $this->post('/e/bulk', ['events' => $normalized]);
        } catch (DurableException $error) {
            throw new EventSendError(array_column($normalized, 'id'), $error->getMessage(), $error->status, $error);
        }
        if (!isset($answer['events']) || !is_array($answer['events'])) {
            throw new EventSendError(array_column($normalized, 'id'), 'durable /e/bulk answered without events');
        }
        return $answer['events'];
    }

    /** @return array<string, mixed> a page of runs */
    public function searchRuns(
        ?string $functionId = null,
        ?string $status = null,
        ?string $cursor = null,
        ?int $limit = null,
    ): array {
        $filters = ['functionId' => $functionId, 'status' => $status, 'cursor' => $cursor, 'limit' => $limit];
        $filters = array_filter($filters, static fn (mixed $value): bool => $value !== null);
        return $this->post('/runs/search', $filters === [] ? new JsonObject() : $filters);
    }

    /** @return array<string, mixed> */
    public function getRun(string $runId): array
    {
        return $this->post('/runs/get', ['runId' => $runId]);
    }

    public function cancelRun(string $runId): bool
    {
        return (bool) ($this->post('/runs/cancel', ['runId' => $runId])['ok'] ?? false);
    }

    /**
     * @return array<string, mixed> the new run
     * @throws RunActionError carrying the idempotency key to retry with
     */
    public function rerun(string $runId, ?string $idempotencyKey = null): array
    {
        return $this->keyed('/runs/rerun', ['runId' => $runId], $idempotencyKey);
    }

    /**
     * @return array<string, mixed> the new run, replaying memos before $stepId
     * @throws RunActionError carrying the idempotency key to retry with
     */
    public function rerunFromStep(string $runId, string $stepId, ?string $idempotencyKey = null): array
    {
        return $this->keyed('/runs/rerun', ['runId' => $runId, 'stepId' => $stepId], $idempotencyKey);
    }

    /**
     * Every invocation the engine sent for the run, oldest first, one page per call ([API-19]).
     *
     * @return array{runId: string, attempts: list<array{deliveryId: string, namespace: string, attempt: int,
     *     at: string, durationMs: int, httpStatus: ?int, op: ?string, error: ?string, code: ?string}>,
     *     nextCursor: ?string}
     */
    public function runHistory(string $runId, ?string $cursor = null, ?int $limit = null): array
    {
        $request = array_filter(['runId' => $runId, 'cursor' => $cursor, 'limit' => $limit], self::given(...));
        return self::withList('/runs/history', $this->post('/runs/history', $request), 'attempts');
    }

    /**
     * Cancels the non-terminal runs matching the filter (at least one of $functionId, $status,
     * $createdFrom, $createdTo), one page of up to $limit runs per call ([API-16], [API-17]);
     * call again with `nextCursor` until it is null.
     *
     * @return array{cancelled: list<string>, nextCursor: ?string}
     */
    public function bulkCancel(
        ?string $functionId = null,
        ?string $status = null,
        string|\DateTimeInterface|null $createdFrom = null,
        string|\DateTimeInterface|null $createdTo = null,
        ?string $cursor = null,
        ?int $limit = null,
    ): array {
        $request = self::bulkFilter($functionId, $status, $createdFrom, $createdTo)
            + array_filter(['cursor' => $cursor, 'limit' => $limit], self::given(...));
        return self::withList('/runs/bulk-cancel', $this->post('/runs/bulk-cancel', $request), 'cancelled');
    }

    /**
     * Reruns the runs matching the filter, one page per call ([API-18]). Pass the same
     * $idempotencyKey for every page and on a retry: each source run is rerun once.
     *
     * @return array{reruns: list<array{runId: string, rerunOf: string, duplicate: bool}>, nextCursor: ?string}
     * @throws RunActionError carrying the idempotency key to retry with
     */
    public function bulkRerun(
        ?string $functionId = null,
        ?string $status = null,
        string|\DateTimeInterface|null $createdFrom = null,
        string|\DateTimeInterface|null $createdTo = null,
        ?string $idempotencyKey = null,
        ?string $cursor = null,
        ?int $limit = null,
    ): array {
        $request = self::bulkFilter($functionId, $status, $createdFrom, $createdTo)
            + array_filter(['cursor' => $cursor, 'limit' => $limit], self::given(...));
        return self::withList('/runs/bulk-rerun', $this->keyed('/runs/bulk-rerun', $request, $idempotencyKey), 'reruns');
    }

    /**
     * Every live runtime id of the workspace with its trigger and run counts ([API-21]).
     *
     * @return list<array{functionId: string, runtimeId: string, version: ?string, trigger: array<string, string>,
     *     active: bool, runs: array<string, int>}>
     */
    public function listFunctions(): array
    {
        return self::withList('/functions/list', $this->post('/functions/list', new JsonObject()), 'functions')['functions'];
    }

    /**
     * @param array<string, mixed> $request
     * @return array<string, mixed>
     */
    private function keyed(string $path, array $request, ?string $idempotencyKey): array
    {
        $key = $idempotencyKey ?? self::uuid();
        try {
            return $this->post($path, $request + ['idempotencyKey' => $key]);
        } catch (DurableException $error) {
            throw new RunActionError($key, $error);
        }
    }

    /** @return array<string, string> */
    private static function bulkFilter(
        ?string $functionId,
        ?string $status,
        string|\DateTimeInterface|null $createdFrom,
        string|\DateTimeInterface|null $createdTo,
    ): array {
        $instant = static fn (string|\DateTimeInterface|null $value): ?string => $value instanceof \DateTimeInterface
            ? $value->format('Y-m-d\\TH:i:s.vP') : $value;
        $filter = array_filter([
            'functionId' => $functionId,
            'status' => $status,
            'createdFrom' => $instant($createdFrom),
            'createdTo' => $instant($createdTo),
        ], self::given(...));
        if ($filter === []) {
            throw new InvalidArgumentException('a bulk call needs a filter: functionId, status, createdFrom or createdTo');
        }
        return $filter;
    }

    private static function given(mixed $value): bool
    {
        return $value !== null;
    }

    /**
     * @param array<string, mixed> $answer
     * @return array<string, mixed>
     */
    private static function withList(string $path, array $answer, string $member): array
    {
        if (!is_array($answer[$member] ?? null) || !array_is_list($answer[$member])) {
            throw new DurableException("durable {$path} answered without a {$member} list", 200);
        }
        return $answer;
    }

    /** @return list<array<string, mixed>> failed deliveries */
    public function listFailures(int $limit = 50): array
    {
        $answer = $this->post('/failures/search', ['limit' => $limit]);
        return is_array($answer['failures'] ?? null) ? $answer['failures'] : [];
    }

    public function retryFailure(string $deliveryId): bool
    {
        return (bool) ($this->post('/failures/retry', ['deliveryId' => $deliveryId])['ok'] ?? false);
    }

    /** @return array<string, mixed> */
    public function getVersionStatus(string $functionId): array
    {
        return $this->post('/versions/status', ['functionId' => $functionId]);
    }

    /**
     * Creates a workspace (app × environment) with the admin token; returns {id, key, ...}.
     *
     * @return array<string, mixed>
     */
    public static function provisionApp(
        string $baseUrl,
        string $name,
        string $appUrl,
        string $environment = 'dev',
        ?string $adminToken = null,
        float $timeout = 30.0,
        int $retries = 2,
    ): array {
        $request = ['name' => $name, 'environment' => $environment, 'appUrl' => $appUrl];
        return self::admin($baseUrl, '/api/apps', $request, $adminToken, $timeout, $retries);
    }

    /**
     * Adds a second signing key to a workspace (rotation step 1; the old key keeps signing).
     *
     * @return array<string, mixed>
     */
    public static function rotateKey(
        string $baseUrl,
        string $appId,
        ?string $adminToken = null,
        float $timeout = 30.0,
    ): array {
        $path = '/api/apps/' . rawurlencode($appId) . '/rotate-key';
        return self::admin($baseUrl, $path, new JsonObject(), $adminToken, $timeout, 0);
    }

    /**
     * Drops the older key once every app verifies with the new one (rotation step 3).
     *
     * @return array<string, mixed>
     */
    public static function retireKey(
        string $baseUrl,
        string $appId,
        ?string $adminToken = null,
        float $timeout = 30.0,
    ): array {
        $path = '/api/apps/' . rawurlencode($appId) . '/retire-key';
        return self::admin($baseUrl, $path, new JsonObject(), $adminToken, $timeout, 0);
    }

    /**
     * Signed POST with retries. Public for engine API calls this class does not wrap yet.
     *
     * @param array<string, mixed>|JsonObject $payload
     * @return array<string, mixed>
     */
    public function post(string $path, array|JsonObject $payload): array
    {
        $body = Json::encode($payload);
        if (strlen($body) > $this->maxRequestBytes) {
            throw new DurableException("durable {$path} request exceeds {$this->maxRequestBytes} bytes");
        }
        $sign = function () use ($body): array {
            $headers = [
                'Content-Type' => 'application/json',
                Protocol::HEADER_APP => $this->appId,
                Protocol::HEADER_SIGNATURE => Signature::sign($body, $this->signingKey),
            ];
            if ($this->timestampedSignatures) {
                // Fresh per attempt, so a retry after a long backoff stays inside the window.
                $timestamp = (string) Signature::nowMs();
                $headers[Protocol::HEADER_TIMESTAMP] = $timestamp;
                $headers[Protocol::HEADER_SIGNATURE_V2] = Signature::signV2($timestamp, $body, $this->signingKey);
            }
            return $headers;
        };
        return self::exchange(
            $this->baseUrl . $path,
            $path,
            $body,
            $sign,
            $this->timeout,
            $this->retries,
            $this->backoffMs,
            $this->maxResponseBytes,
        );
    }

    /**
     * @param array<string, mixed>|JsonObject $payload
     * @return array<string, mixed>
     */
    private static function admin(
        string $baseUrl,
        string $path,
        array|JsonObject $payload,
        ?string $adminToken,
        float $timeout,
        int $retries,
    ): array {
        $body = Json::encode($payload);
        $headers = ['Content-Type' => 'application/json'];
        if ($adminToken !== null && $adminToken !== '') {
            $headers['Authorization'] = "Bearer {$adminToken}";
        }
        $url = rtrim($baseUrl, '/') . $path;
        return self::exchange($url, $path, $body, static fn (): array => $headers, $timeout, $retries, 100, 1_048_576);
    }

    /**
     * @param callable(): array<string, string> $headers
     * @return array<string, mixed>
     */
    private static function exchange(
        string $url,
        string $path,
        string $body,
        callable $headers,
        float $timeout,
        int $retries,
        int $backoffMs,
        int $maxResponseBytes,
    ): array {
        for ($attempt = 0;; $attempt++) {
            [$status, $answer, $transportError] = self::request($url, $body, $headers(), $timeout, $maxResponseBytes);
            if ($status === 200) {
                try {
                    $decoded = json_decode($answer, true, 512, JSON_THROW_ON_ERROR);
                } catch (JsonException $error) {
                    throw new DurableException("durable {$path} returned invalid JSON", 200, $error);
                }
                if (!is_array($decoded) || ($decoded !== [] && array_is_list($decoded))) {
                    throw new DurableException("durable {$path} returned JSON that is not an object", 200);
                }
                return $decoded;
            }
            $retryable = $transportError !== null || $status === 408 || $status === 429 || $status >= 500;
            if (!$retryable || $attempt >= $retries) {
                $message = $transportError !== null
                    ? "durable {$path} request failed: {$transportError}"
                    : "durable {$path} failed: {$status} " . mb_strimwidth($answer, 0, 500, '...');
                $error = json_decode($answer, true)['error'] ?? null;
                $code = is_array($error) ? ($error['code'] ?? null) : null;
                $pointer = is_array($error) ? ($error['path'] ?? null) : null;
                throw new DurableException(
                    $message,
                    $transportError !== null ? null : $status,
                    $transportError !== null ? new \RuntimeException($transportError) : null,
                    is_string($code) ? $code : null,
                    is_string($pointer) ? $pointer : null,
                );
            }
            // Exponential backoff with jitter in [0.5, 1.0], capped at 2 s.
            $delayMs = min(2000, $backoffMs * (2 ** $attempt)) * (0.5 + mt_rand() / mt_getrandmax() / 2);
            usleep((int) ($delayMs * 1000));
        }
    }

    /**
     * @param array<string, string> $headers
     * @return array{int, string, ?string} status (0 on transport error), body, transport error
     */
    private static function request(
        string $url,
        string $body,
        array $headers,
        float $timeout,
        int $maxResponseBytes,
    ): array {
        $received = '';
        $tooLarge = false;
        $curl = curl_init($url);
        if (!$curl instanceof CurlHandle) {
            return [0, '', 'curl_init failed'];
        }
        $lines = [];
        foreach ($headers as $name => $value) {
            $lines[] = "{$name}: {$value}";
        }
        $lines[] = 'Expect:';
        curl_setopt_array($curl, [
            CURLOPT_POST => true,
            CURLOPT_POSTFIELDS => $body,
            CURLOPT_HTTPHEADER => $lines,
            CURLOPT_FOLLOWLOCATION => false,
            CURLOPT_TIMEOUT_MS => (int) ($timeout * 1000),
            CURLOPT_CONNECTTIMEOUT_MS => (int) (min($timeout, 10.0) * 1000),
            CURLOPT_PROTOCOLS => CURLPROTO_HTTP | CURLPROTO_HTTPS,
            CURLOPT_WRITEFUNCTION => static function (
                $handle,
                string $chunk,
            ) use (
                &$received,
                &$tooLarge,
                $maxResponseBytes,
            ): int {
                if (strlen($received) + strlen($chunk) > $maxResponseBytes) {
                    $tooLarge = true;
                    return 0;
                }
                $received .= $chunk;
                return strlen($chunk);
            },
        ]);
        $ok = curl_exec($curl);
        $status = (int) curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
        $error = curl_error($curl);
        curl_close($curl);
        if ($tooLarge) {
            throw new DurableException("durable response exceeds {$maxResponseBytes} bytes", $status ?: null);
        }
        if ($ok === false) {
            return [0, '', $error !== '' ? $error : 'transport error'];
        }
        return [$status, $received, null];
    }

    /**
     * @param array<string, mixed> $event
     * @return array<string, mixed> {id, name, data[, ts]}
     */
    private static function event(array $event): array
    {
        if (!is_string($event['name'] ?? null) || $event['name'] === '') {
            throw new InvalidArgumentException('an event needs a non-empty "name"');
        }
        $data = $event['data'] ?? null;
        $normalized = [
            'id' => is_string($event['id'] ?? null) && $event['id'] !== '' ? $event['id'] : self::uuid(),
            'name' => $event['name'],
            'data' => ($data === null || $data === []) ? new JsonObject() : $data,
        ];
        if (isset($event['ts'])) {
            $normalized['ts'] = $event['ts'];
        }
        return $normalized;
    }

    public static function uuid(): string
    {
        $bytes = random_bytes(16);
        $bytes[6] = chr((ord($bytes[6]) & 0x0f) | 0x40);
        $bytes[8] = chr((ord($bytes[8]) & 0x3f) | 0x80);
        return vsprintf('%s%s-%s-%s-%s-%s%s%s', str_split(bin2hex($bytes), 4));
    }
}
