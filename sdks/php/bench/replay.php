<?php

declare(strict_types=1);

// Replay benchmark: one invoke whose request memoizes 1,000 steps, answered end to end by the
// sans-IO handler (signature checks, JSON decode, 1,000 memo lookups, JSON encode, signing).
// Usage: php bench/replay.php [steps] [rounds]      Prints the median and p90 in ms.

require __DIR__ . '/../src/autoload.php';

use Durable\DurableFunction;
use Durable\Handler;
use Durable\Json;
use Durable\Signature;
use Durable\Step;

$steps = (int) ($argv[1] ?? 1000);
$rounds = (int) ($argv[2] ?? 200);
$key = 'bench-signing-key';

$function = new DurableFunction(
    id: 'replay-bench',
    trigger: ['event' => 'bench.replay'],
    handler: function (array $event, Step $step) use ($steps) {
        $total = 0;
        for ($i = 0; $i < $steps; $i++) {
            // One id reused in a loop: exercises the occurrence counter (item, item#2, ...).
            $result = $step->run('item', fn () => ['i' => $i, 'label' => "item {$i}"]);
            $total += $result['i'];
        }
        return ['total' => $total];
    },
);
$handler = new Handler([$function], $key);

$memos = [];
for ($i = 0; $i < $steps; $i++) {
    $memos[$i === 0 ? 'item' : 'item#' . ($i + 1)] = ['type' => 'run', 'data' => ['i' => $i, 'label' => "item {$i}"]];
}
$body = Json::encode([
    'functionId' => 'replay-bench',
    'runId' => 'run-bench',
    'attempt' => 0,
    'event' => ['id' => 'evt-bench', 'name' => 'bench.replay', 'data' => ['tenantId' => 't1'], 'ts' => 1767225600000],
    'steps' => $memos,
]);

$expected = Json::encode(['op' => 'done', 'data' => ['total' => intdiv($steps * ($steps - 1), 2)]]);
$timings = [];
for ($round = 0; $round < $rounds + 10; $round++) {
    $timestamp = (string) Signature::nowMs();
    $headers = [
        'X-Durable-Signature' => Signature::sign($body, $key),
        'X-Durable-Timestamp' => $timestamp,
        'X-Durable-Signature-V2' => Signature::signV2($timestamp, $body, $key),
    ];
    $started = hrtime(true);
    $response = $handler->handle('POST', $headers, $body);
    $elapsed = (hrtime(true) - $started) / 1e6;
    if ($response->body !== $expected) {
        fwrite(STDERR, "unexpected answer: {$response->status} " . substr($response->body, 0, 300) . "\n");
        exit(1);
    }
    if ($round >= 10) {
        $timings[] = $elapsed; // the first rounds warm up caches
    }
}
sort($timings);
$median = $timings[intdiv(count($timings), 2)];
$p90 = $timings[(int) floor(count($timings) * 0.9)];
$kib = intdiv(strlen($body), 1024);
printf("PHP %s replay: %d memoized steps in one invoke (%d KiB), %d rounds\n", PHP_VERSION, $steps, $kib, $rounds);
printf("median %.3f ms  p90 %.3f ms  (target < 5 ms)\n", $median, $p90);
$figures = ['medianMs' => round($median, 3), 'p90Ms' => round($p90, 3)];
echo json_encode(['sdk' => 'php', 'steps' => $steps, 'rounds' => $rounds] + $figures), "\n";
