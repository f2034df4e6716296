/*
 * test_policy.c — the event rules of common/policy.c: which role each
 * (room, kind) needs, the refusal messages, and role names and order.
 */
#include "policy.h"
#include "test.h"

static void test_roles(void)
{
    CHECK_EQ_INT(ch_role_parse("owner"), CH_ROLE_OWNER);
    CHECK_EQ_INT(ch_role_parse("admin"), CH_ROLE_ADMIN);
    CHECK_EQ_INT(ch_role_parse("member"), CH_ROLE_MEMBER);
    CHECK_EQ_INT(ch_role_parse("Admin"), CH_ROLE_NONE);
    CHECK_EQ_INT(ch_role_parse(""), CH_ROLE_NONE);
    CHECK_EQ_INT(ch_role_parse(NULL), CH_ROLE_NONE);
    CHECK_EQ_STR(ch_role_name(CH_ROLE_OWNER), "owner");
    CHECK_EQ_STR(ch_role_name(CH_ROLE_ADMIN), "admin");
    CHECK_EQ_STR(ch_role_name(CH_ROLE_MEMBER), "member");
    CHECK_EQ_STR(ch_role_name(CH_ROLE_NONE), "none");
    /* Names round-trip: the script receives them as ARGV. */
    for (int r = CH_ROLE_MEMBER; r <= CH_ROLE_OWNER; r++)
        CHECK_EQ_INT(ch_role_parse(ch_role_name((ch_role)r)), r);

    /* have x need, every pair. */
    static const int allows[4][4] = {
        /* need:   none member admin owner */
        /* none */ { 0, 0, 0, 0 },
        /* member*/ { 1, 1, 0, 0 },
        /* admin */ { 1, 1, 1, 0 },
        /* owner */ { 1, 1, 1, 1 },
    };
    for (int have = 0; have < 4; have++)
        for (int need = 0; need < 4; need++)
            CHECK_EQ_INT(ch_role_allows((ch_role)have, (ch_role)need), allows[have][need]);
}

static void test_rules(void)
{
    static const struct { const char *room, *kind; ch_role need; } cases[] = {
        /* Board columns: admins and owners. */
        { "board.3.9", "column.create", CH_ROLE_ADMIN },
        { "board.3.9", "column.rename", CH_ROLE_ADMIN },
        { "board.3.9", "column.move", CH_ROLE_ADMIN },
        { "board.3.9", "column.delete", CH_ROLE_ADMIN },
        { "board.3.9", "column.anything", CH_ROLE_ADMIN },
        /* Everything else on a board: members. */
        { "board.3.9", "card.create", CH_ROLE_MEMBER },
        { "board.3.9", "card.move", CH_ROLE_MEMBER },
        { "board.3.9", "comment.add", CH_ROLE_MEMBER },
        { "board.3.9", "message", CH_ROLE_MEMBER },
        { "board.3.9", "column", CH_ROLE_MEMBER },       /* no dot: not a column event */
        { "board.3.9", "columns.create", CH_ROLE_MEMBER },
        { "board.3.9", "Column.create", CH_ROLE_MEMBER },
        { "board.3.9", "", CH_ROLE_MEMBER },
        /* column.* outside boards: members. */
        { "chat.3.7", "column.create", CH_ROLE_MEMBER },
        { "whiteboard.3.8", "column.create", CH_ROLE_MEMBER },
        { "board:42", "column.create", CH_ROLE_MEMBER },  /* not a workspace board id */
        { "boards.1.1", "column.create", CH_ROLE_MEMBER },
        { "xboard.1.1", "column.create", CH_ROLE_MEMBER },
        { "", "column.create", CH_ROLE_MEMBER },
        { NULL, NULL, CH_ROLE_MEMBER },
        { "board.1.1", NULL, CH_ROLE_MEMBER },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ch_role got = ch_event_min_role(cases[i].room, cases[i].kind);
        if (got != cases[i].need)
            fprintf(stderr, "case %zu: room=%s kind=%s\n", i, cases[i].room ? cases[i].room : "(null)",
                    cases[i].kind ? cases[i].kind : "(null)");
        CHECK_EQ_INT(got, cases[i].need);
    }
    /* Who passes a column rule: owners and admins, not members. */
    ch_role need = ch_event_min_role("board.1.2", "column.create");
    CHECK(ch_role_allows(CH_ROLE_OWNER, need));
    CHECK(ch_role_allows(CH_ROLE_ADMIN, need));
    CHECK(!ch_role_allows(CH_ROLE_MEMBER, need));
    CHECK(!ch_role_allows(CH_ROLE_NONE, need));
    CHECK(ch_role_allows(CH_ROLE_MEMBER, ch_event_min_role("board.1.2", "card.create")));
    CHECK(!ch_role_allows(CH_ROLE_NONE, ch_event_min_role("board.1.2", "card.create")));
}

static void test_messages(void)
{
    CHECK_EQ_STR(ch_event_refusal("board.1.2", "column.create"),
                 "only admins and owners can manage columns");
    CHECK_EQ_STR(ch_event_refusal("board.1.2", "column.delete"),
                 "only admins and owners can manage columns");
    CHECK(ch_event_refusal("chat.1.2", "message") != NULL);
    CHECK_EQ_STR(CH_NOT_A_MEMBER_MESSAGE, "you are no longer a member of this room");
}

int main(void)
{
    test_roles();
    test_rules();
    test_messages();
    TEST_MAIN_END();
}
