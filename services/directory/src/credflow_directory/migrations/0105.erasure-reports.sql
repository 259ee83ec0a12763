-- depends: 0104.erasures
-- Each service's report that it erased its copies of the person (`ErasureReported` on
-- `credflow.erasures`); an erasure completes once every service that holds personal data has
-- reported. Ids, counts and times only.
CREATE TABLE erasure_reports (
    erasure_id   uuid NOT NULL REFERENCES erasures,
    service      text NOT NULL,
    deleted      jsonb NOT NULL,
    reported_at  timestamptz NOT NULL,
    PRIMARY KEY (erasure_id, service)
);
