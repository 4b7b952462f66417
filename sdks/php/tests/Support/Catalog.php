<?php

declare(strict_types=1);

namespace Durable\Tests\Support;

use Durable\DurableFunction;

/** The conformance app's catalog, shared with the tests. */
final class Catalog
{
    /** @return list<DurableFunction> */
    public static function functions(): array
    {
        require_once dirname(__DIR__, 2) . '/conformance/functions.php';
        return \conformanceFunctions();
    }
}
