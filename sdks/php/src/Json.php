<?php

declare(strict_types=1);

namespace Durable;

use JsonException;
use stdClass;

/**
 * JSON exactly as the other SDKs write it: compact, UTF-8 and slashes unescaped,
 * `1.0` stays `1.0`, and a decoded `{}` encodes back as `{}`.
 */
final class Json
{
    public const ENCODE_FLAGS = JSON_UNESCAPED_SLASHES
        | JSON_UNESCAPED_UNICODE
        | JSON_UNESCAPED_LINE_TERMINATORS
        | JSON_PRESERVE_ZERO_FRACTION
        | JSON_THROW_ON_ERROR;

    private const MAX_DEPTH = 512;

    private function __construct()
    {
    }

    /** @throws JsonException when the value holds NAN/INF, invalid UTF-8, resources or is too deep */
    public static function encode(mixed $value): string
    {
        return json_encode($value, self::ENCODE_FLAGS, self::MAX_DEPTH);
    }

    /**
     * Decodes objects to PHP arrays, except the ones an array would change on the way back
     * (`{}` and `{"0": ...}` objects), which become JsonObject.
     *
     * @throws JsonException on invalid JSON
     */
    public static function decode(string $json): mixed
    {
        // Fast path: nothing in the text can be an empty object or a "0"-first object.
        if (preg_match('/\{\s*(?:\}|"0")/', $json) !== 1) {
            return json_decode($json, true, self::MAX_DEPTH, JSON_THROW_ON_ERROR);
        }
        return self::fromObjects(json_decode($json, false, self::MAX_DEPTH, JSON_THROW_ON_ERROR));
    }

    /** An empty JSON object, for places where `[]` would be sent as a list. */
    public static function object(): JsonObject
    {
        return new JsonObject();
    }

    private static function fromObjects(mixed $value): mixed
    {
        if ($value instanceof stdClass) {
            $result = [];
            foreach (get_object_vars($value) as $key => $item) {
                $result[$key] = self::fromObjects($item);
            }
            return ($result === [] || array_is_list($result)) ? new JsonObject($result) : $result;
        }
        if (is_array($value)) {
            foreach ($value as $index => $item) {
                if (is_array($item) || is_object($item)) {
                    $value[$index] = self::fromObjects($item);
                }
            }
        }
        return $value;
    }
}
