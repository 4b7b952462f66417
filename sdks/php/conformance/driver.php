<?php

declare(strict_types=1);

// The PHP SDK's vector driver (conformance driver protocol 1, conformance/PORTING.md):
// durations through Duration::toMs, the parser Step::sleep, waitForEvent timeouts and
// function options call when they are declared. One JSON line in, one line out.

require __DIR__ . '/../src/autoload.php';

use Durable\Duration;

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

/** @return array<string, mixed> */
$driverAnswer = static function (string $line) use ($durationAnswer): array {
    try {
        $request = json_decode($line, true, 512, JSON_THROW_ON_ERROR);
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
