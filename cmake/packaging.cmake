# CPack: a Debian package of everything `cmake --install` installs, prefix
# /usr (docs/install.md). Build it with `cpack -G DEB` in the build tree (or
# the `package` target); tests/install/check-deb builds and inspects one.
set(CPACK_PACKAGE_NAME svedbg)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "svedbg")
set(CPACK_PACKAGE_CONTACT "svedbg developers <svedbg@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "GDB remote stub and introspection daemon for arm64 KVM guests with SVE")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
# The long description; CPack puts the summary above it.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "svedbg reads each vCPU's SVE state through the KVM register API and serves it
to gdb-multiarch or lldb as a GDB remote stub: a running VMM attached by pid,
a VMM that links libsvedbg, a saved dump, or a built-in simulated guest.
Includes the systemd units svedbg.socket and svedbg.service (socket
activation), the gdb extensions, and libsvedbg.a with its headers, CMake
package config and pkg-config file.")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "gdb-multiarch")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "lldb, libfmt-dev")
# The group of svedbg.socket's users is created at configure (dist/debian/).
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/dist/debian/postinst
                                       ${PROJECT_SOURCE_DIR}/dist/debian/prerm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
if(CMAKE_CROSSCOMPILING)
  # Static arm64 binaries: no shared library dependencies to compute.
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64")
    set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE arm64)
  endif()
else()
  # Depends: from the binaries' shared libraries (libfmt9, libelf1, libstdc++6, libc6...).
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
endif()
include(CPack)
