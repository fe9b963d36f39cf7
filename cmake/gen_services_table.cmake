# cmake -DINPUT=/etc/services -DOUTPUT=services_table.c -P gen_services_table.cmake
# Turns services(5) lines ("name port/proto alias... # comment") into the C
# table declared in src/core/services_table.h.
set(rows "")
set(count 0)
if(EXISTS ${INPUT})
  file(STRINGS ${INPUT} lines)
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "#.*$" "" line "${line}")
    string(STRIP "${line}" line)
    if(line STREQUAL "")
      continue()
    endif()
    string(REGEX REPLACE "[ \t]+" ";" fields "${line}")
    list(LENGTH fields nfields)
    if(nfields LESS 2)
      continue()
    endif()
    list(GET fields 0 name)
    list(GET fields 1 port_proto)
    if(NOT port_proto MATCHES "^([0-9]+)/(tcp|udp)$")
      continue()
    endif()
    set(port ${CMAKE_MATCH_1})
    set(proto ${CMAKE_MATCH_2})
    if(NOT name MATCHES "^[A-Za-z0-9._+-]+$" OR port GREATER 65535)
      continue()
    endif()
    set(aliases "")
    set(nalias 0)
    if(nfields GREATER 2)
      math(EXPR last "${nfields} - 1")
      foreach(i RANGE 2 ${last})
        list(GET fields ${i} alias)
        if(nalias LESS 4 AND alias MATCHES "^[A-Za-z0-9._+-]+$")
          string(APPEND aliases "\"${alias}\", ")
          math(EXPR nalias "${nalias} + 1")
        endif()
      endforeach()
    endif()
    string(APPEND rows "    {\"${name}\", ${port}, \"${proto}\", {${aliases}NULL}},\n")
    math(EXPR count "${count} + 1")
  endforeach()
endif()
file(WRITE ${OUTPUT}.tmp
"/* Generated from ${INPUT} by cmake/gen_services_table.cmake; do not edit. */
#include <stddef.h>

#include \"core/services_table.h\"

const struct nd_services_row nd_services_table[] = {
${rows}    {NULL, 0, NULL, {NULL}},
};

const size_t nd_services_table_count = ${count};
")
file(RENAME ${OUTPUT}.tmp ${OUTPUT})
