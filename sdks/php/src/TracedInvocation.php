<?php

declare(strict_types=1);

namespace Durable;

/**
 * What a trace hook is told about the invocation it wraps ([TRACE-4]). The hook is a
 * `function (TracedInvocation $invocation, callable $run): mixed` that calls `$run()` (the
 * handler) inside its tracing scope and returns what `$run()` returned. `$run()` returns
 * null when a step ended the invocation and throws only what your code threw.
 */
final class TracedInvocation
{
    public function __construct(
        public readonly TraceContext $trace,
        public readonly string $functionId,
        public readonly string $runId,
        public readonly int $attempt,
        /** The invocation runs the function's onFailure handler. */
        public readonly bool $failure,
    ) {
    }
}
