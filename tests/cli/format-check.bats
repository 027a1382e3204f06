#!/usr/bin/env bats
# Every .c and .h is formatted as .clang-format says (issue 16): run
# tools/format.sh to format, and commit the result.

load ../lib/common

@test "clang-format: every source file is formatted" {
        require_feature clang-format-14 command -v clang-format-14
        run "$CSAND_SOURCE_DIR/tools/format.sh" --check
        [ "$status" -eq 0 ] || fail "not formatted (run tools/format.sh): $output"
}

@test "clang-format: the check finds a file that is not formatted" {
        require_feature clang-format-14 command -v clang-format-14
        local tree="$BATS_TEST_TMPDIR/tree"
        mkdir -p "$tree/tools" "$tree/utils"
        cp "$CSAND_SOURCE_DIR/tools/format.sh" "$tree/tools/"
        cp "$CSAND_SOURCE_DIR/.clang-format" "$tree/"
        printf 'int f(void) {\n  return (int)1;\n}\n' >"$tree/utils/bad.c"
        run "$tree/tools/format.sh" --check
        assert_failure 1
        assert_output "utils/bad.c"
}
