/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

/* json-c, loaded on first use (seccomp profiles, images): see dlopen-util.h.
 * Include this instead of <json-c/json.h> and call json_dlopen() before the
 * first json_* call; the calls below then go through the loaded library. */
#include <json-c/json.h>

#include "dlopen-util.h"
#include "log.h"

extern DLSYM_FUNCTION(json_object_array_add);
extern DLSYM_FUNCTION(json_object_array_get_idx);
extern DLSYM_FUNCTION(json_object_array_length);
extern DLSYM_FUNCTION(json_object_get_int64);
extern DLSYM_FUNCTION(json_object_get_object);
extern DLSYM_FUNCTION(json_object_get_string);
extern DLSYM_FUNCTION(json_object_get_uint64);
extern DLSYM_FUNCTION(json_object_is_type);
extern DLSYM_FUNCTION(json_object_new_array);
extern DLSYM_FUNCTION(json_object_new_string);
extern DLSYM_FUNCTION(json_object_object_get_ex);
extern DLSYM_FUNCTION(json_object_put);
extern DLSYM_FUNCTION(json_object_to_json_string_ext);
extern DLSYM_FUNCTION(json_tokener_error_desc);
extern DLSYM_FUNCTION(json_tokener_free);
extern DLSYM_FUNCTION(json_tokener_get_error);
extern DLSYM_FUNCTION(json_tokener_get_parse_end);
extern DLSYM_FUNCTION(json_tokener_new);
extern DLSYM_FUNCTION(json_tokener_parse);
extern DLSYM_FUNCTION(json_tokener_parse_ex);
extern DLSYM_FUNCTION(json_tokener_set_flags);
extern DLSYM_FUNCTION(json_type_to_name);

/* Loads libjson-c.so.5 for FEATURE ("seccomp profiles", "container images"). */
int json_dlopen(const char *feature, Error *e);

/* Function-like, so typeof(json_object_put) and DLSYM_ARG() still name the
 * library's own declarations. */
#define json_object_array_add(...) sym_json_object_array_add(__VA_ARGS__)
#define json_object_array_get_idx(...) sym_json_object_array_get_idx(__VA_ARGS__)
#define json_object_array_length(...) sym_json_object_array_length(__VA_ARGS__)
#define json_object_get_int64(...) sym_json_object_get_int64(__VA_ARGS__)
#define json_object_get_object(...) sym_json_object_get_object(__VA_ARGS__)
#define json_object_get_string(...) sym_json_object_get_string(__VA_ARGS__)
#define json_object_get_uint64(...) sym_json_object_get_uint64(__VA_ARGS__)
#define json_object_is_type(...) sym_json_object_is_type(__VA_ARGS__)
#define json_object_new_array(...) sym_json_object_new_array(__VA_ARGS__)
#define json_object_new_string(...) sym_json_object_new_string(__VA_ARGS__)
#define json_object_object_get_ex(...) sym_json_object_object_get_ex(__VA_ARGS__)
#define json_object_put(...) sym_json_object_put(__VA_ARGS__)
#define json_object_to_json_string_ext(...) sym_json_object_to_json_string_ext(__VA_ARGS__)
#define json_tokener_error_desc(...) sym_json_tokener_error_desc(__VA_ARGS__)
#define json_tokener_free(...) sym_json_tokener_free(__VA_ARGS__)
#define json_tokener_get_error(...) sym_json_tokener_get_error(__VA_ARGS__)
#define json_tokener_get_parse_end(...) sym_json_tokener_get_parse_end(__VA_ARGS__)
#define json_tokener_new(...) sym_json_tokener_new(__VA_ARGS__)
#define json_tokener_parse(...) sym_json_tokener_parse(__VA_ARGS__)
#define json_tokener_parse_ex(...) sym_json_tokener_parse_ex(__VA_ARGS__)
#define json_tokener_set_flags(...) sym_json_tokener_set_flags(__VA_ARGS__)
#define json_type_to_name(...) sym_json_type_to_name(__VA_ARGS__)

static inline void json_object_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_object_putp)
