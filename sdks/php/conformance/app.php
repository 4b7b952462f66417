<?php

declare(strict_types=1);

// The conformance app: serves the catalog at /api/durable (router script for `php -S`).
// Environment: DURABLE_SIGNING_KEY, DURABLE_SIGNING_KEY_FALLBACK, DURABLE_APP_ID,
// DURABLE_APP_NAME, DURABLE_DEV=1 (dev discovery), DURABLE_CAPABILITIES=none (plain
// protocol v1): all read by Handler::fromEnv.

require __DIR__ . '/../src/autoload.php';
require_once __DIR__ . '/functions.php';

use Durable\Handler;

Handler::fromEnv(conformanceFunctions())->serve('/api/durable');
