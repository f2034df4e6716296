-- 0002_event_conflicts.sql — acknowledged events that could not enter the
-- history because their (room, epoch, seq) was already taken by a different
-- event.
--
-- That happens only if Redis lost acknowledged writes (a power failure with
-- appendfsync everysec) and a room's sequence went back: new events then
-- reuse numbers PostgreSQL already holds. The persistence path keeps the
-- existing row in events, stores the newcomer here, and moves the room to a
-- new epoch in Redis so later events no longer collide. Nothing
-- acknowledged is dropped; an operator can inspect and reconcile these rows.
--
-- (room, epoch, seq, author, cid) is unique so a batch replayed after a crash
-- does not store the same conflicting event twice.
CREATE TABLE events_conflicts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room        text NOT NULL,
    epoch       bigint NOT NULL,
    seq         bigint NOT NULL,
    author      text NOT NULL,
    type        text NOT NULL,
    cid         text NOT NULL DEFAULT '',
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL,            -- the event's ts (Redis time)
    session     text NOT NULL DEFAULT '',
    stream_id   text NOT NULL,                   -- entry id in ch:{pN}:persist
    detected_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_conflicts_event_key UNIQUE (room, epoch, seq, author, cid)
);
CREATE INDEX events_conflicts_detected_idx ON events_conflicts (detected_at);
