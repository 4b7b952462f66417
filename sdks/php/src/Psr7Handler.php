<?php

declare(strict_types=1);

namespace Durable;

use Psr\Http\Message\ResponseFactoryInterface;
use Psr\Http\Message\ResponseInterface;
use Psr\Http\Message\ServerRequestInterface;
use Psr\Http\Message\StreamFactoryInterface;

/**
 * PSR-7 adapter: ServerRequestInterface in, ResponseInterface out, built with any PSR-17
 * factories (e.g. Nyholm's Psr17Factory, which is both). `handle()` has the signature of
 * PSR-15's RequestHandlerInterface, so it can back a route or a request handler directly.
 * Needs psr/http-message (and an implementation) installed; the rest of the SDK does not.
 */
final class Psr7Handler
{
    public function __construct(
        private readonly Handler $handler,
        private readonly ResponseFactoryInterface $responses,
        private readonly StreamFactoryInterface $streams,
    ) {
    }

    public function handle(ServerRequestInterface $request): ResponseInterface
    {
        $headers = [];
        foreach ($request->getHeaders() as $name => $values) {
            $headers[(string) $name] = implode(', ', $values);
        }
        $method = strtoupper($request->getMethod());
        $body = '';
        if ($method === 'POST') {
            $stream = $request->getBody();
            if ($stream->isSeekable()) {
                $stream->rewind();
            }
            // One byte past the limit is enough to answer 413.
            $limit = $this->handler->maxRequestBytes() + 1;
            while (!$stream->eof() && strlen($body) < $limit) {
                $chunk = $stream->read($limit - strlen($body));
                if ($chunk === '') {
                    break;
                }
                $body .= $chunk;
            }
        }
        $answer = $this->handler->handle($method, $headers, $body);
        $response = $this->responses->createResponse($answer->status);
        foreach ($answer->headers as $name => $value) {
            $response = $response->withHeader($name, $value);
        }
        return $response
            ->withHeader('Content-Length', (string) strlen($answer->body))
            ->withBody($this->streams->createStream($answer->body));
    }
}
