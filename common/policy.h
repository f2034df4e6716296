/*
 * policy.h — who may publish which durable event where. Pure: a table of
 * rules over (room id, event kind), read by the gateway before it runs
 * publish.lua and by the worker's server-side publish; the script enforces
 * the answer against the room's access list (ch:{pN}:a:<room>).
 *
 * Roles, strongest first: owner > admin > member. Every durable event needs
 * at least membership (the publisher on the room's access list, when the
 * room has one or one is required). The rules below raise that for some
 * events; the first rule that matches decides:
 *
 *   room id starts with   event kind starts with   needs
 *   "board."              "column."                admin (or owner)
 *
 * Anything else needs member. A room id with no access list in an open
 * gateway (--room-acl open) holds no roles: the script lets its events
 * through, as join.lua lets anyone in.
 */
#ifndef CHORUS_POLICY_H
#define CHORUS_POLICY_H

typedef enum {
    CH_ROLE_NONE = 0,    /* not a member: may publish nothing in an access-listed room */
    CH_ROLE_MEMBER = 1,
    CH_ROLE_ADMIN = 2,
    CH_ROLE_OWNER = 3
} ch_role;

/* "owner" / "admin" / "member" -> role; anything else (NULL too) -> NONE. */
ch_role ch_role_parse(const char *s);
/* Static name of a role ("owner", "admin", "member"; "none" for NONE). */
const char *ch_role_name(ch_role r);
/* 1 if a publisher holding have satisfies need. NONE satisfies nothing. */
int ch_role_allows(ch_role have, ch_role need);

/* The weakest role that may publish a durable event of kind in room:
 * CH_ROLE_MEMBER unless a rule asks for more. Both strings NUL-terminated;
 * NULL counts as "". */
ch_role ch_event_min_role(const char *room, const char *kind);

/* The refusal message for a publisher whose role is below
 * ch_event_min_role(room, kind), e.g. "only admins and owners can manage
 * columns". Static string. */
const char *ch_event_refusal(const char *room, const char *kind);

/* The refusal message for a publisher who is not on the room's access list. */
#define CH_NOT_A_MEMBER_MESSAGE "you are no longer a member of this room"

#endif
