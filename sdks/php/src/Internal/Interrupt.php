<?php

declare(strict_types=1);

namespace Durable\Internal;

use Error;

/**
 * Unwinds the handler once a step has decided this invocation's operation.
 * An Error (not an Exception) so that `catch (\Exception $e)` in user code lets it pass;
 * Step also records the operation, so even a swallowed interrupt cannot change the answer.
 *
 * @internal
 */
final class Interrupt extends Error
{
    /** @param array<string, mixed> $operation */
    public function __construct(public readonly array $operation)
    {
        parent::__construct('durable: step interrupt (do not catch)');
    }
}
