# Included after project() by cmake/aarch64-linux-gnu.cmake (CMAKE_PROJECT_INCLUDE):
# static executables link only static archives.
set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
