# Runs inside `cmake --install` (and CPack), with CMAKE_INSTALL_PREFIX being
# the prefix installed to, once per install component (SVEDBG_COMPONENT):
# writes the files that name that prefix and installs what goes to its
# library directory. Variables come from dist/CMakeLists.txt's install(CODE).
# file(INSTALL) adds DESTDIR and records the files in the install manifest.
set(SVEDBG_PREFIX "${CMAKE_INSTALL_PREFIX}")
if(IS_ABSOLUTE "${SVEDBG_BINDIR_REL}")
  set(SVEDBG_BINDIR "${SVEDBG_BINDIR_REL}")
else()
  set(SVEDBG_BINDIR "${CMAKE_INSTALL_PREFIX}/${SVEDBG_BINDIR_REL}")
endif()
# The library directory: GNUInstallDirs' Debian multiarch rule for the
# prefix installed to (dist/CMakeLists.txt).
if(CMAKE_INSTALL_PREFIX MATCHES "^/usr/?$")
  set(kind USR)
else()
  set(kind OTHER)
endif()
set(SVEDBG_LIBDIR "${SVEDBG_LIBDIR_${kind}}")
set(libdir "${CMAKE_INSTALL_PREFIX}/${SVEDBG_LIBDIR}")
# One staging folder per destination: installs into two places at once
# (a test and CPack) must not write each other's files.
string(MD5 key "$ENV{DESTDIR}|${CMAKE_INSTALL_PREFIX}")
set(staging "${SVEDBG_DIST_BINARY}/install-time/${key}")

if(SVEDBG_COMPONENT STREQUAL "runtime")
  configure_file("${SVEDBG_DIST_SOURCE}/svedbg.service.in" "${staging}/svedbg.service" @ONLY)
  file(INSTALL DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system" TYPE FILE FILES "${staging}/svedbg.service")
  return()
endif()

# dev: libsvedbg.a, the CMake config for this library directory, svedbg.pc.
file(INSTALL DESTINATION "${libdir}" TYPE STATIC_LIBRARY FILES "${SVEDBG_ARCHIVE}")
file(INSTALL DESTINATION "${libdir}/cmake/svedbg" TYPE FILE
     FILES "${SVEDBG_DIST_BINARY}/config-${kind}/svedbgConfig.cmake" "${SVEDBG_DIST_BINARY}/svedbgConfigVersion.cmake")
configure_file("${SVEDBG_DIST_SOURCE}/svedbg.pc.in" "${staging}/svedbg.pc" @ONLY)
file(INSTALL DESTINATION "${libdir}/pkgconfig" TYPE FILE FILES "${staging}/svedbg.pc")

# CPack's CPACK_STRIP_FILES strips the executables; the archive too (its
# debug information is most of its size).
if(CMAKE_INSTALL_DO_STRIP AND SVEDBG_STRIP)
  execute_process(COMMAND "${SVEDBG_STRIP}" --strip-debug "$ENV{DESTDIR}${libdir}/libsvedbg.a" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "strip --strip-debug libsvedbg.a failed: ${rc}")
  endif()
endif()
