-- Sessions, lead lists and their users.
--
-- Conventions: InnoDB, utf8mb4 with binary collation (ids compare byte for byte), UUIDs as
-- BINARY(16), instants as DATETIME(3) holding UTC (every connection sets time_zone = '+00:00').
-- Every column is NOT NULL unless NULL means something, so STRICT_TRANS_TABLES never has to
-- invent a value.

CREATE TABLE sessions (
    token_hash  BINARY(32)               NOT NULL COMMENT 'SHA-256 of the bearer token; the token itself is never stored',
    user_id     VARCHAR(64)              NOT NULL,
    org_id      VARCHAR(64)              NOT NULL,
    role        ENUM('member', 'admin')  NOT NULL DEFAULT 'member',
    created_at  DATETIME(3)              NOT NULL,
    expires_at  DATETIME(3)              NOT NULL,
    revoked_at  DATETIME(3)              NULL COMMENT 'set when the session is signed out',
    PRIMARY KEY (token_hash),
    KEY sessions_user (user_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Members are stored in the list row itself (see sql/README.md for the measurements behind
-- this): person ids as a JSON array of strings, company ids as 16-byte UUIDs back to back,
-- both de-duplicated and in request order. One row per list keeps a 10,000-id create to a
-- single row write.
CREATE TABLE leadlists (
    id             BINARY(16)                 NOT NULL COMMENT 'UUIDv7, so inserts append to the clustered index',
    org_id         VARCHAR(64)                NOT NULL,
    created_by     VARCHAR(64)                NOT NULL,
    icp_id         BINARY(16)                 NULL,
    name           VARCHAR(255)               NOT NULL,
    type           ENUM('person', 'company')  NOT NULL,
    start_date     DATETIME(3)                NOT NULL,
    end_date       DATETIME(3)                NOT NULL,
    person_count   INT UNSIGNED               NOT NULL,
    person_ids     MEDIUMTEXT                 NOT NULL COMMENT 'JSON array of person ids',
    company_count  INT UNSIGNED               NOT NULL,
    company_ids    MEDIUMBLOB                 NOT NULL COMMENT 'company UUIDs, 16 bytes each',
    created_at     DATETIME(3)                NOT NULL,
    updated_at     DATETIME(3)                NOT NULL,
    PRIMARY KEY (id),
    KEY leadlists_org_created (org_id, created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Who may see a list. The creator is the first; kept as rows because access is looked up by
-- user ("the lists I can see").
CREATE TABLE leadlist_users (
    leadlist_id  BINARY(16)   NOT NULL,
    position     SMALLINT UNSIGNED NOT NULL COMMENT 'order of userIds in the API',
    user_id      VARCHAR(64)  NOT NULL,
    granted_at   DATETIME(3)  NOT NULL,
    PRIMARY KEY (leadlist_id, user_id),
    KEY leadlist_users_user (user_id),
    CONSTRAINT leadlist_users_list FOREIGN KEY (leadlist_id) REFERENCES leadlists (id)
        ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
