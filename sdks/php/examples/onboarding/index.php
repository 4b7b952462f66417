<?php

declare(strict_types=1);

// Serve with:  DURABLE_SIGNING_KEY=... php -S 127.0.0.1:3000 examples/onboarding/index.php
// The engine calls http://127.0.0.1:3000/api/durable. DURABLE_DEV=1 enables dev discovery;
// DURABLE_SIGNING_KEY_FALLBACK, DURABLE_APP_ID, DURABLE_APP_NAME are read too.

require __DIR__ . '/../../src/autoload.php';

use Durable\Handler;

$functions = require __DIR__ . '/functions.php';

Handler::fromEnv($functions)->serve('/api/durable');
