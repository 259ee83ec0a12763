-- depends: 0602.projection-version-title
-- Views at 100,000 workers per tenant (docs/adr/0012-views-at-scale.md): every list's order
-- and filter served by an index that starts with the tenant, so a page reads its 50 rows and
-- not the tenant's 500,000, and a small tenant never pays for a big neighbour.

-- Trigram text search, one GIN index per tenant-and-text (btree_gin puts the tenant in it).
-- Both are trusted extensions; they live in `public` because a rebuild drops and renames the
-- projection's schemas and an extension must outlive them.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
CREATE EXTENSION IF NOT EXISTS btree_gin WITH SCHEMA public;

-- Each credential carries the labels its lists sort, filter and search by (copied from people,
-- companies and credential types; kept current when those change), the family of its status
-- (`valid` for verified and submitted, which expiry alone turns into expired at query time)
-- and its searchable text.
ALTER TABLE credentials
    ADD COLUMN holder_name text NOT NULL DEFAULT '',
    ADD COLUMN holder_email text NOT NULL DEFAULT '',
    ADD COLUMN company_id uuid,
    ADD COLUMN company_name text,
    ADD COLUMN type_name text NOT NULL DEFAULT '',
    ADD COLUMN family text GENERATED ALWAYS AS (
        CASE WHEN lifecycle <> 'active' THEN lifecycle
             WHEN review IN ('verified', 'submitted') THEN 'valid'
             ELSE review END
    ) STORED,
    ADD COLUMN search_text text GENERATED ALWAYS AS (
        lower(holder_name || ' ' || holder_email || ' ' || type_name || ' '
              || coalesce(company_name, '') || ' ' || coalesce(title, '') || ' '
              || coalesce(certification_number, '') || ' ' || coalesce(issuer_name, ''))
    ) STORED;

DROP INDEX credentials_type;
CREATE INDEX credentials_by_name ON credentials
    (organisation_id, lower(holder_name), lower(type_name), credential_id);
CREATE INDEX credentials_by_company ON credentials
    (organisation_id, company_id, lower(holder_name), lower(type_name), credential_id);
CREATE INDEX credentials_by_type ON credentials
    (organisation_id, credential_type_id, lower(holder_name), lower(type_name), credential_id);
CREATE INDEX credentials_by_family ON credentials
    (organisation_id, family, lower(holder_name), lower(type_name), credential_id);
CREATE INDEX credentials_search ON credentials
    USING gin (organisation_id, search_text public.gin_trgm_ops);

-- A CSV cell a spreadsheet will not run as a formula (as credflow_common.spreadsheets): the
-- export streams straight from COPY.
CREATE FUNCTION spreadsheet_safe(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN left(value, 1) IN ('=', '+', '-', '@', E'\t', E'\r', '|')
                THEN '''' || value ELSE value END
$$;

-- The one definition of a credential's labels.
CREATE VIEW credential_labels AS
    SELECT c.credential_id, coalesce(p.name, '') AS holder_name,
           coalesce(p.email, '') AS holder_email, p.company_id, co.name AS company_name,
           coalesce(t.name, '') AS type_name
    FROM credentials c
    LEFT JOIN people p ON p.organisation_id = c.organisation_id AND p.user_id = c.holder_id
    LEFT JOIN companies co ON co.organisation_id = c.organisation_id
        AND co.company_id = p.company_id
    LEFT JOIN credential_types t ON t.organisation_id = c.organisation_id
        AND t.credential_type_id = c.credential_type_id;

-- Compliance held per worker as the last day they stay compliant: every requirement met by an
-- active verified or submitted credential (of the type or counting as it), each valid through
-- its expiry date. 9999-12-31: nothing they hold expires (or nothing is required);
-- 0001-01-01: a requirement is not met (finite dates, which every client reads as dates).
-- "Compliant today" is `compliant_until >= today`, so a credential expiring at midnight makes
-- its holder non-compliant with no event.
ALTER TABLE people ADD COLUMN compliant_until date NOT NULL DEFAULT '9999-12-31';

-- Each worker's last compliant day, for these `users` of one organisation. A SQL function the
-- planner inlines, so the organisation and the users reach every scan (a view would hide them
-- behind its grouping): a worker's meeting credentials are grouped once per type, then matched
-- to what is required of them.
CREATE FUNCTION worker_validity(org uuid, users uuid[])
RETURNS TABLE (user_id uuid, until date) LANGUAGE sql STABLE AS $$
    SELECT required.user_id, min(coalesce(held.until, '0001-01-01'::date))
    FROM (
        SELECT r.user_id, r.credential_type_id FROM required_types r
        WHERE r.organisation_id = org AND r.user_id = ANY (users)
    ) AS required
    LEFT JOIN (
        SELECT c.holder_id, x.type_id, max(coalesce(c.expires_on, '9999-12-31'::date)) AS until
        FROM credentials c
        LEFT JOIN credential_types t ON t.organisation_id = c.organisation_id
            AND t.credential_type_id = c.credential_type_id
        CROSS JOIN LATERAL (VALUES (c.credential_type_id),
                                   (coalesce(c.internal_equivalent_id, t.internal_equivalent_id)))
            AS x (type_id)
        WHERE c.organisation_id = org AND c.holder_id = ANY (users)
            AND c.lifecycle = 'active' AND c.review IN ('verified', 'submitted')
            AND x.type_id IS NOT NULL
        GROUP BY c.holder_id, x.type_id
    ) AS held ON held.holder_id = required.user_id
        AND held.type_id = required.credential_type_id
    GROUP BY required.user_id
$$;

CREATE INDEX people_workers_by_name ON people (organisation_id, lower(name), user_id)
    WHERE status = 'active' AND 'worker' = ANY (roles);
CREATE INDEX people_workers_by_company ON people
    (organisation_id, company_id, lower(name), user_id) INCLUDE (compliant_until)
    WHERE status = 'active' AND 'worker' = ANY (roles);
CREATE INDEX people_workers_search ON people
    USING gin (organisation_id, lower(name || ' ' || email) public.gin_trgm_ops)
    WHERE status = 'active' AND 'worker' = ANY (roles);

-- What the views already held: labelled and judged once here, kept current from now on.
UPDATE credentials c
SET holder_name = l.holder_name, holder_email = l.holder_email, company_id = l.company_id,
    company_name = l.company_name, type_name = l.type_name
FROM credential_labels l WHERE l.credential_id = c.credential_id;
UPDATE people p SET compliant_until = v.until
FROM organisations o CROSS JOIN LATERAL worker_validity(
    o.organisation_id, ARRAY(SELECT user_id FROM people WHERE organisation_id = o.organisation_id)
) v
WHERE p.organisation_id = o.organisation_id AND p.user_id = v.user_id;

-- The dashboard counts credentials by the facts a status is made of: an index-only scan.
CREATE INDEX credentials_facts ON credentials (organisation_id, lifecycle, review, expires_on);
