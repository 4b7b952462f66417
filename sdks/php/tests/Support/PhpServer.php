<?php

declare(strict_types=1);

namespace Durable\Tests\Support;

use RuntimeException;

/** A real HTTP server on a free loopback port: `php -S` (or a start script), stopped by its pid. */
final class PhpServer
{
    /** @var resource */
    private $process;
    public readonly int $port;
    private string $log;

    /**
     * @param list<string> $command with "{port}" replaced by the chosen port
     * @param array<string, string> $env added to the current environment
     */
    public function __construct(array $command, array $env = [], string $readyPath = '/')
    {
        $this->port = self::freePort();
        $this->log = tempnam(sys_get_temp_dir(), 'durable-php-server-') ?: '/dev/null';
        $command = array_map(fn (string $part): string => str_replace('{port}', (string) $this->port, $part), $command);
        $process = proc_open(
            $command,
            [0 => ['file', '/dev/null', 'r'], 1 => ['file', $this->log, 'a'], 2 => ['file', $this->log, 'a']],
            $pipes,
            null,
            $env + ['PORT' => (string) $this->port] + getenv(),
        );
        if (!is_resource($process)) {
            throw new RuntimeException('could not start ' . implode(' ', $command));
        }
        $this->process = $process;
        $deadline = microtime(true) + 10;
        while (microtime(true) < $deadline) {
            $socket = @fsockopen('127.0.0.1', $this->port, $errno, $error, 0.2);
            if ($socket !== false) {
                fclose($socket);
                return;
            }
            if (!proc_get_status($this->process)['running']) {
                break;
            }
            usleep(20_000);
        }
        $this->stop();
        throw new RuntimeException('server did not start: ' . (string) file_get_contents($this->log));
    }

    public static function php(string $router, string $docroot, array $env = []): self
    {
        $command = [PHP_BINARY, '-d', 'display_errors=stderr', '-S', '127.0.0.1:{port}', '-t', $docroot, $router];
        return new self($command, $env);
    }

    public function url(string $path = '/'): string
    {
        return "http://127.0.0.1:{$this->port}{$path}";
    }

    public function log(): string
    {
        return (string) file_get_contents($this->log);
    }

    public function stop(): void
    {
        if (is_resource($this->process)) {
            if (proc_get_status($this->process)['running']) {
                proc_terminate($this->process, 15);
            }
            proc_close($this->process);
        }
        if (is_file($this->log)) {
            @unlink($this->log);
        }
    }

    public function __destruct()
    {
        $this->stop();
    }

    /**
     * A raw HTTP exchange with curl.
     *
     * @param array<string, string> $headers
     * @return array{status: int, headers: array<string, string>, body: string}
     */
    public function request(string $method, string $path, array $headers = [], string $body = ''): array
    {
        $curl = curl_init($this->url($path));
        $lines = [];
        foreach ($headers as $name => $value) {
            $lines[] = "{$name}: {$value}";
        }
        $received = [];
        curl_setopt_array($curl, [
            CURLOPT_CUSTOMREQUEST => $method,
            CURLOPT_HTTPHEADER => array_merge($lines, ['Expect:']),
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_TIMEOUT => 10,
            CURLOPT_HEADERFUNCTION => static function ($handle, string $line) use (&$received): int {
                $parts = explode(':', $line, 2);
                if (count($parts) === 2) {
                    $received[strtolower(trim($parts[0]))] = trim($parts[1]);
                }
                return strlen($line);
            },
        ]);
        if ($method !== 'GET') {
            curl_setopt($curl, CURLOPT_POSTFIELDS, $body);
        }
        $answer = curl_exec($curl);
        if ($answer === false) {
            throw new RuntimeException('HTTP request failed: ' . curl_error($curl));
        }
        $status = (int) curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
        curl_close($curl);
        return ['status' => $status, 'headers' => $received, 'body' => (string) $answer];
    }

    private static function freePort(): int
    {
        $socket = stream_socket_server('tcp://127.0.0.1:0', $errno, $error);
        if ($socket === false) {
            throw new RuntimeException("no free port: {$error}");
        }
        $name = (string) stream_socket_get_name($socket, false);
        fclose($socket);
        return (int) substr($name, strrpos($name, ':') + 1);
    }
}
