-- 0001_init.sql — the Chorus schema: accounts, workspaces and their members,
-- rooms (a board is a room), the durable event history, snapshots and chat
-- read markers.
--
-- Applied by `chorus-worker migrate` inside one transaction under an
-- advisory lock, and recorded in schema_migrations (created by the worker).
-- Migrations are forward-only: later changes go in new numbered files.

CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      text NOT NULL,
    display_name  text NOT NULL,
    password_hash text NOT NULL,                 -- argon2id encoded string
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_username_format CHECK (username ~ '^[a-z0-9_.-]{3,32}$'),
    CONSTRAINT users_display_name_len CHECK (char_length(display_name) BETWEEN 1 AND 64)
);
CREATE UNIQUE INDEX users_username_key ON users (username);

-- Refresh tokens are stored as SHA-256 hashes; rotation revokes the old one
-- and links it to its successor, so reuse of a revoked token can be detected.
CREATE TABLE refresh_tokens (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    replaced_by bigint REFERENCES refresh_tokens (id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX refresh_tokens_hash_key ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

CREATE TABLE workspaces (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    created_by bigint NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE workspace_members (
    workspace_id bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    added_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX workspace_members_user_idx ON workspace_members (user_id);

-- A room is where events happen. Its id is what clients join on the
-- gateways: "<kind>.<workspace id>.<number>", e.g. "board.12.3", so the
-- kind (and so the reducer) can be told from the id alone.
CREATE TABLE rooms (
    id           text PRIMARY KEY CHECK (id ~ '^(chat|whiteboard|board)\.[0-9]+\.[0-9]+$'),
    workspace_id bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('chat', 'whiteboard', 'board')),
    name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    created_by   bigint NOT NULL REFERENCES users (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    archived     boolean NOT NULL DEFAULT false
);
CREATE INDEX rooms_workspace_idx ON rooms (workspace_id);
CREATE SEQUENCE room_number_seq;

-- Boards are rooms of kind 'board'; this table holds what only boards have.
CREATE TABLE boards (
    room_id     text PRIMARY KEY REFERENCES rooms (id) ON DELETE CASCADE,
    description text NOT NULL DEFAULT ''
);

-- The durable history. (room, epoch, seq) is unique: the persistence path
-- inserts with ON CONFLICT DO NOTHING, so a batch replayed after a crash is
-- harmless. room is not a foreign key: events may arrive for rooms created
-- outside the API (load tests, scripts), and history outlives archived rooms.
CREATE TABLE events (
    room       text NOT NULL,
    epoch      bigint NOT NULL,
    seq        bigint NOT NULL,
    author     text NOT NULL,
    type       text NOT NULL,
    cid        text NOT NULL DEFAULT '',
    payload    jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (room, epoch, seq)
);

CREATE TABLE snapshots (
    room       text NOT NULL,
    epoch      bigint NOT NULL,
    seq        bigint NOT NULL,
    state      jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room, epoch, seq)
);

-- Chat read markers: the last seq a user has read in a room.
CREATE TABLE read_markers (
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    room       text NOT NULL,
    epoch      bigint NOT NULL,
    seq        bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, room)
);

-- Failed logins, for rate limiting by username and by client address.
CREATE TABLE login_failures (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username   text NOT NULL,
    address    text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_username_idx ON login_failures (username, at);
CREATE INDEX login_failures_address_idx ON login_failures (address, at);
