# Minimal containers often ship without /etc/services, so /service carries a
# built-in copy of the build machine's services database as a fallback.
set(NETDIAG_SERVICES_DATABASE "/etc/services" CACHE FILEPATH
    "services(5) database compiled into the built-in table")
set(NETDIAG_SERVICES_TABLE_SOURCE ${CMAKE_BINARY_DIR}/generated/services_table.c)
if(NOT EXISTS ${NETDIAG_SERVICES_DATABASE})
  message(WARNING "${NETDIAG_SERVICES_DATABASE} not found (install netbase): "
                  "the built-in services table will be empty")
  set(services_depends "")
else()
  set(services_depends ${NETDIAG_SERVICES_DATABASE})
endif()
add_custom_command(
  OUTPUT ${NETDIAG_SERVICES_TABLE_SOURCE}
  COMMAND ${CMAKE_COMMAND} -DINPUT=${NETDIAG_SERVICES_DATABASE}
          -DOUTPUT=${NETDIAG_SERVICES_TABLE_SOURCE}
          -P ${CMAKE_SOURCE_DIR}/cmake/gen_services_table.cmake
  DEPENDS ${services_depends} ${CMAKE_SOURCE_DIR}/cmake/gen_services_table.cmake
  COMMENT "Generating the built-in services table from ${NETDIAG_SERVICES_DATABASE}")
