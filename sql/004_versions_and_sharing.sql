-- What reading, changing and sharing lists needs.
--
-- A list's version: 1 at creation, one more with each change that alters it; its ETag.
--
-- The users a list is shared with are kept twice, in one transaction: in order in the list
-- row (shared_with, what every read of a list returns after its creator, so a get and a page
-- read one row per list), and as rows of leadlist_users, the index of "the lists shared with
-- U". A position there is the user's place in shared_with when added; order is
-- shared_with's.
--
-- Pages of "the lists user U of org O may see, newest first" are bounded index range scans:
-- ids are time-ordered UUIDs, so newest first is id descending. Each page is the union of
-- at most four scans of LIMIT n + 1 rows, one per (source, type): the lists U created
-- (leadlists_creator_type), the lists shared with U (leadlist_users_user), or, for an admin,
-- the org's lists (leadlists_org_type). A type filter takes one scan per source. The type is
-- fixed at creation, so leadlist_users keeps a copy of it and of the list's org.
ALTER TABLE leadlists
    ADD COLUMN version INT UNSIGNED NOT NULL DEFAULT 1 COMMENT 'the ETag: 1, then +1 per change' AFTER updated_at,
    ADD COLUMN shared_with TEXT NOT NULL DEFAULT '[]' COMMENT 'userIds after the creator, in order: a JSON array' AFTER version,
    DROP KEY leadlists_org_created,
    DROP KEY leadlists_creator,
    ADD KEY leadlists_org_type (org_id, type, id),
    ADD KEY leadlists_creator_type (org_id, created_by, type, id);

ALTER TABLE leadlist_users
    ADD COLUMN org_id VARCHAR(64) NOT NULL DEFAULT '' COMMENT 'the list''s org' AFTER user_id,
    ADD COLUMN type ENUM('person', 'company') NOT NULL DEFAULT 'person' COMMENT 'the list''s type' AFTER org_id,
    DROP KEY leadlist_users_user;

UPDATE leadlist_users AS u JOIN leadlists AS l ON l.id = u.leadlist_id
    SET u.org_id = l.org_id, u.type = l.type;

UPDATE leadlists AS l
    SET l.shared_with = COALESCE((SELECT JSON_ARRAYAGG(u.user_id ORDER BY u.position)
                                  FROM leadlist_users AS u WHERE u.leadlist_id = l.id), '[]');

ALTER TABLE leadlist_users
    ALTER COLUMN org_id DROP DEFAULT,
    ALTER COLUMN type DROP DEFAULT,
    ADD KEY leadlist_users_user (org_id, user_id, type, leadlist_id);

-- Each change's own random id under the version it made. A worker whose COMMIT lost its
-- answer looks its version up here to learn whether the change was stored (a later change
-- may have changed the list again since, so the list row alone could not tell). Only needed
-- for the seconds after a commit: `leadlistsctl keys sweep` removes rows older than a day,
-- and deleting a list removes its rows.
CREATE TABLE leadlist_changes (
    leadlist_id  BINARY(16)    NOT NULL,
    version      INT UNSIGNED  NOT NULL COMMENT 'the version this change made',
    change_id    BINARY(16)    NOT NULL COMMENT 'random, the request''s own',
    changed_at   DATETIME(3)   NOT NULL,
    PRIMARY KEY (leadlist_id, version),
    KEY leadlist_changes_changed (changed_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
