-- Idempotency-Key: the first successful create with a key stores the key, the SHA-256 of the
-- request body and the response, in the same transaction as the list. Keys belong to the
-- user who sent them. Rows past expires_at count as absent and are removed by
-- `leadlistsctl keys sweep`.
CREATE TABLE idempotency_keys (
    user_id      VARCHAR(64)        NOT NULL,
    idem_key     VARBINARY(255)     NOT NULL COMMENT 'the header value: 1-255 printable ASCII characters',
    fingerprint  BINARY(32)         NOT NULL COMMENT 'SHA-256 of the request body',
    status       SMALLINT UNSIGNED  NOT NULL COMMENT 'HTTP status of the stored response',
    leadlist_id  BINARY(16)         NOT NULL,
    response     MEDIUMBLOB         NOT NULL COMMENT 'the response body, replayed byte for byte',
    created_at   DATETIME(3)        NOT NULL,
    expires_at   DATETIME(3)        NOT NULL,
    PRIMARY KEY (user_id, idem_key),
    KEY idempotency_keys_expires (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
