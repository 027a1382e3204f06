#!/usr/bin/env bats
# csand's modules depend on each other without a cycle (issue 16;
# ARCHITECTURE.md, "Modules"): tools/check-module-graph.py reads which
# module includes which header and fails on any strongly connected
# component of more than one module. A failure here names the cycle: break
# it by moving the shared part down (a settings struct, a data-only header
# like utils/mount-op.h, a low-level layer like utils/mount-util.c) or the
# decision up (into plan.c or sandbox.c).

load ../lib/common

check_graph() {
        python3 "$CSAND_SOURCE_DIR/tools/check-module-graph.py" "$@"
}

@test "module graph: no cycle between csand's modules" {
        run check_graph "$CSAND_SOURCE_DIR"
        assert_success
        assert_output ""
}

@test "module graph: the check finds a cycle when there is one" {
        # A copy of the tree's shape with one edge added back: plan.h
        # including registry.h closes plan -> registry -> plan.
        local tree="$BATS_TEST_TMPDIR/tree"
        mkdir -p "$tree/utils"
        cp "$CSAND_SOURCE_DIR"/utils/*.[ch] "$tree/utils/"
        cp "$CSAND_SOURCE_DIR/sandbox.c" "$tree/"
        echo '#include "registry.h"' >>"$tree/utils/plan.h"
        run check_graph "$tree"
        assert_failure 1
        assert_output --partial "check-module-graph: cycle between"
        assert_output --partial "plan -> "
        assert_output --partial "registry"
}
