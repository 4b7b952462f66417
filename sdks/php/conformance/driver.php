<?php

declare(strict_types=1);

// The PHP SDK's vector driver (conformance driver protocol 1, conformance/PORTING.md):
// durations through Duration::toMs, the parser Step::sleep, waitForEvent timeouts and
// function options call when they are declared; the `client` area through Client::send;
// `signatures` through the app's own request check with the vector's clock.
// One JSON line in, one line out.

require __DIR__ . '/../src/autoload.php';

use Durable\Client;
use Durable\DurableException;
use Durable\Duration;
use Durable\Handler;

// Closures, not functions: a PSR-1 file either declares symbols or runs, not both.
/** @return array<string, mixed> */
$durationAnswer = static function (mixed $input): array {
    // toMs takes string|int: any other JSON type is refused before the parser is reached.
    if (!is_int($input) && !is_string($input)) {
        return ['valid' => false];
    }
    try {
        return ['valid' => true, 'ms' => Duration::toMs($input)];
    } catch (InvalidArgumentException) {
        return ['valid' => false];
    }
};

// The `client` area: send the case's event with the SDK's Client, defaults only.
/**
 * @param array<string, mixed> $case
 * @return array<string, mixed>
 */
$clientAnswer = static function (array $case): array {
    $client = new Client($case['engineUrl'], $case['appId'], $case['key']);
    $event = $case['event'];
    try {
        return ['receipt' => $client->send($event['name'], $event['data'], $event['id'])];
    } catch (DurableException $error) {
        return ['failed' => $error->getMessage()];
    }
};

// The `signatures` area: would the app accept this request with its clock at `now`?
/**
 * @param array<string, mixed> $case
 * @return array<string, mixed>
 */
$signatureAnswer = static function (array $case): array {
    $now = (int) $case['now'];
    $handler = new Handler(
        [],
        $case['keys'][0],
        $case['keys'][1] ?? null,
        capabilities: $case['hop'] === 'invoke-v2' ? ['timestamped-signatures'] : [],
        clock: static fn (): int => $now,
    );
    $reply = $handler->handle($case['hop'] === 'manifest' ? 'GET' : 'POST', $case['headers'], $case['body']);
    return ['valid' => $reply->status !== 401];
};

/** @return array<string, mixed> */
$driverAnswer = static function (string $line) use ($durationAnswer, $clientAnswer, $signatureAnswer): array {
    try {
        $request = json_decode($line, true, 512, JSON_THROW_ON_ERROR);
        if (($request['area'] ?? null) === 'client') {
            return $clientAnswer($request['case']);
        }
        if (($request['area'] ?? null) === 'signatures') {
            return $signatureAnswer($request['case']);
        }
        if (($request['area'] ?? null) !== 'durations') {
            return ['unsupported' => true];
        }
        return $durationAnswer($request['case']['input'] ?? null);
    } catch (Throwable $error) {
        return ['error' => get_class($error) . ': ' . $error->getMessage()];
    }
};

while (($line = fgets(STDIN)) !== false) {
    if (trim($line) === '') {
        continue;
    }
    fwrite(STDOUT, json_encode($driverAnswer($line), JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR) . "\n");
    fflush(STDOUT);
}
