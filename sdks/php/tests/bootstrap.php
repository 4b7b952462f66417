<?php

declare(strict_types=1);

// Tests run without composer: a PSR-4 autoloader for the SDK and the test helpers.
spl_autoload_register(static function (string $class): void {
    $prefixes = [
        'Durable\\Tests\\' => __DIR__ . '/',
        'Durable\\' => dirname(__DIR__) . '/src/',
    ];
    foreach ($prefixes as $prefix => $dir) {
        if (str_starts_with($class, $prefix)) {
            $file = $dir . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
            if (is_file($file)) {
                require $file;
            }
            return;
        }
    }
});

// Debian's PSR-7 packages (php-psr-http-message, php-nyholm-psr7) back the PSR-7 adapter tests.
// Debian's php-psr-log backs the PSR-3 logging tests.
foreach (['Nyholm/Psr7/autoload.php', 'Psr/Http/Message/autoload.php', 'Psr/Log/autoload.php'] as $debianAutoload) {
    $path = '/usr/share/php/' . $debianAutoload;
    if (is_file($path)) {
        require_once $path;
    }
}

error_reporting(E_ALL);
