-- depends: 0605.projection-people-permissions
-- People erased at their request (PersonErased, ADR 0017). Their credentials stay in the views,
-- countable, without the fields that were theirs (title, numbers, issuer, notes, comments,
-- file names), and their name shows as "Erased person": every batch that touches one of them
-- forgets those fields again (`erasure.py`), so the live views and a rebuild agree.
CREATE TABLE erased_people (
    organisation_id  uuid NOT NULL,
    user_id          uuid NOT NULL,
    erased_at        timestamptz NOT NULL,
    PRIMARY KEY (organisation_id, user_id)
);
CREATE INDEX erased_people_user ON erased_people (user_id);
