/*
 * policy.c — the event rules of policy.h, as one table. To add a rule, add
 * a row: the first row whose room and kind prefixes both match decides.
 */
#include "policy.h"

#include <string.h>

typedef struct {
    const char *room_prefix;     /* room ids starting with this ("" = every room) */
    const char *kind_prefix;     /* event kinds starting with this ("" = every kind) */
    ch_role min_role;            /* the weakest role allowed */
    const char *refusal;         /* what a publisher below min_role is told */
} event_rule;

static const event_rule rules[] = {
    { "board.", "column.", CH_ROLE_ADMIN, "only admins and owners can manage columns" },
};

#define DEFAULT_REFUSAL "your role does not allow this event in this room"

static int
starts_with(const char *s, const char *prefix)
{
    return strncmp(s ? s : "", prefix, strlen(prefix)) == 0;
}

static const event_rule *
rule_find(const char *room, const char *kind)
{
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
        if (starts_with(room, rules[i].room_prefix) && starts_with(kind, rules[i].kind_prefix))
            return &rules[i];
    return NULL;
}

ch_role
ch_role_parse(const char *s)
{
    if (!s) return CH_ROLE_NONE;
    if (strcmp(s, "owner") == 0) return CH_ROLE_OWNER;
    if (strcmp(s, "admin") == 0) return CH_ROLE_ADMIN;
    if (strcmp(s, "member") == 0) return CH_ROLE_MEMBER;
    return CH_ROLE_NONE;
}

const char *
ch_role_name(ch_role r)
{
    switch (r) {
    case CH_ROLE_OWNER: return "owner";
    case CH_ROLE_ADMIN: return "admin";
    case CH_ROLE_MEMBER: return "member";
    default: return "none";
    }
}

int
ch_role_allows(ch_role have, ch_role need)
{
    return have != CH_ROLE_NONE && have >= need;
}

ch_role
ch_event_min_role(const char *room, const char *kind)
{
    const event_rule *r = rule_find(room, kind);
    return r ? r->min_role : CH_ROLE_MEMBER;
}

const char *
ch_event_refusal(const char *room, const char *kind)
{
    const event_rule *r = rule_find(room, kind);
    return r ? r->refusal : DEFAULT_REFUSAL;
}
