<?php

declare(strict_types=1);

namespace Durable;

/** Wire names shared with the spec's registry (spec/registry.json); tests compare both. */
final class Protocol
{
    /** The SDK's version: the one place it is set (composer.json has none; tags carry it). */
    public const VERSION = '1.0.0';
    public const SDK_VERSION = 'php/' . self::VERSION;
    public const PROTOCOL_VERSION = 1;

    public const HEADER_SIGNATURE = 'X-Durable-Signature';
    public const HEADER_SIGNATURE_V2 = 'X-Durable-Signature-V2';
    public const HEADER_TIMESTAMP = 'X-Durable-Timestamp';
    public const HEADER_APP = 'X-Durable-App';
    public const HEADER_DISCOVERY = 'X-Durable-Discovery';

    public const CAP_TIMESTAMPED_SIGNATURES = 'timestamped-signatures';
    public const CAP_KEY_ROTATION = 'key-rotation';
    public const CAP_STEP_OCCURRENCES = 'step-occurrences';
    public const CAP_STRICT_REPLAY = 'strict-replay';
    public const CAP_STEP_INVOKE = 'step-invoke';
    public const CAP_TRACE_CONTEXT = 'trace-context';

    /** Every capability this SDK implements, advertised by default. */
    public const CAPABILITIES = [
        self::CAP_TIMESTAMPED_SIGNATURES,
        self::CAP_KEY_ROTATION,
        self::CAP_STEP_OCCURRENCES,
        self::CAP_STRICT_REPLAY,
        self::CAP_STEP_INVOKE,
        self::CAP_TRACE_CONTEXT,
    ];

    public const OP_STEP = 'step';
    public const OP_ERROR = 'error';
    public const OP_SEND_EVENT = 'sendEvent';
    public const OP_SLEEP = 'sleep';
    public const OP_WAIT = 'wait';
    public const OP_DONE = 'done';
    public const OP_INVOKE = 'invoke';

    public const MEMO_RUN = 'run';
    public const MEMO_SLEEP = 'sleep';
    public const MEMO_WAIT = 'wait';
    public const MEMO_SEND_EVENT = 'sendEvent';
    public const MEMO_INVOKE = 'invoke';

    public const CODE_NON_DETERMINISTIC = 'NON_DETERMINISTIC';
    public const CODE_MISSING_FAILURE_HANDLER = 'MISSING_FAILURE_HANDLER';
    public const CODE_UNKNOWN_FUNCTION = 'UNKNOWN_FUNCTION';
    public const CODE_INVALID_PARALLEL = 'INVALID_PARALLEL';
    public const CODE_INVALID_EVENTS = 'INVALID_EVENTS';
    public const CODE_INVALID_DURATION = 'INVALID_DURATION';
    public const CODE_CAPABILITY_OFF = 'CAPABILITY_OFF';
    /** [INVOKE-8]: the InvokeError code of each non-completed invoke result status. */
    public const INVOKE_CODES = ['failed' => 'INVOKE_FAILED', 'cancelled' => 'INVOKE_CANCELLED', 'timedOut' => 'INVOKE_TIMEOUT'];
    public const TRACEPARENT_PATTERN = '/^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/';

    /** Ops in the key order they are written. */
    public const OP_FIELDS = [
        self::OP_STEP => ['op', 'id', 'data'],
        self::OP_ERROR => ['op', 'id', 'message', 'name', 'code', 'details', 'retryable'],
        self::OP_SEND_EVENT => ['op', 'id', 'events'],
        self::OP_SLEEP => ['op', 'id', 'until'],
        self::OP_WAIT => ['op', 'id', 'event', 'match', 'until'],
        self::OP_DONE => ['op', 'data'],
        self::OP_INVOKE => ['op', 'id', 'function', 'app', 'data', 'until'],
    ];
    public const OCCURRENCE_SEPARATOR = '#';
    public const TIMESTAMP_WINDOW_MS = 300_000;
    public const DURATION_UNITS = ['ms' => 1, 's' => 1_000, 'm' => 60_000, 'h' => 3_600_000, 'd' => 86_400_000];
    public const MAX_DURATION_MS = 9_007_199_254_740_991;

    public const DEFAULT_MAX_REQUEST_BYTES = 1_048_576;
    public const DEFAULT_MAX_RESPONSE_BYTES = 1_048_576;
    public const MAX_ERROR_DETAILS_BYTES = 65_536;
    public const MAX_EVENTS_PER_SEND = 100;
    public const MAX_PARALLEL_TASKS = 20;

    private function __construct()
    {
    }
}
