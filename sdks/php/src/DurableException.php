<?php

declare(strict_types=1);

namespace Durable;

use RuntimeException;

/** An engine API call failed (status, transport, or an invalid answer). */
class DurableException extends RuntimeException
{
    /**
     * @param int|null $status the HTTP status, null for a transport error
     * @param string|null $errorCode the engine's error code (`INVALID_SIGNATURE`, `NOT_FOUND`, ...)
     */
    public function __construct(
        string $message,
        public readonly ?int $status = null,
        ?\Throwable $previous = null,
        public readonly ?string $errorCode = null,
    ) {
        parent::__construct($message, 0, $previous);
    }
}
