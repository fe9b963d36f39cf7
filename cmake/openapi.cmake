# /openapi.yaml and /openapi.json are compiled in from the one source,
# openapi/openapi.yaml; the JSON form is made here, at build time.
find_program(NETDIAG_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT NETDIAG_PYTHON)
  find_program(NETDIAG_PYTHON NAMES python3 REQUIRED)
endif()
execute_process(COMMAND ${NETDIAG_PYTHON} -c "import yaml" RESULT_VARIABLE yaml_missing
                OUTPUT_QUIET ERROR_QUIET)
if(yaml_missing)
  message(FATAL_ERROR "${NETDIAG_PYTHON} cannot import yaml: install python3-yaml")
endif()
set(NETDIAG_OPENAPI_SOURCE ${CMAKE_BINARY_DIR}/generated/openapi_document.c)
add_custom_command(
  OUTPUT ${NETDIAG_OPENAPI_SOURCE}
  COMMAND ${NETDIAG_PYTHON} ${CMAKE_SOURCE_DIR}/cmake/embed_openapi.py
          ${CMAKE_SOURCE_DIR}/openapi/openapi.yaml ${NETDIAG_OPENAPI_SOURCE}
  DEPENDS ${CMAKE_SOURCE_DIR}/openapi/openapi.yaml ${CMAKE_SOURCE_DIR}/cmake/embed_openapi.py
          ${CMAKE_SOURCE_DIR}/cmake/embed_text.py
  COMMENT "Embedding openapi/openapi.yaml and its JSON form")

# /fleet.html, compiled in the same way.
set(NETDIAG_FLEET_PAGE_SOURCE ${CMAKE_BINARY_DIR}/generated/fleet_page.c)
add_custom_command(
  OUTPUT ${NETDIAG_FLEET_PAGE_SOURCE}
  COMMAND ${NETDIAG_PYTHON} ${CMAKE_SOURCE_DIR}/cmake/embed_text.py
          ${CMAKE_SOURCE_DIR}/src/http/fleet.html ${NETDIAG_FLEET_PAGE_SOURCE} nd_fleet_page
  DEPENDS ${CMAKE_SOURCE_DIR}/src/http/fleet.html ${CMAKE_SOURCE_DIR}/cmake/embed_text.py
  COMMENT "Embedding src/http/fleet.html")
