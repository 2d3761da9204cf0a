-- The schema of the "db ceiling, rows" round (bench/ceiling-db-rows.sh): how a conventional
-- relational implementation of the same API stores a lead list, one row per member.
-- script/bench creates it in a private database on the stack's MariaDB
-- (<service database>_bench_rows) when a run starts, creates it again (empty) before each
-- rows round and within one whenever the member rows would reach a third of the buffer
-- pool, and drops it when the run ends.
--
-- The list table has the list columns of sql/001_initial.sql's leadlists and no member
-- columns (no JSON array, no counts: a conventional schema counts the member rows). Members
-- are rows of leadlist_persons, with what a conventional schema gives them: the primary key
-- keeps request order, KEY (person_id) answers "every list containing lead X", and the
-- foreign key ties each member to its list. sql/README.md ("When to switch") describes this
-- table. leadlist_users is the service's table as it is. Same conventions as sql/: InnoDB,
-- utf8mb4 with binary collation, UUIDs as BINARY(16), instants as DATETIME(3) in UTC.

CREATE TABLE leadlists (
    id          BINARY(16)                 NOT NULL,
    org_id      VARCHAR(64)                NOT NULL,
    created_by  VARCHAR(64)                NOT NULL,
    icp_id      BINARY(16)                 NULL,
    name        VARCHAR(255)               NOT NULL,
    type        ENUM('person', 'company')  NOT NULL,
    start_date  DATETIME(3)                NOT NULL,
    end_date    DATETIME(3)                NOT NULL,
    created_at  DATETIME(3)                NOT NULL,
    updated_at  DATETIME(3)                NOT NULL,
    PRIMARY KEY (id),
    KEY leadlists_org_created (org_id, created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE leadlist_persons (
    leadlist_id  BINARY(16)    NOT NULL,
    position     INT UNSIGNED  NOT NULL COMMENT 'order of personIds in the API',
    person_id    VARCHAR(64)   NOT NULL,
    PRIMARY KEY (leadlist_id, position),
    KEY leadlist_persons_person (person_id),
    CONSTRAINT leadlist_persons_list FOREIGN KEY (leadlist_id) REFERENCES leadlists (id)
        ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE leadlist_users (
    leadlist_id  BINARY(16)         NOT NULL,
    position     SMALLINT UNSIGNED  NOT NULL COMMENT 'order of userIds in the API',
    user_id      VARCHAR(64)        NOT NULL,
    granted_at   DATETIME(3)        NOT NULL,
    PRIMARY KEY (leadlist_id, user_id),
    KEY leadlist_users_user (user_id),
    CONSTRAINT leadlist_users_list FOREIGN KEY (leadlist_id) REFERENCES leadlists (id)
        ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
