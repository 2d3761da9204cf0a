/* The configuration: db_host's node list, and a file read over the defaults. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/config.h" /* not the build's config.h */

static size_t nodes_of(const char *hosts, unsigned long port, struct config_node *nodes)
{
    struct config c;
    config_defaults(&c);
    snprintf(c.db_host, sizeof(c.db_host), "%s", hosts);
    c.db_port = port;
    return config_db_nodes(&c, nodes);
}

START_TEST(one_node)
{
    struct config_node n[CONFIG_NODES_MAX];
    ck_assert_uint_eq(nodes_of("127.0.0.1", 3306, n), 1);
    ck_assert_str_eq(n[0].host, "127.0.0.1");
    ck_assert_uint_eq(n[0].port, 3306);
    ck_assert_uint_eq(nodes_of("db.example.com:3307", 3306, n), 1);
    ck_assert_str_eq(n[0].host, "db.example.com");
    ck_assert_uint_eq(n[0].port, 3307);
    ck_assert_uint_eq(nodes_of("[::1]:3310", 3306, n), 1);
    ck_assert_str_eq(n[0].host, "::1");
    ck_assert_uint_eq(n[0].port, 3310);
    ck_assert_uint_eq(nodes_of("[::1]", 3306, n), 1);
    ck_assert_uint_eq(n[0].port, 3306);
}
END_TEST

START_TEST(several_nodes)
{
    struct config_node n[CONFIG_NODES_MAX];
    ck_assert_uint_eq(nodes_of("127.0.0.1:13301, 127.0.0.1:13302 ,127.0.0.1", 3306, n), 3);
    ck_assert_str_eq(n[1].host, "127.0.0.1");
    ck_assert_uint_eq(n[0].port, 13301);
    ck_assert_uint_eq(n[1].port, 13302);
    ck_assert_uint_eq(n[2].port, 3306);
    char many[1024] = "";
    for (int i = 0; i < CONFIG_NODES_MAX; i++)
        strcat(many, i ? ",h" : "h");
    ck_assert_uint_eq(nodes_of(many, 3306, n), CONFIG_NODES_MAX);
    strcat(many, ",h");
    ck_assert_uint_eq(nodes_of(many, 3306, n), 0);
}
END_TEST

START_TEST(malformed_lists)
{
    struct config_node n[CONFIG_NODES_MAX];
    static const char *const bad[] = {"",        ",",     "a,,b", "a,",   ":3306",  "a:",   "a:0",
                                      "a:65536", "a:12x", "a:-1", "[::1", "[::1]x", "[]:1", " , a"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(nodes_of(bad[i], 3306, n) == 0, "'%s' should be refused", bad[i]);
}
END_TEST

START_TEST(a_file_with_a_bad_node_list_is_refused)
{
    char path[] = "/tmp/check_config_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs("db_host = a:1, b:2\n", f);
    fclose(f);
    struct config c;
    char err[512];
    ck_assert_int_eq(config_load(path, &c, err, sizeof(err)), 0);
    struct config_node n[CONFIG_NODES_MAX];
    ck_assert_uint_eq(config_db_nodes(&c, n), 2);
    f = fopen(path, "w");
    fputs("db_host = a:1,,b\n", f);
    fclose(f);
    ck_assert_int_eq(config_load(path, &c, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "db_host"));
    unlink(path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, one_node);
    tcase_add_test(tc, several_nodes);
    tcase_add_test(tc, malformed_lists);
    tcase_add_test(tc, a_file_with_a_bad_node_list_is_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
