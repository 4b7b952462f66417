-- Each HTTP attempt's machine-readable code ([API-19], [RETRY-3]): TIMEOUT, DELIVERY_FAILED
-- or INVALID_RESPONSE for a failed invocation, the error op's code when the app answered
-- one, else NULL.
ALTER TABLE deliveries ADD COLUMN code text;
