/*
 * core_roles.h — workspace roles and what each may do. Pure: the API asks
 * these functions and never encodes a role rule anywhere else.
 *
 * Roles, strongest first: owner > admin > member.
 *
 *   action                               member  admin  owner
 *   view workspace, rooms, members,
 *     history, snapshots, unread           yes    yes    yes
 *   write: publish events, cards,
 *     read markers                         yes    yes    yes
 *   create rooms and boards                yes    yes    yes
 *   rename / archive rooms and boards      -      yes    yes
 *   rename the workspace                   -      yes    yes
 *   delete the workspace                   -      -      yes
 *   add members / change roles / remove    -      yes*   yes*
 *   delete others' named versions          -      yes    yes
 *     (anyone deletes the versions they created)
 *
 * Which durable events each role may publish (e.g. board columns: admins
 * and owners) is decided by common/policy.h, shared with the gateways.
 *
 * (*) membership changes follow wk_member_add_check, wk_member_change_check
 * and wk_member_remove_check:
 *   - adding: owners and admins add members; only owners add admins; nobody
 *     grants "owner" by adding (an owner promotes an existing member).
 *   - changing a role: an owner may set any role on anyone, themself
 *     included, as long as one owner remains; an admin may only step down
 *     to member themself; members change nothing.
 *   - removing: anyone may leave (remove themself), except the last owner;
 *     owners remove anyone; admins remove members (not admins or owners).
 */
#ifndef CHORUS_WK_CORE_ROLES_H
#define CHORUS_WK_CORE_ROLES_H

/* The same scale as ch_role (common/policy.h); the values agree. */
typedef enum {
    WK_ROLE_NONE = 0,    /* not a member */
    WK_ROLE_MEMBER = 1,
    WK_ROLE_ADMIN = 2,
    WK_ROLE_OWNER = 3
} wk_role;

typedef enum {
    WK_ACT_VIEW = 0,
    WK_ACT_WRITE,
    WK_ACT_ROOM_CREATE,
    WK_ACT_ROOM_MANAGE,     /* rename, archive */
    WK_ACT_WS_RENAME,
    WK_ACT_WS_DELETE,
    WK_ACT_MEMBERS_MANAGE,  /* the precondition; details in the checks below */
    WK_ACT_VERSIONS_MANAGE, /* delete named versions others created */
    WK_ACT_COUNT
} wk_action;

/* Results of the membership checks. */
typedef enum {
    WK_RULE_OK = 0,
    WK_RULE_FORBIDDEN,      /* 403: the actor's role does not allow it */
    WK_RULE_INVALID,        /* 400: the requested role cannot be used this way */
    WK_RULE_LAST_OWNER      /* 409: it would leave the workspace without an owner */
} wk_rule;

/* "owner" / "admin" / "member" -> role; anything else (NULL too) -> NONE. */
wk_role wk_role_parse(const char *s);
/* Static name of a role; "" for NONE. */
const char *wk_role_name(wk_role r);

/* 1 if role may perform act. NONE may do nothing. */
int wk_role_can(wk_role role, wk_action act);

/* actor adds a new member with role granted. */
wk_rule wk_member_add_check(wk_role actor, wk_role granted);

/* actor sets target's role from current to wanted; self = actor is the
 * target; owners = number of owners in the workspace now. */
wk_rule wk_member_change_check(wk_role actor, int self, wk_role current, wk_role wanted,
                               long owners);

/* actor removes target (role current); self = actor is the target. */
wk_rule wk_member_remove_check(wk_role actor, int self, wk_role current, long owners);

#endif
