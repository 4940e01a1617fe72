# Cross toolchain for static arm64 (aarch64) binaries on a Debian x86_64 host.
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
# (tools/cross-build does exactly this). Needs gcc/g++-aarch64-linux-gnu and the
# arm64 -dev packages of the dependencies (`dpkg --add-architecture arm64`,
# tools/install-deps installs them): their headers live in the shared multiarch
# /usr/include, their libraries and CMake/pkg-config files in
# /usr/lib/aarch64-linux-gnu.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(SVEDBG_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${SVEDBG_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${SVEDBG_CROSS_TRIPLE}-g++)

# The cross sysroot (/usr/aarch64-linux-gnu: the toolchain's own libc/libstdc++)
# and / for the multiarch arm64 packages (/usr/lib/aarch64-linux-gnu,
# /usr/include). Programs (pkg-config, python) always come from the host;
# libraries, headers and packages only from the roots.
set(CMAKE_FIND_ROOT_PATH /usr/${SVEDBG_CROSS_TRIPLE} /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Never pick up the host's x86_64 CMake package files or libraries.
list(APPEND CMAKE_IGNORE_PATH /usr/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/cmake)

# pkg-config: only arm64 (and arch-independent) .pc files, with static deps.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${SVEDBG_CROSS_TRIPLE}/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")
set(PKG_CONFIG_ARGN --static CACHE STRING "Extra pkg-config arguments (static linking)")

# Fully static executables: they run in a bare busybox initramfs.
set(CMAKE_EXE_LINKER_FLAGS_INIT -static)
# find_library (and pkg_check_modules' imported targets) must pick lib*.a; the
# platform files reset CMAKE_FIND_LIBRARY_SUFFIXES after this file is read, so
# set it again once project() has enabled the languages.
set(CMAKE_PROJECT_INCLUDE ${CMAKE_CURRENT_LIST_DIR}/static-libraries.cmake)
set(BUILD_SHARED_LIBS OFF CACHE BOOL "")
