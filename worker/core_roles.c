/*
 * core_roles.c — the role table and the membership rules (see core_roles.h).
 */
#include "core_roles.h"

#include "policy.h"

/* A workspace role and the role of common/policy.h are the same scale. */
_Static_assert((int)WK_ROLE_NONE == (int)CH_ROLE_NONE && (int)WK_ROLE_MEMBER == (int)CH_ROLE_MEMBER &&
               (int)WK_ROLE_ADMIN == (int)CH_ROLE_ADMIN && (int)WK_ROLE_OWNER == (int)CH_ROLE_OWNER,
               "wk_role and ch_role must agree");

wk_role
wk_role_parse(const char *s)
{
    return (wk_role)ch_role_parse(s);
}

const char *
wk_role_name(wk_role r)
{
    return r == WK_ROLE_NONE ? "" : ch_role_name((ch_role)r);
}

/* The weakest role allowed to perform each action. */
static const wk_role min_role[WK_ACT_COUNT] = {
    [WK_ACT_VIEW] = WK_ROLE_MEMBER,
    [WK_ACT_WRITE] = WK_ROLE_MEMBER,
    [WK_ACT_ROOM_CREATE] = WK_ROLE_MEMBER,
    [WK_ACT_ROOM_MANAGE] = WK_ROLE_ADMIN,
    [WK_ACT_WS_RENAME] = WK_ROLE_ADMIN,
    [WK_ACT_WS_DELETE] = WK_ROLE_OWNER,
    [WK_ACT_MEMBERS_MANAGE] = WK_ROLE_ADMIN,
    [WK_ACT_VERSIONS_MANAGE] = WK_ROLE_ADMIN,
};

int
wk_role_can(wk_role role, wk_action act)
{
    if ((int)act < 0 || act >= WK_ACT_COUNT || role == WK_ROLE_NONE)
        return 0;
    return role >= min_role[act];
}

wk_rule
wk_member_add_check(wk_role actor, wk_role granted)
{
    if (!wk_role_can(actor, WK_ACT_MEMBERS_MANAGE))
        return WK_RULE_FORBIDDEN;
    if (granted != WK_ROLE_MEMBER && granted != WK_ROLE_ADMIN)
        return WK_RULE_INVALID;
    if (granted == WK_ROLE_ADMIN && actor != WK_ROLE_OWNER)
        return WK_RULE_FORBIDDEN;
    return WK_RULE_OK;
}

wk_rule
wk_member_change_check(wk_role actor, int self, wk_role current, wk_role wanted, long owners)
{
    if (wanted == WK_ROLE_NONE)
        return WK_RULE_INVALID;
    if (current == WK_ROLE_NONE)
        return WK_RULE_INVALID;
    switch (actor) {
    case WK_ROLE_OWNER:
        if (current == WK_ROLE_OWNER && wanted != WK_ROLE_OWNER && owners <= 1)
            return WK_RULE_LAST_OWNER;
        return WK_RULE_OK;
    case WK_ROLE_ADMIN:
        if (self && current == WK_ROLE_ADMIN && (wanted == WK_ROLE_MEMBER || wanted == WK_ROLE_ADMIN))
            return WK_RULE_OK;
        return WK_RULE_FORBIDDEN;
    default:
        return WK_RULE_FORBIDDEN;
    }
}

wk_rule
wk_member_remove_check(wk_role actor, int self, wk_role current, long owners)
{
    if (actor == WK_ROLE_NONE || current == WK_ROLE_NONE)
        return WK_RULE_FORBIDDEN;
    if (!self) {
        if (actor == WK_ROLE_ADMIN && current != WK_ROLE_MEMBER)
            return WK_RULE_FORBIDDEN;
        if (actor != WK_ROLE_OWNER && actor != WK_ROLE_ADMIN)
            return WK_RULE_FORBIDDEN;
    }
    if (current == WK_ROLE_OWNER && owners <= 1)
        return WK_RULE_LAST_OWNER;
    return WK_RULE_OK;
}
