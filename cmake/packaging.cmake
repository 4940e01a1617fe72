# CPack: Debian packages of everything `cmake --install` installs, prefix
# /usr (docs/install.md), one per install component (dist/CMakeLists.txt):
# svedbg (component runtime: binaries, gdb extensions, man page, systemd
# units) and svedbg-dev (component dev: libsvedbg.a in the multiarch library
# directory, its headers, CMake config, svedbg.pc). Build them with
# `cpack -G DEB` in the build tree (or the `package` target);
# tests/install/check-deb builds and inspects both.
set(CPACK_PACKAGE_NAME svedbg)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "svedbg")
set(CPACK_PACKAGE_CONTACT "svedbg developers <svedbg@localhost>")
# No CPACK_PACKAGE_DESCRIPTION_SUMMARY: CPack would put that one line above
# both packages' descriptions; each description's first line is its summary.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

# svedbg: the daemon.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME svedbg)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION devel)
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
    "GDB remote stub and introspection daemon for arm64 KVM guests with SVE
svedbg reads each vCPU's SVE state through the KVM register API and serves it
to gdb-multiarch or lldb as a GDB remote stub: a running VMM attached by pid,
a VMM that links libsvedbg, a saved dump, or a built-in simulated guest.
Includes the systemd units svedbg.socket and svedbg.service (socket
activation) and the gdb extensions. libsvedbg is in svedbg-dev.")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_RECOMMENDS "gdb-multiarch")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SUGGESTS "lldb")
# The group of svedbg.socket's users is created at configure (dist/debian/).
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/dist/debian/postinst
                                               ${PROJECT_SOURCE_DIR}/dist/debian/prerm)

# svedbg-dev: libsvedbg for VMMs. Its header uses fmt (libfmt-dev); the
# archive needs no shared library of its own, and not the daemon.
set(CPACK_DEBIAN_DEV_PACKAGE_NAME svedbg-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_DEV_DESCRIPTION
    "libsvedbg: a GDB remote stub inside a VMM, for arm64 KVM guests with SVE
libsvedbg.a serves a VMM's own vCPUs (SVE registers at each vCPU's vector
length) to gdb-multiarch or lldb from inside the VMM process. One static
archive with its C++20 headers, a CMake package config (find_package(svedbg),
target svedbg::lib) and a pkg-config file (svedbg.pc).")
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libfmt-dev (>= 9)")
set(CPACK_DEBIAN_DEV_PACKAGE_SUGGESTS "svedbg (= ${PROJECT_VERSION}), gdb-multiarch")
if(CMAKE_CROSSCOMPILING)
  # Static arm64 binaries: no shared library dependencies to compute.
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64")
    set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE arm64)
  endif()
else()
  # svedbg's Depends: from the binaries' shared libraries (libfmt9, libelf1, libstdc++6, libc6...).
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
endif()
include(CPack)
