-- The creator's access is the list's own created_by column: userIds[0] of the API.
-- leadlist_users keeps the users granted access besides the creator (userIds[1..]), so a
-- create writes one row, in one statement, instead of two rows in a transaction (see
-- sql/README.md, "Who may see a list").
--
-- "The lists user U of org O can see" reads leadlists_creator for the lists U created and
-- leadlist_users_user for the lists shared with U.

ALTER TABLE leadlists
    ADD KEY leadlists_creator (org_id, created_by, created_at);

-- Every creator row written before this migration repeats its list's created_by.
DELETE u FROM leadlist_users AS u
    JOIN leadlists AS l ON l.id = u.leadlist_id
    WHERE u.position = 0 AND u.user_id = l.created_by;

ALTER TABLE leadlist_users
    COMMENT = 'users granted access to a list besides its creator (leadlists.created_by)',
    ADD CONSTRAINT leadlist_users_not_creator CHECK (position >= 1);
