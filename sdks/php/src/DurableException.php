<?php

declare(strict_types=1);

namespace Durable;

use RuntimeException;

/**
 * An engine API call failed (status, transport, or an invalid answer). `getPrevious()` is
 * the cause: the transport error, the JSON error of an unreadable answer, or the failed
 * call a wrapping error (EventSendError, RunActionError) stands for.
 */
class DurableException extends RuntimeException
{
    /**
     * @param int|null $status the HTTP status, null for a transport error
     * @param string|null $errorCode the engine's error code (`INVALID_SIGNATURE`, `NOT_FOUND`, ...: registry.json)
     * @param string|null $errorPath JSON Pointer of the offending request member, when the engine named one
     */
    public function __construct(
        string $message,
        public readonly ?int $status = null,
        ?\Throwable $previous = null,
        public readonly ?string $errorCode = null,
        public readonly ?string $errorPath = null,
    ) {
        parent::__construct($message, 0, $previous);
    }
}
