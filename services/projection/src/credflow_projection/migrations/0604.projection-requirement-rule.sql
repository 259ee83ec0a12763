-- depends: 0603.projection-at-scale
-- Whether a credential meets a requirement, written once for every reader:
-- - `meets_requirement`: it is active, and verified or submitted (its expiry counts apart: it
--   meets until that day);
-- - `held_types`: the types each credential of these users counts as: its own, and its
--   internal equivalent (the credential's, else its type's).
-- `worker_validity` (each worker's last compliant day, kept in `people.compliant_until`) and
-- the views' requirement states (`workforce.REQUIREMENT_STATES`) both read them. Both are
-- simple SQL functions, which the planner inlines: the organisation and the users still reach
-- every scan.
CREATE FUNCTION meets_requirement(lifecycle text, review text)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT lifecycle = 'active' AND review IN ('verified', 'submitted')
$$;

CREATE FUNCTION held_types(org uuid, users uuid[])
RETURNS TABLE (holder_id uuid, type_id uuid, lifecycle text, review text, expires_on date)
LANGUAGE sql STABLE AS $$
    SELECT c.holder_id, x.type_id, c.lifecycle, c.review, c.expires_on
    FROM credentials c
    LEFT JOIN credential_types t ON t.organisation_id = c.organisation_id
        AND t.credential_type_id = c.credential_type_id
    CROSS JOIN LATERAL (VALUES (c.credential_type_id),
                               (coalesce(c.internal_equivalent_id, t.internal_equivalent_id)))
        AS x (type_id)
    WHERE c.organisation_id = org AND c.holder_id = ANY (users) AND x.type_id IS NOT NULL
$$;

CREATE OR REPLACE FUNCTION worker_validity(org uuid, users uuid[])
RETURNS TABLE (user_id uuid, until date) LANGUAGE sql STABLE AS $$
    SELECT required.user_id, min(coalesce(held.until, '0001-01-01'::date))
    FROM (
        SELECT r.user_id, r.credential_type_id FROM required_types r
        WHERE r.organisation_id = org AND r.user_id = ANY (users)
    ) AS required
    LEFT JOIN (
        SELECT h.holder_id, h.type_id, max(coalesce(h.expires_on, '9999-12-31'::date)) AS until
        FROM held_types(org, users) h
        WHERE meets_requirement(h.lifecycle, h.review)
        GROUP BY h.holder_id, h.type_id
    ) AS held ON held.holder_id = required.user_id
        AND held.type_id = required.credential_type_id
    GROUP BY required.user_id
$$;
