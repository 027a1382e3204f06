/* SPDX-License-Identifier: LGPL-2.0-or-later */
/* log_escape(): what csand prints from outside can't drive a terminal. */
#include <stdlib.h>

#include "tap.h"
#include "utils/log.h"

static void check(const char *in, const char *want, const char *what) {
        char *got = log_escape(in);
        if (!CHECK(got && strcmp(got, want) == 0, "%s", what))
                tap_diag("got \"%s\", expected \"%s\"", got ? got : "(null)", want);
        free(got);
}

int main(void) {
        check("/usr/bin/plain path", "/usr/bin/plain path", "printable ASCII is kept");
        check("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7",
              "valid UTF-8 (2, 3 and 4 bytes) is kept");
        check("a\x1b[31mred\x1b]0;title\x07", "a\\x1b[31mred\\x1b]0;title\\x07", "ESC and BEL are escaped");
        check("line1\nline2\r\tx", "line1\\x0aline2\\x0d\\x09x", "newline, CR and tab are escaped");
        check("del\x7f", "del\\x7f", "DEL is escaped");
        check("c1 \xc2\x9b"
              "2J \xc2\x85",
              "c1 \\xc2\\x9b2J \\xc2\\x85", "UTF-8 C1 controls (CSI, NEL) are escaped");
        check("raw \x9b"
              "2J",
              "raw \\x9b2J", "a lone 8-bit CSI is escaped");
        check("\xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82", "\\xc0\\xaf \\xed\\xa0\\x80 \\xf4\\x90\\x80\\x80 \\xe2\\x82",
              "overlong, surrogate, beyond U+10FFFF and truncated sequences are escaped");
        check("\xc2\xa0nbsp", "\xc2\xa0nbsp", "U+00A0, just past C1, is kept");
        check("", "", "the empty string");

        char small[8];
        CHECK_UINT(log_escape_buf("ab\x1b"
                                  "cdef",
                                  small, sizeof(small)),
                   7, "truncation keeps whole escapes");
        CHECK(strcmp(small, "ab\\x1bc") == 0, "truncated text: \"%s\"", small);
        CHECK_UINT(log_escape_buf("\x1b\x1b", small, 4), 0, "an escape that does not fit is left out");
        return tap_done();
}
