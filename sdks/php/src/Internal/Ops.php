<?php

declare(strict_types=1);

namespace Durable\Internal;

use Durable\Json;
use Durable\NonRetriableError;
use Durable\Protocol;
use JsonException;
use Throwable;

/**
 * Builders for the operations an invocation answers with; key order matches the other SDKs.
 *
 * @internal
 */
final class Ops
{
    private function __construct()
    {
    }

    /** @return array<string, mixed> */
    public static function fromThrowable(?string $stepId, Throwable $error): array
    {
        $op = ['op' => Protocol::OP_ERROR, 'id' => $stepId, 'message' => $error->getMessage()];
        if ($error instanceof NonRetriableError) {
            $op['name'] = $error->name;
            if ($error->errorCode !== null) {
                $op['code'] = $error->errorCode;
            }
            if ($error->details !== null) {
                $op['details'] = self::details($error->details);
            }
            $op['retryable'] = false;
            return $op;
        }
        $op['name'] = self::shortName($error);
        $op['retryable'] = true;
        return $op;
    }

    /** @return array<string, mixed> */
    public static function error(?string $stepId, string $message, string $name, ?string $code, bool $retryable): array
    {
        $op = ['op' => Protocol::OP_ERROR, 'id' => $stepId, 'message' => $message, 'name' => $name];
        if ($code !== null) {
            $op['code'] = $code;
        }
        $op['retryable'] = $retryable;
        return $op;
    }

    public static function until(int $delayMs, ?int $nowMs = null): string
    {
        $at = ($nowMs ?? (int) floor(microtime(true) * 1000)) + $delayMs;
        return gmdate('Y-m-d\TH:i:s', intdiv($at, 1000)) . sprintf('.%03dZ', $at % 1000);
    }

    private static function details(mixed $details): mixed
    {
        try {
            $encoded = Json::encode($details);
        } catch (JsonException) {
            return ['serializationError' => 'error details are not JSON-serializable'];
        }
        if (strlen($encoded) > Protocol::MAX_ERROR_DETAILS_BYTES) {
            return ['truncated' => true, 'reason' => 'error details exceed 64 KiB'];
        }
        return $details;
    }

    private static function shortName(Throwable $error): string
    {
        $class = get_class($error);
        $slash = strrpos($class, '\\');
        return $slash === false ? $class : substr($class, $slash + 1);
    }
}
