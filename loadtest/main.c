/*
 * main.c — chorus-loadtest: parses the command line and hands over to the
 * parent process (lt_parent.c). See docs/loadtest.md.
 */
#include <stdio.h>

#include "lt_config.h"
#include "lt_parent.h"

int
main(int argc, char **argv)
{
    static lt_config cfg;
    char err[512];
    int rc = lt_config_parse(argc, argv, &cfg, stdout, err, sizeof(err));
    if (rc > 0) return 0;
    if (rc < 0) {
        fprintf(stderr, "chorus-loadtest: %s\n", err);
        return 2;
    }
    return lt_parent_run(&cfg);
}
