<?php

declare(strict_types=1);

namespace Durable;

/** Sending events failed; `$eventIds` lets the caller resend them idempotently. */
final class EventSendError extends DurableException
{
    /** @param list<string> $eventIds */
    public function __construct(
        public readonly array $eventIds,
        string $message,
        ?int $status = null,
        ?\Throwable $previous = null,
    ) {
        $cause = $previous instanceof DurableException ? $previous : null;
        parent::__construct($message, $status, $previous, $cause?->errorCode, $cause?->errorPath);
    }
}
