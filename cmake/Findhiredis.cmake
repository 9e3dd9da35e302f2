# Findhiredis: the Redis C client. Debian's libhiredis-dev ships a HiredisConfig.cmake that
# sets variables only (no target), so this module defines the imported target
# hiredis::hiredis.
#
#   find_package(hiredis REQUIRED)
#   target_link_libraries(app PRIVATE hiredis::hiredis)
#
# Sets hiredis_FOUND, HIREDIS_INCLUDE_DIR and HIREDIS_LIBRARY.
find_path(HIREDIS_INCLUDE_DIR hiredis/hiredis.h)
find_library(HIREDIS_LIBRARY hiredis)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(hiredis REQUIRED_VARS HIREDIS_LIBRARY HIREDIS_INCLUDE_DIR)

if(hiredis_FOUND AND NOT TARGET hiredis::hiredis)
  add_library(hiredis::hiredis UNKNOWN IMPORTED)
  set_target_properties(hiredis::hiredis PROPERTIES IMPORTED_LOCATION "${HIREDIS_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${HIREDIS_INCLUDE_DIR}")
endif()
mark_as_advanced(HIREDIS_INCLUDE_DIR HIREDIS_LIBRARY)
