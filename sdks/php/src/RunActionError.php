<?php

declare(strict_types=1);

namespace Durable;

/** A rerun (single or bulk) failed; resend with the same `$idempotencyKey` to stay idempotent. */
final class RunActionError extends DurableException
{
    public function __construct(public readonly string $idempotencyKey, DurableException $cause)
    {
        parent::__construct($cause->getMessage(), $cause->status, $cause, $cause->errorCode, $cause->errorPath);
    }
}
