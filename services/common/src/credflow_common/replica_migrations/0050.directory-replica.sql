-- depends: 0001.runtime-event-store
-- A local replica of the directory (credflow.directory), for services that need reference
-- data without calling the directory service. Snapshots, upserted by event.

CREATE TABLE replica_organisations (
    organisation_id  uuid PRIMARY KEY,
    name             text  NOT NULL,
    settings         jsonb NOT NULL
);

CREATE TABLE replica_users (
    organisation_id  uuid  NOT NULL,
    user_id          uuid  NOT NULL,
    email_lower      text  NOT NULL,
    status           text  NOT NULL,
    manager_id       uuid,
    company_id       uuid,
    state            jsonb NOT NULL,
    PRIMARY KEY (organisation_id, user_id)
);
CREATE INDEX replica_users_email ON replica_users (organisation_id, email_lower);
CREATE INDEX replica_users_manager ON replica_users (organisation_id, manager_id);

CREATE TABLE replica_entities (
    organisation_id  uuid  NOT NULL,
    kind             text  NOT NULL,
    id               uuid  NOT NULL,
    state            jsonb NOT NULL,
    PRIMARY KEY (organisation_id, kind, id)
);
