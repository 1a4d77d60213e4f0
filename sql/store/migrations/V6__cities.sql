-- Replica of central's cities (every node has all of them): the time zone that makes a sale's business
-- day. Checked as at central; a zone this server does not know is refused (and set aside at central).
CREATE TABLE cities (
    id         integer     PRIMARY KEY,
    name       text        NOT NULL,
    time_zone  text        NOT NULL
        CHECK (time_zone ~ '^[A-Za-z]+(/[A-Za-z0-9_+-]+)*$' AND (now() AT TIME ZONE time_zone) IS NOT NULL),
    version    bigint      NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
