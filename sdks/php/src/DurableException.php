<?php

declare(strict_types=1);

namespace Durable;

use RuntimeException;

/** An engine API call failed (status, transport, or an invalid answer). */
class DurableException extends RuntimeException
{
    public function __construct(string $message, public readonly ?int $status = null, ?\Throwable $previous = null)
    {
        parent::__construct($message, 0, $previous);
    }
}
