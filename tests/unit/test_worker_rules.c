/*
 * test_worker_rules.c — the role table (wk_role_can) and the membership
 * rules (add, change, remove, last owner) of core_roles.c, exhaustively
 * where the space is small; and the input validators of core_validate.c.
 */
#include "core_roles.h"
#include "core_validate.h"
#include "test.h"

#include <string.h>

#define O WK_ROLE_OWNER
#define A WK_ROLE_ADMIN
#define M WK_ROLE_MEMBER
#define N WK_ROLE_NONE

static void test_parse(void)
{
    CHECK_EQ_INT(wk_role_parse("owner"), O);
    CHECK_EQ_INT(wk_role_parse("admin"), A);
    CHECK_EQ_INT(wk_role_parse("member"), M);
    CHECK_EQ_INT(wk_role_parse("Owner"), N);
    CHECK_EQ_INT(wk_role_parse("viewer"), N);
    CHECK_EQ_INT(wk_role_parse(""), N);
    CHECK_EQ_INT(wk_role_parse(NULL), N);
    CHECK_EQ_STR(wk_role_name(O), "owner");
    CHECK_EQ_STR(wk_role_name(A), "admin");
    CHECK_EQ_STR(wk_role_name(M), "member");
    CHECK_EQ_STR(wk_role_name(N), "");
}

static void test_can(void)
{
    /* The table of core_roles.h, row by row: member, admin, owner. */
    static const struct { wk_action act; int m, a, o; } table[] = {
        { WK_ACT_VIEW, 1, 1, 1 },
        { WK_ACT_WRITE, 1, 1, 1 },
        { WK_ACT_ROOM_CREATE, 1, 1, 1 },
        { WK_ACT_ROOM_MANAGE, 0, 1, 1 },
        { WK_ACT_WS_RENAME, 0, 1, 1 },
        { WK_ACT_WS_DELETE, 0, 0, 1 },
        { WK_ACT_MEMBERS_MANAGE, 0, 1, 1 },
        { WK_ACT_VERSIONS_MANAGE, 0, 1, 1 },
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        CHECK_EQ_INT(wk_role_can(M, table[i].act), table[i].m);
        CHECK_EQ_INT(wk_role_can(A, table[i].act), table[i].a);
        CHECK_EQ_INT(wk_role_can(O, table[i].act), table[i].o);
        CHECK_EQ_INT(wk_role_can(N, table[i].act), 0);
    }
    CHECK_EQ_INT(wk_role_can(O, WK_ACT_COUNT), 0);
    CHECK_EQ_INT(wk_role_can(O, (wk_action)-1), 0);
}

static void test_add(void)
{
    CHECK_EQ_INT(wk_member_add_check(O, M), WK_RULE_OK);
    CHECK_EQ_INT(wk_member_add_check(O, A), WK_RULE_OK);
    CHECK_EQ_INT(wk_member_add_check(O, O), WK_RULE_INVALID);
    CHECK_EQ_INT(wk_member_add_check(A, M), WK_RULE_OK);
    CHECK_EQ_INT(wk_member_add_check(A, A), WK_RULE_FORBIDDEN);
    CHECK_EQ_INT(wk_member_add_check(A, O), WK_RULE_INVALID);
    CHECK_EQ_INT(wk_member_add_check(M, M), WK_RULE_FORBIDDEN);
    CHECK_EQ_INT(wk_member_add_check(M, A), WK_RULE_FORBIDDEN);
    CHECK_EQ_INT(wk_member_add_check(N, M), WK_RULE_FORBIDDEN);
    CHECK_EQ_INT(wk_member_add_check(O, N), WK_RULE_INVALID);
}

static void test_change(void)
{
    const wk_role roles[3] = { M, A, O };

    /* Owners: anything, except demoting the last owner. */
    for (int c = 0; c < 3; c++)
        for (int w = 0; w < 3; w++)
            for (int self = 0; self < 2; self++) {
                wk_rule want = roles[c] == O && roles[w] != O ? WK_RULE_LAST_OWNER : WK_RULE_OK;
                CHECK_EQ_INT(wk_member_change_check(O, self, roles[c], roles[w], 1), want);
                CHECK_EQ_INT(wk_member_change_check(O, self, roles[c], roles[w], 2), WK_RULE_OK);
            }
    /* Admins: only stepping down (or staying) themselves. */
    CHECK_EQ_INT(wk_member_change_check(A, 1, A, M, 1), WK_RULE_OK);
    CHECK_EQ_INT(wk_member_change_check(A, 1, A, A, 1), WK_RULE_OK);
    CHECK_EQ_INT(wk_member_change_check(A, 1, A, O, 1), WK_RULE_FORBIDDEN);
    CHECK_EQ_INT(wk_member_change_check(A, 0, M, A, 1), WK_RULE_FORBIDDEN);
    CHECK_EQ_INT(wk_member_change_check(A, 0, A, M, 1), WK_RULE_FORBIDDEN);
    CHECK_EQ_INT(wk_member_change_check(A, 0, O, M, 2), WK_RULE_FORBIDDEN);
    CHECK_EQ_INT(wk_member_change_check(A, 0, M, M, 1), WK_RULE_FORBIDDEN);
    /* Members: nothing. */
    for (int c = 0; c < 3; c++)
        for (int w = 0; w < 3; w++) {
            CHECK_EQ_INT(wk_member_change_check(M, 0, roles[c], roles[w], 3), WK_RULE_FORBIDDEN);
            CHECK_EQ_INT(wk_member_change_check(M, 1, M, roles[w], 3), WK_RULE_FORBIDDEN);
        }
    /* Unknown roles. */
    CHECK_EQ_INT(wk_member_change_check(O, 0, M, N, 1), WK_RULE_INVALID);
    CHECK_EQ_INT(wk_member_change_check(O, 0, N, M, 1), WK_RULE_INVALID);
}

