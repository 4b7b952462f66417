<?php

declare(strict_types=1);

namespace Durable;

/** What the sans-IO handler answers: status, headers (name => value) and the raw body. */
final class Response
{
    /** @param array<string, string> $headers */
    public function __construct(
        public readonly int $status,
        public readonly array $headers,
        public readonly string $body,
    ) {
    }

    /** Case-insensitive header lookup. */
    public function header(string $name): ?string
    {
        foreach ($this->headers as $key => $value) {
            if (strcasecmp($key, $name) === 0) {
                return $value;
            }
        }
        return null;
    }

    /** Sends this response through PHP's SAPI (header(), echo). */
    public function emit(): void
    {
        http_response_code($this->status);
        foreach ($this->headers as $name => $value) {
            header("{$name}: {$value}");
        }
        header('Content-Length: ' . strlen($this->body));
        echo $this->body;
    }
}
