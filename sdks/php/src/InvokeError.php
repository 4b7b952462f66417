<?php

declare(strict_types=1);

namespace Durable;

/**
 * step->invoke()'s function failed, was cancelled or did not end in time ([INVOKE-8]):
 * `errorCode` is INVOKE_FAILED, INVOKE_CANCELLED or INVOKE_TIMEOUT, `details` the memo's
 * runId, status and error, `stepId` the invoke step. Never retried; uncaught, the run fails
 * at that step.
 */
final class InvokeError extends NonRetriableError
{
    public function __construct(string $message, string $code, mixed $details, public readonly string $stepId)
    {
        parent::__construct($message, $code, $details, 'InvokeError');
    }
}
