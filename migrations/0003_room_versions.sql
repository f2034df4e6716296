-- 0003_room_versions.sql — named versions of rooms, and an index for the
-- per-card history of boards.
--
-- A named version is a room's reducer state as of one seq of one epoch,
-- saved under a name by a member (POST /rooms/{room}/versions). The state
-- is stored whole, so loading a version never depends on history that
-- snapshots or stream trimming may have dropped since. It is the worker's
-- canonical JSON text (compact, sorted keys, reals in their shortest
-- round-trip form: docs/reducers.md), which the API sends as is: text, not
-- jsonb, whose text form reorders keys, prints large reals as integers and
-- would have to be parsed and serialized again on every read. Versions go
-- with their room (a deleted workspace deletes its rooms); a deleted user's
-- versions stay, with created_by NULL. The API keeps at most
-- --max-versions (200 by default) per room.
CREATE TABLE room_versions (
    id         bigserial PRIMARY KEY,
    room       text NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    epoch      bigint NOT NULL,
    seq        bigint NOT NULL CHECK (seq >= 0),
    name       text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    state      text NOT NULL,
    created_by bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT room_versions_name_key UNIQUE (room, name)
);
-- Listing, newest first.
CREATE INDEX room_versions_room_idx ON room_versions (room, id DESC);

-- GET /rooms/{room}/events?card=<id>: the events about one card are the
-- card.* events whose payload.id is it and the comment.* events whose
-- payload.card is it. The API's filter uses exactly this expression and
-- predicate, so a card's history is read from this index in seq order.
CREATE INDEX events_card_idx ON events (
    room, epoch,
    (CASE WHEN type LIKE 'card.%' THEN payload ->> 'id' ELSE payload ->> 'card' END),
    seq)
    WHERE type LIKE 'card.%' OR type LIKE 'comment.%';
