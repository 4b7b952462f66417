<?php

declare(strict_types=1);

namespace Durable\Tests;

use Durable\DefinitionError;
use Durable\DurableFunction;
use PHPUnit\Framework\TestCase;

/** Protocol 1.1 definition members: cancelOn, idempotency, singleton (wire-protocol §19.2-19.4). */
final class ProtocolMinorTest extends TestCase
{
    public function testTheReadmeExampleGivesTheWireMembers(): void
    {
        $readme = (string) file_get_contents(dirname(__DIR__) . '/README.md');
        self::assertSame(1, preg_match('/### Cancel on event.*?```php\n(.*?)```/s', $readme, $match));
        $code = preg_replace('/^use .*;$/m', '', $match[1]);
        $run = static function (string $code): array {
            eval('use Durable\DurableFunction; use Durable\Step; ' . $code);
            /** @var DurableFunction $fulfilOrder */
            /** @var DurableFunction $report */
            return [$fulfilOrder, $report];
        };
        [$fulfil, $report] = $run((string) $code);
        $definition = $fulfil->definition();
        self::assertSame([['event' => 'order.refunded', 'match' => ['orderId' => 'order.id'],
            'timeoutMs' => 7 * 86_400_000]], $definition['cancelOn']);
        self::assertSame(['key' => 'order.id', 'periodMs' => 86_400_000], $definition['idempotency']);
        self::assertArrayNotHasKey('singleton', $definition);
        self::assertSame(['key' => 'tenantId', 'mode' => 'skip'], $report->definition()['singleton']);
    }

    public function testMembersAreLeftOutUnlessSet(): void
    {
        $definition = (new DurableFunction(id: 'f', trigger: ['event' => 'e'], handler: fn () => 1))->definition();
        foreach (['cancelOn', 'idempotency', 'singleton'] as $member) {
            self::assertArrayNotHasKey($member, $definition); // [MINOR-2]
        }
    }

    /** @return array<string, array{array<string, mixed>, string}> */
    public static function badOptions(): array
    {
        return [
            'no rules' => [['cancelOn' => []], '/cancelOn'],
            'bad path' => [['cancelOn' => [['event' => 'x', 'match' => ['a' => 'b..c']]]], '/cancelOn/0/match/a'],
            'bad timeout' => [['cancelOn' => [['event' => 'x', 'timeout' => 'soon']]], '/cancelOn/0/timeout'],
            'no key' => [['idempotency' => ['period' => '1h']], '/idempotency'],
            'bad mode' => [['singleton' => ['mode' => 'queue']], '/singleton/mode'],
            'with debounce' => [['singleton' => ['mode' => 'skip'], 'debounce' => ['period' => '1s']], '/singleton'],
        ];
    }

    /**
     * @dataProvider badOptions
     * @param array<string, mixed> $options
     */
    public function testBadOptionsNameTheField(array $options, string $path): void
    {
        try {
            new DurableFunction(...['id' => 'f', 'trigger' => ['event' => 'e'], 'handler' => fn () => 1, ...$options]);
            self::fail('accepted');
        } catch (DefinitionError $error) {
            self::assertSame($path, $error->path);
        }
    }
}
