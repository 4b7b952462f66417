<?php

declare(strict_types=1);

namespace Durable;

/**
 * HMAC-SHA256 signatures, lowercase hex. v1 signs a payload (body, or the GET timestamp);
 * v2 signs `timestamp + "." + body`.
 */
final class Signature
{
    /** Accepted distance between a timestamp and the verifier's clock. */
    public const WINDOW_MS = 300_000;

    private function __construct()
    {
    }

    public static function sign(string $payload, string $key): string
    {
        return hash_hmac('sha256', $payload, $key);
    }

    public static function signV2(string $timestamp, string $body, string $key): string
    {
        return hash_hmac('sha256', $timestamp . '.' . $body, $key);
    }

    /** Exactly 64 lowercase hex characters. */
    public static function isWellFormed(string $signature): bool
    {
        return strlen($signature) === 64 && ctype_xdigit($signature) && strtolower($signature) === $signature;
    }

    /**
     * Constant-time check against every accepted key (primary, then fallback during rotation).
     *
     * @param list<string> $keys
     */
    public static function verify(string $payload, ?string $signature, array $keys): bool
    {
        if ($signature === null || !self::isWellFormed($signature)) {
            return false;
        }
        $valid = false;
        foreach ($keys as $key) {
            // No early exit: every key costs the same.
            $valid = hash_equals(self::sign($payload, $key), $signature) || $valid;
        }
        return $valid;
    }

    /** A decimal unix-ms timestamp within the window of $nowMs. */
    public static function isFresh(?string $timestamp, int $nowMs, int $windowMs = self::WINDOW_MS): bool
    {
        if ($timestamp === null || preg_match('/^\d{1,15}$/D', $timestamp) !== 1) {
            return false;
        }
        return abs($nowMs - (int) $timestamp) <= $windowMs;
    }

    public static function nowMs(): int
    {
        return (int) floor(microtime(true) * 1000);
    }
}
