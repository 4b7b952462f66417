<?php

declare(strict_types=1);

namespace Durable;

use RuntimeException;

/** What an onFailure handler receives: the error that failed the run, as the engine reports it. */
final class FailureError extends RuntimeException
{
    public function __construct(
        string $message,
        public readonly string $name = 'Error',
        public readonly ?string $errorCode = null,
        public readonly ?string $stepId = null,
        public readonly mixed $details = null,
    ) {
        parent::__construct($message);
    }

    /** @param array<array-key, mixed>|JsonObject $failure the invoke's `failure` object */
    public static function fromWire(array|JsonObject $failure): self
    {
        $text = static fn (mixed $value): ?string => is_string($value) ? $value : null;
        return new self(
            $text($failure['message'] ?? null) ?? 'unknown failure',
            $text($failure['name'] ?? null) ?? 'Error',
            $text($failure['code'] ?? null),
            $text($failure['stepId'] ?? null),
            $failure['details'] ?? null,
        );
    }
}
