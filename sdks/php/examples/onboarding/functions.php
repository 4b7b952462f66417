<?php

declare(strict_types=1);

// The product page's PHP example, unchanged; loadUser() and sendMail() are in helpers.php.

use Durable\DurableFunction;
use Durable\Step;

require_once __DIR__ . '/helpers.php';

$onboarding = new DurableFunction(
  id: 'onboarding',
  trigger: ['event' => 'user.created'],
  handler: function (array $event, Step $step) {
    $user = $step->run('load-user', fn () => loadUser($event['data']['id']));
    $step->sleep('cooldown', '2d');
    $ok = $step->waitForEvent('approve', ['event' => 'approval.received',
      'match' => ['userId' => $user['id']], 'timeout' => '7d']);
    $step->run('send-email', fn () => sendMail($user));
    return ['approved' => $ok !== null];
  },
);

return [$onboarding];
