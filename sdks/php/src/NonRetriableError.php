<?php

declare(strict_types=1);

namespace Durable;

use RuntimeException;
use Throwable;

/** Thrown from a step or handler: the run fails at once instead of being retried. */
class NonRetriableError extends RuntimeException
{
    /** Machine-readable code (at most 100 characters), sent as the error op's `code`. */
    public readonly ?string $errorCode;

    public function __construct(
        string $message,
        ?string $code = null,
        public readonly mixed $details = null,
        public readonly string $name = 'NonRetriableError',
        ?Throwable $previous = null,
    ) {
        parent::__construct($message, 0, $previous);
        $this->errorCode = ($code === null || $code === '') ? null : mb_substr($code, 0, 100);
    }
}
