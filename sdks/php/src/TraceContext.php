<?php

declare(strict_types=1);

namespace Durable;

/** A W3C Trace Context version 00 traceparent, split into its fields ([TRACE-4]). */
final class TraceContext
{
    public function __construct(
        /** 32 lowercase hex digits. */
        public readonly string $traceId,
        /** 16 lowercase hex digits: the engine's span for this invocation. */
        public readonly string $parentId,
        public readonly int $flags,
    ) {
    }

    /** The context of a valid traceparent; null for anything else (never throws). */
    public static function parse(mixed $value): ?self
    {
        if (!is_string($value) || preg_match(Protocol::TRACEPARENT_PATTERN, $value) !== 1) {
            return null;
        }
        [, $traceId, $parentId, $flags] = explode('-', $value);
        return new self($traceId, $parentId, (int) hexdec($flags));
    }

    public function sampled(): bool
    {
        return ($this->flags & 0x01) === 0x01;
    }

    public function traceparent(): string
    {
        return sprintf('00-%s-%s-%02x', $this->traceId, $this->parentId, $this->flags);
    }
}
