<?php

declare(strict_types=1);

namespace Durable\Tests;

use Durable\Cron;
use Durable\Definition;
use Durable\DefinitionError;
use Durable\DurableFunction;
use Durable\Json;
use Durable\Step;
use Durable\Tests\Support\Vectors;
use PHPUnit\Framework\TestCase;

final class DefinitionTest extends TestCase
{
    public function testEveryOptionReachesTheWireDefinition(): void
    {
        $function = new DurableFunction(
            id: 'everything',
            trigger: ['event' => 'app.happened'],
            handler: fn (array $event, Step $step) => null,
            concurrency: [['limit' => 5], ['limit' => 1, 'key' => 'tenantId']],
            priority: 100,
            throttle: ['limit' => 10, 'period' => '1m', 'key' => 'user.id'],
            retries: 5,
            timeout: '30s',
            version: '2025-01',
            enabled: false,
            onFailure: fn (array $event, Step $step, \Durable\FailureError $failure) => null,
        );
        self::assertSame(
            '{"id":"everything","trigger":{"event":"app.happened"},"priority":100,"enabled":false,"hasOnFailure":true,'
            . '"version":"2025-01","retries":5,"timeoutMs":30000,'
            . '"concurrency":[{"limit":5},{"limit":1,"key":"tenantId"}],'
            . '"throttle":{"limit":10,"periodMs":60000,"key":"user.id"}}',
            Json::encode($function->definition()),
        );
        self::assertSame('everything@2025-01', $function->runtimeId());
    }

    public function testPythonPackageShapeForFlowControl(): void
    {
        $noop = fn (array $event, Step $step) => null;
        $rate = new DurableFunction(
            id: 'r',
            trigger: ['event' => 'e'],
            handler: $noop,
            rateLimit: ['limit' => 3, 'period' => '1h', 'key' => 'k'],
        );
        self::assertSame(['limit' => 3, 'periodMs' => 3_600_000, 'key' => 'k'], $rate->definition()['rateLimit']);
        $debounce = new DurableFunction(id: 'd', trigger: ['event' => 'e'], handler: $noop, debounce: ['period' => 5]);
        self::assertSame(['periodMs' => 5], $debounce->definition()['debounce']);
        $batch = new DurableFunction(
            id: 'b',
            trigger: ['cron' => '0 3 * * *'],
            handler: $noop,
            batch: ['maxSize' => 3, 'timeout' => '1s', 'key' => 't'],
        );
        self::assertSame(['maxSize' => 3, 'timeoutMs' => 1000, 'key' => 't'], $batch->definition()['batch']);
        self::assertSame(
            '{"id":"b","trigger":{"cron":"0 3 * * *"},"priority":0,"enabled":true,"hasOnFailure":false,'
            . '"batch":{"maxSize":3,"timeoutMs":1000,"key":"t"}}',
            Json::encode($batch->definition()),
        );
    }

    /** @return array<string, array{array<string, mixed>, string}> */
    public static function invalidOptions(): array
    {
        return [
            'empty id' => [['id' => ''], '/id'],
            'id too long' => [['id' => str_repeat('f', 201)], '/id'],
            'two triggers' => [['trigger' => ['event' => 'a', 'cron' => '* * * * *']], '/trigger'],
            'bad cron' => [['trigger' => ['cron' => '61 * * * *']], '/trigger/cron'],
            'priority range' => [['priority' => 601], '/priority'],
            'retries range' => [['retries' => 21], '/retries'],
            'negative timeout' => [['timeout' => -5], '/timeout'],
            'bad timeout' => [['timeout' => '5 minutes'], '/timeout'],
            'zero concurrency' => [['concurrency' => ['limit' => 0]], '/concurrency/limit'],
            'eleven rules' => [['concurrency' => array_fill(0, 11, ['limit' => 1])], '/concurrency'],
            'throttle without period' => [['throttle' => ['limit' => 1]], '/throttle'],
            'throttle bad period' => [['throttle' => ['limit' => 1, 'period' => 'soon']], '/throttle/period'],
            'unknown throttle field' => [
                ['throttle' => ['limit' => 1, 'period' => '1s', 'burst' => 2]],
                '/throttle/burst',
            ],
            'batch too big' => [['batch' => ['maxSize' => 101, 'timeout' => '1s']], '/batch/maxSize'],
            'batch with debounce' => [
                ['batch' => ['maxSize' => 2, 'timeout' => '1s'], 'debounce' => ['period' => '1s']],
                '/batch',
            ],
            'debounce with rate limit' => [
                ['debounce' => ['period' => '1s'], 'rateLimit' => ['limit' => 1, 'period' => '1s']],
                '/debounce',
            ],
            'empty key segment' => [['concurrency' => ['limit' => 1, 'key' => 'user..id']], '/concurrency/key'],
            'empty version' => [['version' => ''], '/version'],
        ];
    }

    /**
     * @dataProvider invalidOptions
     * @param array<string, mixed> $options
     */
    public function testInvalidOptionsNameTheField(array $options, string $path): void
    {
        try {
            $defaults = ['id' => 'fn', 'trigger' => ['event' => 'e'], 'handler' => fn () => null];
            new DurableFunction(...($options + $defaults));
            self::fail('accepted an invalid definition');
        } catch (DefinitionError $error) {
            self::assertSame($path, $error->path, $error->getMessage());
            self::assertStringContainsString($path, $error->getMessage());
        }
    }

    public function testWrongOptionTypeIsATypeErrorNamingTheArgument(): void
    {
        $this->expectException(\TypeError::class);
        $this->expectExceptionMessage('$priority');
        new DurableFunction(id: 'fn', trigger: ['event' => 'e'], handler: fn () => null, priority: '5');
    }

    /**
     * @dataProvider definitionVectors
     * @param array<string, mixed>|null $case
     */
    public function testDefinitionVector(?array $case): void
    {
        if ($case === null) {
            self::markTestSkipped('spec/vectors/definitions has no files yet');
        }
        // Decode from JSON text so `{}` and lists keep their JSON meaning.
        $definition = Json::decode(json_encode($case['definition'], JSON_THROW_ON_ERROR | JSON_PRESERVE_ZERO_FRACTION));
        try {
            if (!is_array($definition) && !$definition instanceof \Durable\JsonObject) {
                throw new DefinitionError('', 'must be an object');
            }
            Definition::validate($definition);
            $where = $case['errorPath'] ?? '?';
            self::assertTrue($case['valid'], "{$case['id']}: accepted, expected an error at {$where}");
        } catch (DefinitionError $error) {
            self::assertFalse($case['valid'], "{$case['id']}: refused: {$error->getMessage()}");
            self::assertSame($case['errorPath'], $error->path, "{$case['id']}: {$error->getMessage()}");
        }
    }

    /** @return array<string, array{0: array<string, mixed>|null}> */
    public static function definitionVectors(): array
    {
        return Vectors::cases('definitions');
    }

    /**
     * @dataProvider cronVectors
     * @param array<string, mixed>|null $case
     */
    public function testCronVectorSyntax(?array $case): void
    {
        if ($case === null) {
            self::markTestSkipped('spec/vectors/cron has no files yet');
        }
        $problem = Cron::problem($case['expr']);
        $label = "{$case['id']} " . json_encode($case['expr']) . ': ' . ($problem ?? 'accepted');
        self::assertSame($case['valid'], $problem === null, $label);
    }

    /** @return array<string, array{0: array<string, mixed>|null}> */
    public static function cronVectors(): array
    {
        return Vectors::cases('cron');
    }
}
