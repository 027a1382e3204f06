/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include "json-util.h"

DLSYM_FUNCTION(json_object_array_add);
DLSYM_FUNCTION(json_object_array_get_idx);
DLSYM_FUNCTION(json_object_array_length);
DLSYM_FUNCTION(json_object_get_int64);
DLSYM_FUNCTION(json_object_get_object);
DLSYM_FUNCTION(json_object_get_string);
DLSYM_FUNCTION(json_object_get_uint64);
DLSYM_FUNCTION(json_object_is_type);
DLSYM_FUNCTION(json_object_new_array);
DLSYM_FUNCTION(json_object_new_string);
DLSYM_FUNCTION(json_object_object_get_ex);
DLSYM_FUNCTION(json_object_put);
DLSYM_FUNCTION(json_object_to_json_string_ext);
DLSYM_FUNCTION(json_tokener_error_desc);
DLSYM_FUNCTION(json_tokener_free);
DLSYM_FUNCTION(json_tokener_get_error);
DLSYM_FUNCTION(json_tokener_get_parse_end);
DLSYM_FUNCTION(json_tokener_new);
DLSYM_FUNCTION(json_tokener_parse);
DLSYM_FUNCTION(json_tokener_parse_ex);
DLSYM_FUNCTION(json_tokener_set_flags);
DLSYM_FUNCTION(json_type_to_name);

int json_dlopen(const char *feature, Error *e) {
        static void *dl;
        static const DlSymbol symbols[] = {
                DLSYM_ARG(json_object_array_add),
                DLSYM_ARG(json_object_array_get_idx),
                DLSYM_ARG(json_object_array_length),
                DLSYM_ARG(json_object_get_int64),
                DLSYM_ARG(json_object_get_object),
                DLSYM_ARG(json_object_get_string),
                DLSYM_ARG(json_object_get_uint64),
                DLSYM_ARG(json_object_is_type),
                DLSYM_ARG(json_object_new_array),
                DLSYM_ARG(json_object_new_string),
                DLSYM_ARG(json_object_object_get_ex),
                DLSYM_ARG(json_object_put),
                DLSYM_ARG(json_object_to_json_string_ext),
                DLSYM_ARG(json_tokener_error_desc),
                DLSYM_ARG(json_tokener_free),
                DLSYM_ARG(json_tokener_get_error),
                DLSYM_ARG(json_tokener_get_parse_end),
                DLSYM_ARG(json_tokener_new),
                DLSYM_ARG(json_tokener_parse),
                DLSYM_ARG(json_tokener_parse_ex),
                DLSYM_ARG(json_tokener_set_flags),
                DLSYM_ARG(json_type_to_name),
        };
        return dlopen_symbols(&dl, "libjson-c.so.5", feature, symbols, ELEMENTSOF(symbols), e);
}