static void test_remove(void)
{
    /* Leaving. */
    CHECK_EQ_INT(wk_member_remove_check(M, 1, M, 1), WK_RULE_OK);
    CHECK_EQ_INT(wk_member_remove_check(A, 1, A, 1), WK_RULE_OK);
    CHECK_EQ_INT(wk_member_remove_check(O, 1, O, 1), WK_RULE_LAST_OWNER);
    CHECK_EQ_INT(wk_member_remove_check(O, 1, O, 2), WK_RULE_OK);
    /* Owners remove anyone. */
    CHECK_EQ_INT(wk_member_remove_check(O, 0, M, 1), WK_RULE_OK);
    CHECK_EQ_INT(wk_member_remove_check(O, 0, A, 1), WK_RULE_OK);
    CHECK_EQ_INT(wk_member_remove_check(O, 0, O, 2), WK_RULE_OK);
    /* Admins remove members only. */
    CHECK_EQ_INT(wk_member_remove_check(A, 0, M, 1), WK_RULE_OK);
    CHECK_EQ_INT(wk_member_remove_check(A, 0, A, 1), WK_RULE_FORBIDDEN);
    CHECK_EQ_INT(wk_member_remove_check(A, 0, O, 2), WK_RULE_FORBIDDEN);
    /* Members remove nobody else. */
    CHECK_EQ_INT(wk_member_remove_check(M, 0, M, 1), WK_RULE_FORBIDDEN);
    CHECK_EQ_INT(wk_member_remove_check(M, 0, O, 2), WK_RULE_FORBIDDEN);
    CHECK_EQ_INT(wk_member_remove_check(N, 0, M, 1), WK_RULE_FORBIDDEN);
}

static void test_validators(void)
{
    CHECK(wk_valid_username("bob", 3));
    CHECK(wk_valid_username("a.b-c_9", 7));
    CHECK(wk_valid_username("abcdefghijklmnopqrstuvwxyz012345", 32));
    CHECK(!wk_valid_username("abcdefghijklmnopqrstuvwxyz0123456", 33));
    CHECK(!wk_valid_username("ab", 2));
    CHECK(!wk_valid_username("Bob", 3));
    CHECK(!wk_valid_username("bo b", 4));
    CHECK(!wk_valid_username("bob\0x", 5));
    CHECK(!wk_valid_username("bób", 4));

    CHECK(wk_valid_password("12345678", 8));
    CHECK(!wk_valid_password("1234567", 7));
    /* 8 characters of two bytes each: counted as characters. */
    CHECK(wk_valid_password("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 16));
    CHECK(!wk_valid_password("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 8));
    char big[300];
    memset(big, 'x', sizeof(big));
    CHECK(wk_valid_password(big, 256));
    CHECK(!wk_valid_password(big, 257));
    CHECK(!wk_valid_password("abcd\0efgh", 9));
    CHECK(!wk_valid_password("abcdefg\xff", 8));

    CHECK_EQ_INT(wk_utf8_chars("h\xc3\xa9llo", 6), 5);
    CHECK_EQ_INT(wk_utf8_chars("\xf0\x9f\x8e\xb8", 4), 1);
    CHECK_EQ_INT(wk_utf8_chars("\xc0\xaf", 2), -1);            /* overlong */
    CHECK_EQ_INT(wk_utf8_chars("\xed\xa0\x80", 3), -1);        /* surrogate */
    CHECK_EQ_INT(wk_utf8_chars("\xf4\x90\x80\x80", 4), -1);    /* > U+10FFFF */
    CHECK_EQ_INT(wk_utf8_chars("\xe2\x82", 2), -1);            /* truncated */
    CHECK_EQ_INT(wk_utf8_chars("", 0), 0);

    CHECK(wk_valid_label("General", 7, 100));
    CHECK(wk_valid_label("Équipe 1", 9, 100));
    CHECK(!wk_valid_label("", 0, 100));
    CHECK(!wk_valid_label("   ", 3, 100));
    CHECK(!wk_valid_label("a\nb", 3, 100));
    CHECK(!wk_valid_label("a\x7f", 2, 100));
    CHECK(!wk_valid_label("a\xc2\x85", 3, 100));             /* C1 control */
    memset(big, 'n', sizeof(big));
    CHECK(wk_valid_label(big, 64, 64));
    CHECK(!wk_valid_label(big, 65, 64));
    CHECK(wk_valid_text("", 0, 10));
    CHECK(wk_valid_text("line 1\nline 2\ttab", 17, 100));
    CHECK(!wk_valid_text("bell\a", 5, 100));

    CHECK(wk_valid_room_kind("chat"));
    CHECK(wk_valid_room_kind("whiteboard"));
    CHECK(wk_valid_room_kind("board"));
    CHECK(!wk_valid_room_kind("Board"));
    CHECK(!wk_valid_room_kind(NULL));

    long long id = 0;
    CHECK(wk_parse_id("12", 2, &id) && id == 12);
    CHECK(wk_parse_id("999999999999999999", 18, &id) && id == 999999999999999999LL);
    CHECK(!wk_parse_id("0", 1, &id));
    CHECK(!wk_parse_id("012", 3, &id));
    CHECK(!wk_parse_id("-1", 2, &id));
    CHECK(!wk_parse_id("1a", 2, &id));
    CHECK(!wk_parse_id("", 0, &id));
    CHECK(!wk_parse_id("1000000000000000000", 19, &id));
}

int main(void)
{
    test_parse();
    test_can();
    test_add();
    test_change();
    test_remove();
    test_validators();
    TEST_MAIN_END();
}
