<?php

declare(strict_types=1);

// The conformance app: serves the catalog at /api/durable (router script for `php -S`).
// Environment: DURABLE_SIGNING_KEY, DURABLE_SIGNING_KEY_FALLBACK, DURABLE_APP_ID,
// DURABLE_CAPABILITIES=none (plain protocol v1).

require __DIR__ . '/../src/autoload.php';
require_once __DIR__ . '/functions.php';

use Durable\Handler;

$path = parse_url((string) ($_SERVER['REQUEST_URI'] ?? '/'), PHP_URL_PATH);
if ($path !== '/api/durable') {
    http_response_code(404);
    header('Content-Type: text/plain; charset=utf-8');
    echo 'not found';
    return;
}

$env = static function (string $name): ?string {
    $value = getenv($name);
    return ($value === false || $value === '') ? null : $value;
};
$capabilities = $env('DURABLE_CAPABILITIES');

$handler = new Handler(
    conformanceFunctions(),
    signingKey: $env('DURABLE_SIGNING_KEY') ?? 'conformance-signing-key',
    signingKeyFallback: $env('DURABLE_SIGNING_KEY_FALLBACK'),
    appId: $env('DURABLE_APP_ID'),
    capabilities: match ($capabilities) {
        null => null,
        'none' => [],
        default => array_values(array_filter(array_map('trim', explode(',', $capabilities)))),
    },
);
$handler->serve();
