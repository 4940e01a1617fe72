// common/json: JSON string literals for svedbg's JSON documents (`svedbg ps
// --json`, `svedbg dump --format json`).
//
// Contract: json_quote(s) is one JSON string literal (RFC 8259), quotes
// included, that is pure ASCII whatever `s` holds. `"` and `\` are escaped;
// \n, \t and \r use their short escapes, every other control byte (below
// 0x20) and DEL (0x7f) is \u00XX. Text that is valid UTF-8 (shortest
// form, no surrogates, at most U+10FFFF) is kept as the characters it
// spells, written as \uXXXX (a surrogate pair above U+FFFF). A byte that
// is not part of valid UTF-8 (process and thread names, argv and paths
// need not be UTF-8) is taken as the Latin-1 character of that value,
// \u0080..\u00ff, so nothing is lost or rejected.
#pragma once

#include <string>
#include <string_view>

namespace svedbg {

std::string json_quote(std::string_view s);

}  // namespace svedbg
