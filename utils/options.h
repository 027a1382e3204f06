/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <stdio.h>

#include "plan.h"

#define CSAND_USAGE_ARGS "[OPTIONS...] [--] COMMAND [ARGS...]"

/* What the command line asks of csand besides a sandbox: commands are not
 * part of the plan. */
typedef enum OptionsCommand {
        OPTIONS_RUN,
        OPTIONS_HELP,    /* --help (wins over --version) */
        OPTIONS_VERSION, /* --version */
} OptionsCommand;

/* Fills P from ARGV (argv[0] excluded); the command into *RET_COMMAND (may
 * be NULL). */
int options_parse(SandboxPlan *p, int argc, char **argv, OptionsCommand *ret_command, Error *e);

/* "usage: ARGV0 ..." and every option, grouped. */
void options_print_help(FILE *f, const char *argv0);
