/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <stdio.h>

#include "plan.h"

#define CSAND_USAGE_ARGS "[OPTIONS...] [--] COMMAND [ARGS...]"

/* Fills P from ARGV (argv[0] excluded). --help/--version set p->show_*. */
int options_parse(SandboxPlan *p, int argc, char **argv, Error *e);

/* "usage: ARGV0 ..." and every option, grouped. */
void options_print_help(FILE *f, const char *argv0);
