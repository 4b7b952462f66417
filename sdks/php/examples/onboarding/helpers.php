<?php

declare(strict_types=1);

// Tiny stand-ins for the app's own code that the product page's example calls.

/** @return array{id: int|string, email: string, name: string} */
function loadUser(int|string $id): array
{
    return ['id' => $id, 'email' => "user{$id}@example.com", 'name' => "User {$id}"];
}

/** @param array{email: string} $user */
function sendMail(array $user): array
{
    // A real app would call its mailer here; the result is memoized like any step result.
    return ['to' => $user['email'], 'sent' => true];
}
