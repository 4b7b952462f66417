<?php

declare(strict_types=1);

// Serve with:  DURABLE_SIGNING_KEY=... php -S 127.0.0.1:3000 examples/onboarding/index.php
// The engine calls http://127.0.0.1:3000/api/durable (DURABLE_DEV=1 enables dev discovery).

require __DIR__ . '/../../src/autoload.php';

use Durable\Handler;

if (parse_url((string) ($_SERVER['REQUEST_URI'] ?? '/'), PHP_URL_PATH) !== '/api/durable') {
    http_response_code(404);
    echo 'not found';
    return;
}

$functions = require __DIR__ . '/functions.php';

(new Handler(
    $functions,
    signingKey: getenv('DURABLE_SIGNING_KEY') ?: 'dev-signing-key',
    signingKeyFallback: getenv('DURABLE_SIGNING_KEY_FALLBACK') ?: null,
    appId: getenv('DURABLE_APP_ID') ?: null,
    appName: 'onboarding-example',
    dev: getenv('DURABLE_DEV') === '1',
))->serve();
