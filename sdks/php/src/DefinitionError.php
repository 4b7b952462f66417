<?php

declare(strict_types=1);

namespace Durable;

use InvalidArgumentException;

/** A function definition is invalid; `$path` is the JSON Pointer of the wrong field in the definition. */
final class DefinitionError extends InvalidArgumentException
{
    public function __construct(
        public readonly string $path,
        string $reason,
        public readonly ?string $functionId = null,
    ) {
        $where = $path === '' ? 'definition' : $path;
        $prefix = $functionId === null ? 'invalid function definition' : "invalid function \"{$functionId}\"";
        parent::__construct("{$prefix}: {$where}: {$reason}");
    }
}
