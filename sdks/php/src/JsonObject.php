<?php

declare(strict_types=1);

namespace Durable;

use ArrayObject;
use JsonSerializable;

/**
 * A JSON object that a PHP array cannot represent faithfully: `{}` or one whose keys
 * are "0", "1", ... (a PHP array with those keys would be encoded as a list).
 * It behaves like an array (`$o['k']`, foreach, count) and always encodes as an object.
 *
 * @extends ArrayObject<array-key, mixed>
 */
final class JsonObject extends ArrayObject implements JsonSerializable
{
    /** @param array<array-key, mixed> $values */
    public function __construct(array $values = [])
    {
        parent::__construct($values);
    }

    public function jsonSerialize(): object
    {
        return (object) $this->getArrayCopy();
    }

    /** @return array<array-key, mixed> */
    public function toArray(): array
    {
        return $this->getArrayCopy();
    }
}
